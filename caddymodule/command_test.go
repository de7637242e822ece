package caddymodule

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// runHashPasswordCommand runs `caddy gatehouse hash-password args...` as
// caddy wires it (the registered CobraFunc under a root that, like caddy's,
// silences usage on errors), with stdin fed through a real pipe (not a
// terminal), as when a script pipes a password.
func runHashPasswordCommand(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		_, _ = w.WriteString(stdin)
		w.Close()
	}()
	gh, ok := caddycmd.Commands()["gatehouse"]
	if !ok {
		t.Fatal("the gatehouse command is not registered with caddy")
	}
	sub := &cobra.Command{Use: gh.Name}
	gh.CobraFunc(sub)
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	root.AddCommand(sub)
	var out, errOut bytes.Buffer
	root.SetIn(r)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"gatehouse", "hash-password"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

var cheapFlags = []string{"--memory", "64", "--iterations", "1", "--parallelism", "1"}

func TestHashPasswordCommand(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		args     []string
		password string // what the printed hash must match
		params   identity.Argon2idParams
	}{
		{"line", "s3cret\n", cheapFlags, "s3cret", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"no newline", "s3cret", cheapFlags, "s3cret", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"CRLF", "s3cret\r\n", cheapFlags, "s3cret", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"first line only", "first\nsecond\n", cheapFlags, "first", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"spaces kept", "  two words  \n", cheapFlags, "  two words  ", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"unicode", "pässwörd 日本\n", cheapFlags, "pässwörd 日本", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"flags honoured", "s3cret\n", []string{"--memory", "256", "--iterations", "3", "--parallelism", "4"}, "s3cret",
			identity.Argon2idParams{Memory: 256, Iterations: 3, Parallelism: 4}},
		{"flag=value form", "s3cret\n", []string{"--memory=96", "--iterations=2", "--parallelism=2"}, "s3cret",
			identity.Argon2idParams{Memory: 96, Iterations: 2, Parallelism: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runHashPasswordCommand(t, tc.stdin, tc.args...)
			if err != nil {
				t.Fatalf("hash-password: %v (stderr %q)", err, stderr)
			}
			phc, ok := strings.CutSuffix(stdout, "\n")
			if !ok || strings.Contains(phc, "\n") {
				t.Fatalf("stdout %q is not one line", stdout)
			}
			if strings.Contains(stdout+stderr, tc.password) {
				t.Errorf("the password was echoed")
			}
			h, err := identity.ParsePasswordHash(phc)
			if err != nil {
				t.Fatalf("printed hash %q does not parse: %v", phc, err)
			}
			want := tc.params
			want.SaltLength, want.KeyLength = identity.DefaultParams().SaltLength, identity.DefaultParams().KeyLength
			if h.Params != want {
				t.Errorf("params %+v, want %+v", h.Params, want)
			}
			if !h.Matches(tc.password) {
				t.Errorf("hash does not match %q", tc.password)
			}
			if h.Matches(tc.stdin) && tc.stdin != tc.password {
				t.Errorf("hash matches the raw input %q including its line ending", tc.stdin)
			}
		})
	}
}

func TestHashPasswordCommandRefuses(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string // in the error
	}{
		{"empty stdin", "", cheapFlags, "no password"},
		{"empty line", "\n", cheapFlags, "no password"},
		{"CRLF only", "\r\n", cheapFlags, "no password"},
		// Before the fix these panicked inside argon2 (t=0, p=0) or hashed
		// 4 GiB before the range check.
		{"parallelism 0", "pw\n", []string{"--memory", "64", "--iterations", "1", "--parallelism", "0"}, "outside the accepted range"},
		{"iterations 0", "pw\n", []string{"--memory", "64", "--iterations", "0", "--parallelism", "1"}, "outside the accepted range"},
		{"memory 4 GiB", "pw\n", []string{"--memory", "4194304", "--iterations", "1", "--parallelism", "1"}, "outside the accepted range"},
		{"memory below 8 KiB per lane", "pw\n", []string{"--memory", "31", "--iterations", "1", "--parallelism", "4"}, "outside the accepted range"},
		{"iterations 65", "pw\n", []string{"--memory", "64", "--iterations", "65", "--parallelism", "1"}, "outside the accepted range"},
		{"parallelism 65", "pw\n", []string{"--memory", "1024", "--iterations", "1", "--parallelism", "65"}, "outside the accepted range"},
		{"parallelism over uint8", "pw\n", []string{"--parallelism", "256"}, "parallelism"},
		{"negative memory", "pw\n", []string{"--memory", "-1"}, "memory"},
		{"memory not a number", "pw\n", []string{"--memory", "lots"}, "memory"},
		{"unknown flag", "pw\n", []string{"--salt", "x"}, "unknown flag"},
		{"password as an argument", "", append([]string{"hunter2"}, cheapFlags...), "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			stdout, _, err := runHashPasswordCommand(t, tc.stdin, tc.args...)
			if err == nil {
				t.Fatalf("hash-password succeeded, printed %q", stdout)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if stdout != "" {
				t.Errorf("printed %q on failure", stdout)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusal took %v", d)
			}
		})
	}
}

// TestHashPasswordCommandRegistered: `caddy gatehouse hash-password` exists
// and defaults to identity.DefaultParams (checked on the flags, so the
// test does not pay for a full-cost hash).
func TestHashPasswordCommandRegistered(t *testing.T) {
	gh, ok := caddycmd.Commands()["gatehouse"]
	if !ok || gh.CobraFunc == nil {
		t.Fatal("the gatehouse command is not registered with caddy")
	}
	root := &cobra.Command{Use: "gatehouse"}
	gh.CobraFunc(root)
	hash, _, err := root.Find([]string{"hash-password"})
	if err != nil || hash.Name() != "hash-password" {
		t.Fatalf("hash-password subcommand: %v, %v", hash, err)
	}
	for flag, want := range map[string]uint64{
		"memory":      uint64(identity.DefaultParams().Memory),
		"iterations":  uint64(identity.DefaultParams().Iterations),
		"parallelism": uint64(identity.DefaultParams().Parallelism),
	} {
		f := hash.Flags().Lookup(flag)
		if f == nil {
			t.Errorf("no --%s flag", flag)
			continue
		}
		if f.DefValue != strconv.FormatUint(want, 10) {
			t.Errorf("--%s defaults to %s, want %d", flag, f.DefValue, want)
		}
	}
}

// TestRunHashPasswordPipe calls runHashPassword directly with an os.Pipe
// as stdin, the *os.File path that checks for a terminal.
func TestRunHashPasswordPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("piped-secret\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cmd := newHashPasswordCommand()
	if err := cmd.ParseFlags(cheapFlags); err != nil {
		t.Fatal(err)
	}
	var out, prompt bytes.Buffer
	cmd.SetErr(&prompt)
	if err := runHashPassword(cmd, r, &out); err != nil {
		t.Fatal(err)
	}
	if prompt.Len() != 0 {
		t.Errorf("prompted %q on a pipe", prompt.String())
	}
	h, err := identity.ParsePasswordHash(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Matches("piped-secret") || h.Matches("piped-secret\n") {
		t.Errorf("hash does not match exactly the piped line")
	}
}
