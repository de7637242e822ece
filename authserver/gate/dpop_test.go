package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
)

// TestLocalDPoP: a DPoP-bound token passes the gate only under the DPoP
// scheme with a fresh proof of its key for this very request (RFC 9449
// §7), every time, even once the token is cached; stolen (another key),
// replayed, or sent as Bearer it is refused. Bearer tokens still work,
// but not under the DPoP scheme. A gate without a verifier refuses bound
// tokens.
func TestLocalDPoP(t *testing.T) {
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.DPoP = &authserver.DPoPConfig{} }})
	verifier := &dpop.Verifier{Replay: f.Store, Now: f.Clock.Now}
	g := localGate(t, f, Config{DPoP: verifier})
	key, thief := ast.NewDPoPKey(t), ast.NewDPoPKey(t)
	now := f.Clock.Now()

	code := f.NewBrowser(t).Code(ast.Edit(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"), url.Values{"resource": {gateOrigin}}))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {ast.ThirdPartyPublic},
		"redirect_uri": {f.RedirectURI(ast.ThirdPartyPublic)}, "code_verifier": {ast.Verifier}}
	req := f.NewRequest(http.MethodPost, "/token", form)
	req.Header.Set("DPoP", key.Proof(t, "POST", f.URL("/token"), ast.ProofOptions{IssuedAt: now}))
	res := f.Serve(t, req)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	res.JSON(&tok)
	if res.Code != http.StatusOK || tok.TokenType != "DPoP" {
		t.Fatalf("DPoP token for the gate: %s", res)
	}
	bearer := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {gateOrigin}})))

	call := func(method, path, auth string, proofs ...string) (*http.Response, *Identity) {
		r := httptest.NewRequest(method, gateOrigin+path, nil)
		r.Header.Set("Authorization", auth)
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		return newSite(t, g).do(r)
	}
	proof := func(k *ast.DPoPKey, method, path string) string {
		return k.Proof(t, method, gateOrigin+path, ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken})
	}
	// Twice, so the second is served from the token cache: the proof is
	// checked all the same.
	for range 2 {
		if _, id := call("GET", "/api/data?x=1", "DPoP "+tok.AccessToken, proof(key, "GET", "/api/data")); id == nil || id.Subject != ast.AliceID {
			t.Fatalf("DPoP-bound token with its proof was refused")
		}
	}
	replayed := proof(key, "GET", "/api/replayed")
	call("GET", "/api/replayed", "DPoP "+tok.AccessToken, replayed)
	if _, id := call("GET", "/api/b", "Bearer "+bearer.AccessToken); id == nil {
		t.Fatal("a Bearer token was refused")
	}
	tests := []struct {
		name, method, path, auth string
		proofs                   []string
		code                     string
	}{
		{"bound token as Bearer", "GET", "/api", "Bearer " + tok.AccessToken, nil, "invalid_token"},
		{"no proof", "GET", "/api", "DPoP " + tok.AccessToken, nil, "invalid_dpop_proof"},
		{"stolen: the thief's key", "GET", "/api", "DPoP " + tok.AccessToken, []string{proof(thief, "GET", "/api")}, "invalid_dpop_proof"},
		{"replayed proof", "GET", "/api/replayed", "DPoP " + tok.AccessToken, []string{replayed}, "invalid_dpop_proof"},
		{"wrong htm", "POST", "/api", "DPoP " + tok.AccessToken, []string{proof(key, "GET", "/api")}, "invalid_dpop_proof"},
		{"wrong htu", "GET", "/api/other", "DPoP " + tok.AccessToken, []string{proof(key, "GET", "/api")}, "invalid_dpop_proof"},
		{"Bearer token as DPoP", "GET", "/api", "DPoP " + bearer.AccessToken, []string{key.Proof(t, "GET", gateOrigin+"/api", ast.ProofOptions{IssuedAt: now, AccessToken: bearer.AccessToken})}, "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, id := call(tc.method, tc.path, tc.auth, tc.proofs...)
			wa := resp.Header.Get("WWW-Authenticate")
			if id != nil || resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(wa, "DPoP ") || !strings.Contains(wa, `error="`+tc.code+`"`) {
				t.Fatalf("%d %q, want 401 with a DPoP challenge, %s", resp.StatusCode, wa, tc.code)
			}
		})
	}
	t.Run("gate without a verifier", func(t *testing.T) {
		plain := localGate(t, f, Config{})
		r := httptest.NewRequest("GET", gateOrigin+"/api", nil)
		r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		r.Header.Set("DPoP", proof(key, "GET", "/api"))
		if _, id := newSite(t, plain).do(r); id != nil {
			t.Fatal("a gate without DPoP admitted a bound token")
		}
	})
}
