package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

// TestThrottleSurvivesReload: a config reload (caddy reload; here
// caddy.Load of a changed configuration, as the admin API does) keeps
// what the brute-force defence and the registration limit remember. An
// account locked before the reload is still locked after it, and an
// address over its registration allowance is still over it: otherwise
// anyone who can get the operator to reload, or simply waits for a
// routine one, gets a fresh budget of guesses.
func TestThrottleSurvivesReload(t *testing.T) {
	var caddyfile string
	in := startExampleWith(t, exampleSetup{
		dir:  t.TempDir(),
		port: freePort(t),
		extraGatehouse: []string{
			"login_throttle {\n\t\t\tmax_failures 3\n\t\t\tmax_failures_per_ip 100\n\t\t\tlockout 1m\n\t\t\tbackoff off\n\t\t}",
		},
		edit: func(cf string) string { caddyfile = cf; return cf },
	})

	// Three wrong passwords lock alice for a minute.
	mallory := in.newBrowser()
	form := in.loginPage(t, mallory)
	for i := range 3 {
		if a := mallory.tryLogin(form, "alice", "guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %q", i+1, a.status, a.message)
		}
	}
	aliceLocked := func(when string) {
		t.Helper()
		b := in.newBrowser()
		if a := b.tryLogin(in.loginPage(t, b), "alice", alicePassword); a.status != http.StatusTooManyRequests || a.retryAfter == "" {
			t.Errorf("alice with the right password %s: %d Retry-After %q; want 429, still locked", when, a.status, a.retryAfter)
		}
	}
	aliceLocked("before the reload")

	// This address uses up its registration allowance.
	for i := range authserver.DefaultRegistrationBurst {
		if res := in.register(t, nativeApp(), nil); res.status != http.StatusCreated {
			t.Fatalf("registration %d: HTTP %d %s", i+1, res.status, res.body)
		}
	}
	in.register(t, nativeApp(), nil).errorIs(t, "one registration over the burst", http.StatusTooManyRequests, "temporarily_unavailable", "")

	// The reload adds a client, so it is a new configuration, compatible
	// with the running one: same issuer, same throttle settings.
	added := &oauth2.Config{
		ClientID:    "added-by-reload",
		Endpoint:    oauth2.Endpoint{AuthURL: in.issuer + "/authorize", TokenURL: in.issuer + "/token"},
		RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes:      []string{"openid"},
	}
	addedLogin := func() bool {
		b := in.newBrowser()
		p := b.get(added.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		return p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login")
	}
	if addedLogin() {
		t.Fatal("the client to be added by the reload is known already")
	}
	reloaded := strings.Replace(caddyfile, "\tgatehouse {\n",
		"\tgatehouse {\n\t\tclient added-by-reload {\n\t\t\ttype first_party_public\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t}\n", 1)
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(reloaded), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the reloaded Caddyfile: %v", err)
	}
	if err := caddy.Load(cfgJSON, false); err != nil {
		t.Fatalf("reloading: %v", err)
	}
	in.client.CloseIdleConnections() // their server is gone
	in.waitReady()
	if !addedLogin() {
		t.Fatal("the reload did not take effect: the added client is unknown")
	}

	aliceLocked("after the reload")
	in.register(t, nativeApp(), nil).errorIs(t, "a registration after the reload", http.StatusTooManyRequests, "temporarily_unavailable", "")
}
