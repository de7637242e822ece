package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestLocalBearerProfile: a request admitted by an access token carries
// the user's name, username, email and groups from the user record, like
// a browser session, so identity rules apply to apps too; a token whose
// user no longer exists is refused.
func TestLocalBearerProfile(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tokenOf := func(username, scope string) string {
		b := f.NewBrowser(t)
		b.Username = username
		q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, scope), url.Values{"resource": {gateOrigin}})
		return f.Exchange(t, ast.FirstParty, b.Code(q)).AccessToken
	}
	call := func(g *Gate, tok string) (*http.Request, *http.Response, *Identity) {
		r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, id := newSite(t, g).do(r)
		return r, resp, id
	}
	g := localGate(t, f, Config{})
	// Only openid was granted: the headers are the upstream's, not the
	// app's, so the scopes do not narrow them.
	r, _, id := call(g, tokenOf(ast.Alice, "openid"))
	if id == nil {
		t.Fatal("refused")
	}
	for h, want := range map[string]string{
		"X-Gatehouse-User-Id":        ast.AliceID,
		"X-Gatehouse-User":           ast.Alice,
		"X-Gatehouse-Name":           "Alice Liddell",
		"X-Gatehouse-Email":          "alice@example.com",
		"X-Gatehouse-Email-Verified": "true",
		"X-Gatehouse-Groups":         "staff,admins",
		"X-Gatehouse-Auth-Source":    "bearer",
		"X-Gatehouse-Client-Id":      ast.FirstParty,
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	r, _, _ = call(g, tokenOf(ast.Bob, "openid"))
	if r.Header.Get("X-Gatehouse-User") != ast.Bob || r.Header.Get("X-Gatehouse-Email") != "" || r.Header.Get("X-Gatehouse-Groups") != "" {
		t.Errorf("Bob's headers %v", r.Header)
	}

	admins := localGate(t, f, Config{Policy: Policy{Groups: []string{"admins"}}})
	if _, _, id := call(admins, tokenOf(ast.Alice, "openid")); id == nil {
		t.Error("an admin's token was refused by a group rule")
	}
	if _, resp, id := call(admins, tokenOf(ast.Bob, "openid")); id != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a token of someone outside the group: %d", resp.StatusCode)
	}

	// A token whose subject is not a user (deleted since, say).
	now := f.Clock.Now()
	ghost, err := f.Keys.Sign("ES256", "at+jwt", token.AccessTokenClaims{
		Issuer: ast.Issuer, Subject: "user-ghost", Audience: []string{gateOrigin}, ClientID: ast.FirstParty,
		Expiry: token.NewNumericDate(now.Add(time.Minute)), IssuedAt: token.NewNumericDate(now), JWTID: "ghost-jti",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, id := call(g, ghost); id != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token of a user who does not exist: %d", resp.StatusCode)
	}
}

// TestExternalBearerProfile: with an external issuer the profile comes
// from its userinfo endpoint, called with the token; a token userinfo
// does not take leaves the subject alone.
func TestExternalBearerProfile(t *testing.T) {
	var f *ast.Fixture
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.Server.ServeHTTP(w, r) }))
	issuer := "http://" + srv.Listener.Addr().String()
	f = ast.New(t, ast.Options{Issuer: issuer, Clients: []*clients.Client{{ID: "ext-gate", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{ast.GateRedirectURI}}}}})
	srv.Start()
	t.Cleanup(srv.Close)
	g := newTestGate(t, &OIDCProvider{IssuerURL: issuer, ClientID: "ext-gate"}, Config{Now: f.Clock.Now})
	for _, tc := range []struct {
		scope, wantName string
	}{
		{"openid profile", "Alice Liddell"}, // its aud names the issuer too: userinfo answers
		{"profile", ""},                     // for the gate alone: userinfo refuses it
	} {
		q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, tc.scope), url.Values{"resource": {gateOrigin}})
		tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
		r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if _, id := newSite(t, g).do(r); id == nil || id.Subject != ast.AliceID {
			t.Fatalf("scope %q: identity %+v", tc.scope, id)
		}
		if got := r.Header.Get("X-Gatehouse-Name"); got != tc.wantName {
			t.Errorf("scope %q: X-Gatehouse-Name %q, want %q", tc.scope, got, tc.wantName)
		}
	}
}
