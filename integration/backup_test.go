package integration

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestBackupRestore: `caddy gatehouse backup` copies the SQLite store of
// a running instance while requests change it (refreshes, sign-ins);
// `caddy gatehouse restore` refuses while the instance runs and, once it
// is stopped, puts the copy in place; the instance started again on it
// (same key-encryption key) serves the same JWKS, accepts an access token
// issued before the backup, and refreshes a refresh token issued before
// it.
func TestBackupRestore(t *testing.T) {
	port := freePort(t)
	in := startExampleIn(t, t.TempDir(), port)
	jwks := in.getBody("/jwks.json")
	spa := in.tokensFor(t, in.newBrowser(), demoSPA, "openid", "offline_access")
	web := in.tokensFor(t, in.newBrowser(), demoWeb, "openid", "offline_access")

	// Traffic during the backup: a confidential client refreshing its
	// (sliding) token, a bounded number of times.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	refreshes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			select {
			case <-stop:
				return
			default:
			}
			if _, st := in.refresh(demoWeb, web.RefreshToken); st == http.StatusOK {
				refreshes++
			}
		}
	}()
	backup := filepath.Join(t.TempDir(), "gatehouse-backup.db")
	out := mustCLI(t, "backup", "--db", in.gatehouseData("gatehouse.db"), backup)
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "Backed up") {
		t.Errorf("backup printed %q", out)
	}
	if refreshes == 0 {
		t.Error("no refresh succeeded during the backup")
	}
	if _, err := runCLI(t, "backup", "--db", in.gatehouseData("gatehouse.db"), backup); err == nil {
		t.Error("a backup over an existing file was not refused")
	}
	// `caddy gatehouse restore` refuses while Caddy has the database open,
	// and changes nothing.
	live := in.gatehouseData("gatehouse.db")
	if _, err := runCLI(t, "restore", "--db", live, backup); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore onto the running instance's database: %v", err)
	}
	if st := in.userinfoStatus(spa.AccessToken); st != http.StatusOK {
		t.Fatalf("the running instance after a refused restore: userinfo %d", st)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	// Stopped: the backup replaces the database in the same data
	// directory, beside the same key-encryption key.
	if out := mustCLI(t, "restore", "--db", live, backup); !strings.Contains(out, "Restored") {
		t.Errorf("restore printed %q", out)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(live + suffix); err == nil {
			t.Errorf("%s left beside the restored database", suffix)
		}
	}
	restored := startExampleIn(t, in.dir, port)
	if got := restored.getBody("/jwks.json"); got != jwks {
		t.Errorf("the restored instance publishes other keys:\n%s\n%s", jwks, got)
	}
	if st := restored.userinfoStatus(spa.AccessToken); st != http.StatusOK {
		t.Errorf("an access token from before the backup: userinfo %d", st)
	}
	r, st := restored.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {spa.RefreshToken}, "client_id": {demoSPA.id}})
	if st != http.StatusOK || r.RefreshToken == "" {
		t.Errorf("a refresh token from before the backup: %d %+v", st, r)
	}
	if _, st := restored.refresh(demoWeb, web.RefreshToken); st != http.StatusOK {
		t.Errorf("the confidential client's refresh token after the restore: %d", st)
	}
}
