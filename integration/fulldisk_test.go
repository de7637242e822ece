package integration

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite" // to check the database file afterwards
)

// fullDiskDirEnv names, in the child process, the directory on the small
// tmpfs that TestSQLiteFullDisk mounted for it.
const fullDiskDirEnv = "GATEHOUSE_TEST_FULL_DISK_DIR"

// TestSQLiteFullDisk fills the disk under Gatehouse's SQLite database:
// writes fail with 503 temporarily_unavailable and Retry-After (not a 500,
// not a crash), reads go on, nothing is lost, the file stays intact, and
// service comes back as soon as there is room again, without a restart.
//
// A real full disk needs a small file system of its own: the test runs
// itself again in a private user and mount namespace (unshare -rm, which
// needs no privileges where unprivileged user namespaces are allowed) on
// a 2 MiB tmpfs. Where that is impossible it skips, or fails under
// CI=true.
func TestSQLiteFullDisk(t *testing.T) {
	if dir := os.Getenv(fullDiskDirEnv); dir != "" {
		testFullDisk(t, dir)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		requireOrSkip(t, "the full-disk test needs unshare (util-linux) to mount a small tmpfs: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The shell only mounts; the child is this test binary, running this
	// test alone.
	cmd := exec.Command(unshare, "-rm", "sh", "-c", `mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" && shift && exec "$@"`,
		"sh", dir, self, "-test.run=^TestSQLiteFullDisk$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fullDiskDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil && strings.Contains(string(out), "--- PASS: TestSQLiteFullDisk"):
		t.Logf("in a private mount namespace on a 2 MiB tmpfs:\n%s", indent(testLines(out)))
	case err == nil:
		t.Fatalf("the test did not run in the private mount namespace:\n%s", indent(out))
	case errors.As(err, &exit) && strings.Contains(string(out), "--- FAIL"):
		t.Fatalf("in a private mount namespace:\n%s", indent(out))
	default:
		requireOrSkip(t, "cannot mount a small tmpfs in a private namespace here (%v): %s", err, strings.TrimSpace(string(out)))
	}
}

// testLines keeps the test's own lines of a child's verbose output, not
// Caddy's logs.
func testLines(out []byte) []byte {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "_test.go:") || strings.Contains(l, "--- ") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return []byte(strings.Join(keep, "\n"))
}

func indent(b []byte) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n\t")
}

// testFullDisk is the test proper, on the small file system at dir.
func testFullDisk(t *testing.T, dir string) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil || fs.Blocks*uint64(fs.Bsize) > 16<<20 {
		t.Fatalf("%s is not the small tmpfs (%v): refusing to fill it", dir, err)
	}
	dbPath := filepath.Join(dir, "gatehouse.db")
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t),
		extraGatehouse: []string{fmt.Sprintf("storage sqlite %q {\n\t\t\ttimeout 2s\n\t\t}", dbPath)}})
	b := in.newBrowser()
	families := []*tokenJSON{
		in.tokensFor(t, b, demoSPA, "openid", "offline_access"),
		in.tokensFor(t, b, demoSPA, "openid", "offline_access"),
	}

	filler := fillDisk(t, dir)

	// Refresh until a rotation no longer fits: SQLite's write-ahead log
	// grows with every commit until its checkpoint, so one soon needs a
	// new block. Every refresh that still fits rotates the family.
	full := false
	for i := range 200 {
		tj, st := in.refresh(demoSPA, families[0].RefreshToken)
		if st == http.StatusOK {
			families[0] = tj
			continue
		}
		if st != http.StatusServiceUnavailable || tj.Error != "temporarily_unavailable" {
			t.Fatalf("refresh %d on a full disk: %d %+v, want 503 temporarily_unavailable", i, st, tj)
		}
		full = true
		t.Logf("refresh %d found the disk full: 503 %s", i, tj.Error)
		break
	}
	if !full {
		t.Fatal("200 refreshes all fit on a full disk: the test did not fill it")
	}
	// A write answers 503 with Retry-After; a sign-in gets the page that
	// says to try again; reads go on.
	resp, body := in.clientPost(t, "/token", demoSPA, map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {families[1].RefreshToken}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily_unavailable") {
		t.Errorf("refresh on a full disk: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	stranger := in.newBrowser()
	if a := stranger.tryLogin(in.loginPage(t, stranger), "alice", alicePassword); a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
		t.Errorf("sign-in on a full disk: %d Retry-After %q, want 503 with Retry-After", a.status, a.retryAfter)
	}
	if got := in.introspect(t, demoSPA, families[1].AccessToken); got["active"] != true {
		t.Errorf("introspection (a read) on a full disk: %v", got)
	}

	// Room again: service is back at once, and nothing was lost.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i, f := range families {
		if tj, st := in.refresh(demoSPA, f.RefreshToken); st != http.StatusOK || tj.RefreshToken == "" {
			t.Errorf("family %d once there is room again: %d %+v", i, st, tj)
		}
	}
	if a := stranger.tryLogin(in.loginPage(t, stranger), "alice", alicePassword); a.status/100 != 3 && a.status != http.StatusOK {
		t.Errorf("sign-in once there is room again: %d", a.status)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after the full disk: %q %v", check, err)
	}
}

// fillDisk writes a file into dir until the file system is full and
// returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 12 { // at most 16 MiB, more than the tmpfs holds
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return path
		}
	}
	t.Fatal("16 MiB fit on the small tmpfs: it is not full")
	return ""
}
