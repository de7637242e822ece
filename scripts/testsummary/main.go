// Command testsummary reads `go test -json` events on standard input and
// prints what a person needs from a test run: one line per package (with
// its coverage when measured), the whole output of every failed test or
// package, and, at the end, every skipped test with the reason it gave,
// so a missing PostgreSQL or Chromium is visible outside CI too. It exits
// non-zero when anything failed.
//
//	go test -json ./... | go run ./scripts/testsummary
//
// With -coverprofile it also reads a coverage profile written with
// -coverpkg (every test binary reporting on every listed package) and
// prints each package's statement coverage, counting a statement covered
// when any package's tests ran it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// event is one line of test2json output (go doc test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string // build-output, build-fail
}

// maxLines bounds what is kept of one test's output.
const maxLines = 2000

type run struct {
	out      io.Writer
	outputs  map[string][]string // package + "\x00" + test -> output lines
	skipped  []string
	coverage map[string]string
	failed   bool
	slowest  []timing
}

type timing struct {
	name    string
	elapsed float64
}

var coverageRE = regexp.MustCompile(`coverage: ([0-9.]+% of statements)`)

func main() {
	slow := flag.Int("slowest", 0, "also list the n slowest top-level tests")
	profile := flag.String("coverprofile", "", "print per-package coverage from this profile (after the tests)")
	flag.Parse()
	r := &run{out: os.Stdout, outputs: map[string][]string{}, coverage: map[string]string{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			// Not an event (go vet output, a crash before test2json):
			// pass it on.
			fmt.Fprintln(r.out, string(line))
			continue
		}
		r.handle(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	r.summary(*slow)
	if *profile != "" && !r.failed {
		if err := printCoverage(r.out, *profile); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
	}
	if r.failed {
		os.Exit(1)
	}
}

func key(pkg, test string) string { return pkg + "\x00" + test }

func (r *run) handle(e event) {
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.out, e.Output)
	case "build-fail":
		r.failed = true
		fmt.Fprintf(r.out, "FAIL\t%s [build failed]\n", e.ImportPath)
	case "output":
		k := key(e.Package, e.Test)
		if m := coverageRE.FindStringSubmatch(e.Output); m != nil && e.Test == "" {
			r.coverage[e.Package] = m[1]
		}
		if lines := r.outputs[k]; len(lines) < maxLines {
			r.outputs[k] = append(lines, e.Output)
		}
	case "skip":
		if e.Test != "" {
			r.skipped = append(r.skipped, fmt.Sprintf("%s %s: %s", shortPkg(e.Package), e.Test, r.reason(e)))
		} else {
			fmt.Fprintf(r.out, "?   \t%s\t[no test files]\n", e.Package)
		}
		delete(r.outputs, key(e.Package, e.Test))
	case "pass":
		if e.Test == "" {
			fmt.Fprintf(r.out, "ok  \t%s\t%.1fs%s\n", e.Package, e.Elapsed, r.coverageNote(e.Package))
		} else if !strings.Contains(e.Test, "/") {
			r.slowest = append(r.slowest, timing{shortPkg(e.Package) + " " + e.Test, e.Elapsed})
		}
		delete(r.outputs, key(e.Package, e.Test))
	case "fail":
		r.failed = true
		k := key(e.Package, e.Test)
		if e.Test == "" {
			// The package's own output: a panic, a timeout, TestMain.
			fmt.Fprint(r.out, strings.Join(r.outputs[k], ""))
			fmt.Fprintf(r.out, "FAIL\t%s\t%.1fs\n", e.Package, e.Elapsed)
			delete(r.outputs, k)
		} else if !strings.Contains(e.Test, "/") {
			// A failed subtest's output is kept for its parent, which
			// prints it with its own, once.
			fmt.Fprintf(r.out, "--- FAIL: %s (%s)\n", e.Test, shortPkg(e.Package))
			fmt.Fprint(r.out, strings.Join(r.collect(e.Package, e.Test), ""))
		}
	}
}

// collect returns the output of test and its subtests, in order of arrival
// per test.
func (r *run) collect(pkg, test string) []string {
	var keys []string
	prefix := key(pkg, test)
	for k := range r.outputs {
		if k == prefix || strings.HasPrefix(k, prefix+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, r.outputs[k]...)
		delete(r.outputs, k)
	}
	return out
}

// reason is what a skipped test said, without the framework's lines.
func (r *run) reason(e event) string {
	var said []string
	for _, l := range r.outputs[key(e.Package, e.Test)] {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		said = append(said, t)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " / ")
}

func (r *run) coverageNote(pkg string) string {
	if c, ok := r.coverage[pkg]; ok {
		return "\tcoverage: " + c
	}
	return ""
}

func (r *run) summary(slow int) {
	if slow > 0 && len(r.slowest) > 0 {
		slices.SortFunc(r.slowest, func(a, b timing) int {
			switch {
			case a.elapsed > b.elapsed:
				return -1
			case a.elapsed < b.elapsed:
				return 1
			}
			return 0
		})
		fmt.Fprintf(r.out, "\nslowest tests:\n")
		for _, t := range r.slowest[:min(slow, len(r.slowest))] {
			fmt.Fprintf(r.out, "  %6.1fs  %s\n", t.elapsed, t.name)
		}
	}
	if len(r.skipped) == 0 {
		fmt.Fprintf(r.out, "\nno test was skipped\n")
		return
	}
	fmt.Fprintf(r.out, "\n%d skipped test(s):\n", len(r.skipped))
	for _, s := range r.skipped {
		fmt.Fprintf(r.out, "  SKIP %s\n", s)
	}
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/gatehouse-auth/gatehouse/")
}
