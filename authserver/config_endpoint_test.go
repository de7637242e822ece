package authserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// TestNewRefusesConfig: authserver.New refuses a configuration it cannot
// serve safely, saying what is wrong, rather than start.
func TestNewRefusesConfig(t *testing.T) {
	base := ast.New(t, ast.Options{}).Config
	tests := []struct {
		name string
		edit func(*authserver.Config)
		want string // in the error
	}{
		{"no issuer", func(c *authserver.Config) { c.Issuer = "" }, "not an absolute URL"},
		{"relative issuer", func(c *authserver.Config) { c.Issuer = "/auth" }, "not an absolute URL"},
		{"http issuer", func(c *authserver.Config) { c.Issuer = "http://issuer.example" }, "must use https"},
		{"ftp issuer", func(c *authserver.Config) { c.Issuer = "ftp://issuer.example" }, "must use https"},
		{"issuer with a query", func(c *authserver.Config) { c.Issuer = "https://issuer.example/?tenant=1" }, "query"},
		{"issuer with a fragment", func(c *authserver.Config) { c.Issuer = "https://issuer.example/#x" }, "fragment"},
		{"issuer with user info", func(c *authserver.Config) { c.Issuer = "https://u@issuer.example" }, "user info"},
		{"no store", func(c *authserver.Config) { c.Store = nil }, "Store"},
		{"no keys", func(c *authserver.Config) { c.Keys = nil }, "Keys"},
		{"no users", func(c *authserver.Config) { c.Users, c.Accounts = nil, nil }, "Users"},
		{"no clients", func(c *authserver.Config) { c.Clients = nil }, "Clients"},
		{"no UI", func(c *authserver.Config) { c.UI = nil }, "UI"},
		{"no cookie secret", func(c *authserver.Config) { c.CookieSecrets = nil }, "cookie secret"},
		{"short cookie secret", func(c *authserver.Config) { c.CookieSecrets = [][]byte{[]byte("short")} }, "cookie secret"},
		{"negative GC interval", func(c *authserver.Config) { c.GCInterval = -time.Second }, "GCInterval"},
		{"unknown registration policy", func(c *authserver.Config) { c.Registration.Policy = "anyone" }, "unknown policy"},
		{"registration without a registry", func(c *authserver.Config) {
			c.Registration = authserver.Registration{Policy: authserver.RegistrationOpen}
		}, "registry"},
		{"token policy without tokens", func(c *authserver.Config) {
			c.Registration = authserver.Registration{Policy: authserver.RegistrationToken, Clients: ast.New(t, ast.Options{}).Registry}
		}, "initial access token"},
		{"short initial access token", func(c *authserver.Config) {
			c.Registration = authserver.Registration{Policy: authserver.RegistrationToken, Clients: ast.New(t, ast.Options{}).Registry,
				InitialAccessTokens: []string{"short"}}
		}, "shorter than"},
		{"negative login lockout", func(c *authserver.Config) { c.LoginThrottle = throttle.Policy{Lockout: -time.Second} }, "login throttle"},
		{"negative client failures", func(c *authserver.Config) { c.ClientThrottle = throttle.Policy{MaxFailures: -1} }, "client authentication throttle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			s, err := authserver.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, %v; want an error about %q", s, err, tc.want)
			}
		})
	}
	t.Run("loopback http issuer", func(t *testing.T) {
		for _, iss := range []string{"http://localhost:8080", "http://127.0.0.1:9000/auth/", "http://[::1]"} {
			cfg := base
			cfg.Issuer = iss
			s, err := authserver.New(cfg)
			if err != nil {
				t.Fatalf("%s: %v", iss, err)
			}
			if want := strings.TrimSuffix(iss, "/"); s.Issuer() != want {
				t.Errorf("Issuer() = %q, want %q", s.Issuer(), want)
			}
		}
	})
}
