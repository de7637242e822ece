package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// update rewrites the expected JSON of the Caddyfile adaptation tests
// with what the adapter produces now, to review with git diff:
//
//	go test ./caddymodule -run TestCaddyfileAdapt -update
var update = flag.Bool("update", false, "rewrite the expected JSON in testdata/caddyfile_adapt")

// adaptSeparator divides a test file's Caddyfile from its expected JSON,
// as in Caddy's own caddytest/integration/caddyfile_adapt.
const adaptSeparator = "----------"

// TestCaddyfileAdapt adapts each testdata/caddyfile_adapt/*.caddyfiletest
// Caddyfile to JSON and compares it with the file's expected JSON, so
// that every change to what the gatehouse global option and the
// authserver and authgate directives produce shows in review. The
// Caddyfiles must be formatted (caddy fmt): any adapter warning fails.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files (%v)", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "\n"+adaptSeparator+"\n")
			if !ok {
				t.Fatalf("no %q line between the Caddyfile and the JSON", adaptSeparator)
			}
			input = strings.TrimSpace(input) + "\n"
			out, warnings, err := adapter.Adapt([]byte(input), map[string]any{"filename": file})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w.String())
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			if *update {
				if err := os.WriteFile(file, []byte(input+adaptSeparator+"\n"+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want = strings.TrimSpace(want); got != want {
				t.Errorf("adapted JSON differs from the expected (run with -update to accept it)\n%s", firstDifference(want, got))
			}
		})
	}
}

// firstDifference shows the first line where got departs from want.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}
