package caddymodule

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// TestProvisionKeySchedule: the key settings reach the core, which keeps
// replaced keys until the longest-lived token they can have signed has
// expired: a client's own lifetime or, as clients created at run time
// may get, 24h; plus a reload interval and a 5m margin.
func TestProvisionKeySchedule(t *testing.T) {
	const client = "client c {\n type first_party_public\n redirect_uris https://a.example/cb\n access_token_lifetime 48h\n}"
	for _, tt := range []struct {
		name, body        string
		reload, retention time.Duration
	}{
		{"defaults", "", time.Minute, 24*time.Hour + time.Minute + 5*time.Minute},
		{"reload interval", "key_reload_interval 30s", 30 * time.Second, 24*time.Hour + 30*time.Second + 5*time.Minute},
		{"long id tokens", "id_token_lifetime 30h", time.Minute, 30*time.Hour + time.Minute + 5*time.Minute},
		{"a long-lived client", client, time.Minute, 48*time.Hour + time.Minute + 5*time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_DATA_HOME", dir)
			app, err := parseApp(t, "issuer https://a.example\n storage sqlite "+filepath.Join(dir, "g.db")+"\n"+tt.body)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := app.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			defer app.Cleanup()
			if got := app.keys.ReloadInterval(); got != tt.reload {
				t.Errorf("reload interval %v, want %v", got, tt.reload)
			}
			if got := app.keys.Retention(); got != tt.retention {
				t.Errorf("retention %v, want %v", got, tt.retention)
			}
		})
	}
}

// TestProvisionAuditRetention: audit records are kept 90 days unless
// audit_retention says otherwise; a negative value (JSON only) is refused.
func TestProvisionAuditRetention(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    string
		set     caddy.Duration // applied after parsing, as JSON would
		want    time.Duration
		refused bool
	}{
		{"default", "", 0, 90 * 24 * time.Hour, false},
		{"configured", "audit_retention 720h", 0, 720 * time.Hour, false},
		{"negative", "", caddy.Duration(-time.Hour), 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_DATA_HOME", dir)
			app, err := parseApp(t, "issuer https://a.example\n storage sqlite "+filepath.Join(dir, "g.db")+"\n"+tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.set != 0 {
				app.AuditRetention = tt.set
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err = app.Provision(ctx)
			if tt.refused {
				app.Cleanup() // as Caddy does after a failed Provision
				if err == nil || !strings.Contains(err.Error(), "AuditRetention") {
					t.Fatalf("a negative audit_retention: %v, want it refused", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer app.Cleanup()
			if got := app.auditRetention(); got != tt.want {
				t.Errorf("retention %v, want %v", got, tt.want)
			}
			if _, err := app.server.AuditRecords(ctx, store.AuditQuery{Limit: 1}); err != nil {
				t.Errorf("audit records are not kept: %v", err)
			}
		})
	}
}
