package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func feed(t *testing.T, events ...event) (*run, string) {
	t.Helper()
	var out bytes.Buffer
	r := &run{out: &out, outputs: map[string][]string{}, coverage: map[string]string{}}
	for _, e := range events {
		// Round-trip through JSON as go test writes it.
		b, _ := json.Marshal(e)
		var back event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		r.handle(back)
	}
	r.summary(0)
	return r, out.String()
}

func TestSummaryListsSkipsWithReasons(t *testing.T) {
	const pkg = "github.com/gatehouse-auth/gatehouse/integration"
	r, out := feed(t,
		event{Action: "run", Package: pkg, Test: "TestBrowser"},
		event{Action: "output", Package: pkg, Test: "TestBrowser", Output: "=== RUN   TestBrowser\n"},
		event{Action: "output", Package: pkg, Test: "TestBrowser", Output: "    browser_harness_test.go:60: no Chromium at /usr/bin/chromium\n"},
		event{Action: "output", Package: pkg, Test: "TestBrowser", Output: "--- SKIP: TestBrowser (0.00s)\n"},
		event{Action: "skip", Package: pkg, Test: "TestBrowser"},
		event{Action: "pass", Package: pkg, Test: "TestFlow", Elapsed: 1},
		event{Action: "output", Package: pkg, Output: "coverage: 81.5% of statements\n"},
		event{Action: "pass", Package: pkg, Elapsed: 2},
	)
	if r.failed {
		t.Error("a run with a skip and a pass reported failure")
	}
	for _, want := range []string{
		"SKIP integration TestBrowser: browser_harness_test.go:60: no Chromium at /usr/bin/chromium",
		"ok  \t" + pkg + "\t2.0s\tcoverage: 81.5% of statements",
		"1 skipped test(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestSummaryPrintsFailures(t *testing.T) {
	const pkg = "example.com/p"
	r, out := feed(t,
		event{Action: "output", Package: pkg, Test: "TestA", Output: "=== RUN   TestA\n"},
		event{Action: "output", Package: pkg, Test: "TestA/sub", Output: "    a_test.go:9: got 1, want 2\n"},
		event{Action: "fail", Package: pkg, Test: "TestA/sub"},
		event{Action: "fail", Package: pkg, Test: "TestA"},
		event{Action: "fail", Package: pkg, Elapsed: 1},
		event{Action: "build-fail", ImportPath: "example.com/q [example.com/q.test]"},
	)
	if !r.failed {
		t.Error("failures not reported")
	}
	for _, want := range []string{"--- FAIL: TestA (example.com/p)", "a_test.go:9: got 1, want 2", "FAIL\texample.com/p", "[build failed]", "no test was skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "got 1, want 2") != 1 {
		t.Errorf("a subtest's output was printed more than once:\n%s", out)
	}
}

func TestCoverageMergesBinaries(t *testing.T) {
	// Two test binaries report the same blocks; a block either ran
	// counts as covered once.
	profile := `mode: atomic
example.com/m/a/a.go:1.1,2.2 3 0
example.com/m/a/a.go:3.1,4.2 1 5
example.com/m/b/b.go:1.1,2.2 2 0
example.com/m/a/a.go:1.1,2.2 3 2
example.com/m/a/a.go:3.1,4.2 1 0
example.com/m/b/b.go:1.1,2.2 2 0
`
	blocks, err := readProfile(strings.NewReader(profile))
	if err != nil {
		t.Fatal(err)
	}
	cov := packageCoverage(blocks)
	if got := cov["example.com/m/a"]; got != [2]int{4, 4} {
		t.Errorf("package a: %v, want 4 of 4", got)
	}
	if got := cov["example.com/m/b"]; got != [2]int{0, 2} {
		t.Errorf("package b: %v, want 0 of 2", got)
	}
	if _, err := readProfile(strings.NewReader("mode: set\nbroken\n")); err == nil {
		t.Error("a malformed profile was accepted")
	}
}
