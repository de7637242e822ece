package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// block is one line of a coverage profile: a source range, its
// statement count, and whether any test ran it.
type block struct {
	stmts   int
	covered bool
}

// readProfile merges a profile's blocks: with -coverpkg every test binary
// reports every package, so the same block appears once per binary.
func readProfile(r io.Reader) (map[string]block, error) {
	blocks := map[string]block{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "mode:") {
			continue
		}
		// file.go:12.3,14.5 2 1
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("coverage profile: malformed line %q", line)
		}
		stmts, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("coverage profile: malformed line %q", line)
		}
		b := blocks[fields[0]]
		b.stmts = stmts
		b.covered = b.covered || count > 0
		blocks[fields[0]] = b
	}
	return blocks, sc.Err()
}

// packageCoverage sums covered and total statements per package.
func packageCoverage(blocks map[string]block) map[string][2]int {
	out := map[string][2]int{}
	for pos, b := range blocks {
		file, _, _ := strings.Cut(pos, ":")
		pkg := path.Dir(file)
		c := out[pkg]
		c[1] += b.stmts
		if b.covered {
			c[0] += b.stmts
		}
		out[pkg] = c
	}
	return out
}

func printCoverage(w io.Writer, profile string) error {
	f, err := os.Open(profile)
	if err != nil {
		return err
	}
	defer f.Close()
	blocks, err := readProfile(f)
	if err != nil {
		return err
	}
	cov := packageCoverage(blocks)
	pkgs := make([]string, 0, len(cov))
	for p := range cov {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	fmt.Fprintf(w, "\nstatement coverage by package (tests of every listed package count):\n")
	var covered, total int
	for _, p := range pkgs {
		c := cov[p]
		covered, total = covered+c[0], total+c[1]
		fmt.Fprintf(w, "  %5.1f%%  %s\n", percent(c[0], c[1]), shortPkg(p))
	}
	fmt.Fprintf(w, "  %5.1f%%  total\n", percent(covered, total))
	return nil
}

func percent(covered, total int) float64 {
	if total == 0 {
		return 100
	}
	return 100 * float64(covered) / float64(total)
}
