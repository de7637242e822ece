package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestLocalStoreOutage: when the issuer's store goes away (a real SQLite
// store whose database is closed), the gate keeps admitting the session
// and the token it verified before, and a login that can no longer be
// completed is answered 503 with Retry-After: never a 401, never another
// trip to the login page.
func TestLocalStoreOutage(t *testing.T) {
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{})
	signedIn := newSite(t, g)
	if resp := signedIn.signIn(f.NewBrowser(t), "/private"); resp.StatusCode != http.StatusFound {
		t.Fatalf("login before the outage: %d", resp.StatusCode)
	}
	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {gateOrigin}})
	tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
	api := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return r
	}
	if _, id := newSite(t, g).do(api()); id == nil {
		t.Fatal("the token was refused before the outage")
	}

	// A second browser gets as far as the issuer's redirect back with a
	// code; then the store goes.
	late := newSite(t, g)
	resp, _ := late.navigate("/private")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	b := f.NewBrowser(t)
	res := b.Authorize(loc.Query())
	if b.OnPage(res, "/login") {
		res = b.Login(res)
	}
	back := res.Location()
	if back == nil || !strings.HasPrefix(back.String(), ast.GateRedirectURI+"?") {
		t.Fatalf("no code for the second browser: %s", res)
	}

	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}

	if _, id := signedIn.navigate("/private"); id == nil {
		t.Error("a gate session verified before the outage was refused during it")
	}
	if resp, id := newSite(t, g).do(api()); id == nil {
		t.Errorf("a token verified before the outage was refused during it: %d", resp.StatusCode)
	}
	resp, id := late.navigate(strings.TrimPrefix(back.String(), gateOrigin))
	if id != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("completing a login during the outage: %d Retry-After %q, want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
