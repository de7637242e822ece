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
// a fresh instance (another data directory) started on the copy and the
// original key-encryption key serves the same JWKS, accepts an access
// token issued before the backup, and refreshes a refresh token issued
// before it.
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
	kek, err := os.ReadFile(in.gatehouseData("kek"))
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restore: the copy becomes a fresh data directory's database, beside
	// the original key-encryption key.
	dir := t.TempDir()
	fresh := &instance{dir: dir}
	if err := os.MkdirAll(filepath.Dir(fresh.gatehouseData("x")), 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fresh.gatehouseData("gatehouse.db"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fresh.gatehouseData("kek"), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := startExampleIn(t, dir, port)
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
