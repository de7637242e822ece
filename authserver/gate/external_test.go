package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// TestGatehouseAsExternalProvider: a gate configured with another
// Gatehouse as its OpenID provider (OIDCProvider, over HTTP: discovery,
// token endpoint, JWKS, introspection) signs users in and checks access
// tokens, local or opaque.
func TestGatehouseAsExternalProvider(t *testing.T) {
	var f *ast.Fixture
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.Server.ServeHTTP(w, r) }))
	issuer := "http://" + srv.Listener.Addr().String()
	f = ast.New(t, ast.Options{
		Issuer: issuer,
		Clients: []*clients.Client{{ID: "ext-gate", SecretHashes: []string{clients.HashSecret("ext-gate-secret")},
			Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{ast.GateRedirectURI}}}},
		Secrets: map[string]string{"ext-gate": "ext-gate-secret"},
	})
	srv.Start()
	t.Cleanup(srv.Close)
	provider := func() *OIDCProvider {
		return &OIDCProvider{IssuerURL: issuer, ClientID: "ext-gate", ClientSecret: "ext-gate-secret"}
	}

	s := &site{t: t, g: newTestGate(t, provider(), Config{Now: f.Clock.Now}), issuer: issuer}
	if resp := s.signIn(f.NewBrowser(t), "/doc"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/doc" {
		t.Fatalf("callback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, id := s.navigate("/doc")
	if id == nil || id.Subject != ast.AliceID || id.Email != "alice@example.com" || id.Issuer != issuer || id.Source != SourceSession {
		t.Fatalf("identity %+v", id)
	}

	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {gateOrigin}})
	tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
	other := f.TokensFor(t, ast.FirstParty, "openid") // for the issuer, not this resource
	for _, mode := range []struct {
		name       string
		introspect bool
	}{{"local verification", false}, {"introspection", true}} {
		t.Run(mode.name, func(t *testing.T) {
			g := newTestGate(t, provider(), Config{Now: f.Clock.Now, Introspect: mode.introspect})
			call := func(token string) (*http.Response, *Identity) {
				r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				return newSite(t, g).do(r)
			}
			if _, id := call(tok.AccessToken); id == nil || id.Subject != ast.AliceID || id.ClientID != ast.FirstParty {
				t.Errorf("a token for this resource: %+v", id)
			}
			resp, id := call(other.AccessToken)
			if id != nil || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "not for this resource") {
				t.Errorf("a token for another resource: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if _, id := call("not-a-token"); id != nil {
				t.Error("garbage passed")
			}
		})
	}
}

// TestUnreachableProvider: while the provider cannot be reached, a
// browser is told to come back later (503) and API requests are refused,
// never let through.
func TestUnreachableProvider(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	now := time.Unix(1700000000, 0)
	g := newTestGate(t, &OIDCProvider{IssuerURL: dead.URL, ClientID: "gate"}, Config{Now: func() time.Time { return now }})
	resp, id := serve(g, new(jar), browserGet("/private"))
	if id != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(readAll(t, resp), "temporarily_unavailable") {
		t.Errorf("login start with the provider down: %d", resp.StatusCode)
	}
	r := httptest.NewRequest(http.MethodGet, testOrigin+"/api", nil)
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.e30.sig")
	if resp, id := serve(g, new(jar), r); id != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a Bearer token with the provider down: %d", resp.StatusCode)
	}
}

// TestNewRefusesConfig: gate.New refuses a configuration it cannot run.
func TestNewRefusesConfig(t *testing.T) {
	r, err := ui.New(ui.Branding{}, "")
	if err != nil {
		t.Fatal(err)
	}
	secret := [][]byte{[]byte(strings.Repeat("k", 32))}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no provider", Config{UI: r, CookieSecrets: secret}, "provider"},
		{"no cookie secret", Config{Provider: &fakeProvider{}, UI: r}, "cookie secret"},
		{"short cookie secret", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: [][]byte{[]byte("short")}}, "cookie secret"},
		{"no UI", Config{Provider: &fakeProvider{}, CookieSecrets: secret}, "UI"},
		{"scopes without openid", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: secret, Scopes: []string{"email"}}, "openid"},
		{"relative callback path", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: secret, CallbackPath: "cb"}, "single /"},
		{"protocol-relative logout path", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: secret, LogoutPath: "//evil.example/x"}, "single /"},
		{"unknown claim", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: secret, Headers: []HeaderMapping{{"password", "X-Password"}}}, "unknown claim"},
		{"bad header name", Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: secret, Headers: []HeaderMapping{{"sub", "X-User: admin"}}}, "invalid header name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}
