package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// dpopFixture has DPoP on (with nonces when nonce) and a confidential
// client that must use it.
func dpopFixture(t *testing.T, on, nonce bool) *ast.Fixture {
	t.Helper()
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: "dpop-only", SecretHashes: []string{clients.HashSecret("dpop-only-secret")}, Metadata: clients.Metadata{
			Name: "DPoP Only", Type: clients.ThirdParty, RedirectURIs: []string{"https://dpop.example/cb"}, DPoPBoundAccessTokens: true}}},
		Secrets: map[string]string{"dpop-only": "dpop-only-secret"},
		Configure: func(c *authserver.Config) {
			if on {
				c.DPoP = &authserver.DPoPConfig{RequireNonce: nonce}
			}
		},
	})
}

// tokenWithProof posts form to the token endpoint as clientID with proof
// (none when "").
func tokenWithProof(t *testing.T, f *ast.Fixture, clientID string, form url.Values, proof string) *ast.Response {
	t.Helper()
	form = ast.Edit(form, nil)
	secret := f.Secret(clientID)
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req := f.NewRequest(http.MethodPost, "/token", form)
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return f.Serve(t, req)
}

func codeForm(f *ast.Fixture, clientID, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.RedirectURI(clientID)}, "code_verifier": {ast.Verifier}}
}

func userinfoWith(t *testing.T, f *ast.Fixture, authorization string, proofs ...string) *ast.Response {
	t.Helper()
	req := f.NewRequest(http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", authorization)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return f.Serve(t, req)
}

// TestDPoPPublicClient: a public client's code redemption with a proof
// gets a DPoP token bound to its key, and a refresh token that only a
// proof of the same key can use; the UserInfo endpoint wants the DPoP
// scheme and a fresh proof of that key for the token.
func TestDPoPPublicClient(t *testing.T) {
	f := dpopFixture(t, true, false)
	key, thief := ast.NewDPoPKey(t), ast.NewDPoPKey(t)
	now := f.Clock.Now()
	tokenURL, userinfoURL := f.URL("/token"), f.URL("/userinfo")
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid offline_access"))
	res := tokenWithProof(t, f, ast.ThirdPartyPublic, codeForm(f, ast.ThirdPartyPublic, code), key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now}))
	if res.Code != http.StatusOK {
		t.Fatalf("code redemption with a proof: %s", res)
	}
	var tok struct {
		ast.Tokens
		TokenType string `json:"token_type"`
	}
	res.JSON(&tok)
	cnf, _ := ast.Claims(t, tok.AccessToken)["cnf"].(map[string]any)
	if tok.TokenType != "DPoP" || cnf["jkt"] != key.JKT(t) {
		t.Fatalf("token_type %q, cnf %v; want DPoP bound to %s", tok.TokenType, cnf, key.JKT(t))
	}

	// Introspection tells a resource server the token is bound, and to
	// which key (RFC 9449 §6.2).
	intro := f.ClientPost(t, "/introspect", ast.FirstParty, url.Values{"token": {tok.AccessToken}})
	var ir struct {
		Active    bool              `json:"active"`
		TokenType string            `json:"token_type"`
		Cnf       map[string]string `json:"cnf"`
	}
	intro.JSON(&ir)
	if !ir.Active || ir.TokenType != "DPoP" || ir.Cnf["jkt"] != key.JKT(t) {
		t.Fatalf("introspection of a DPoP token: %s", intro)
	}

	good := func(o ast.ProofOptions) string {
		o.IssuedAt, o.AccessToken = now, tok.AccessToken
		return key.Proof(t, "GET", userinfoURL, o)
	}
	if res := userinfoWith(t, f, "DPoP "+tok.AccessToken, good(ast.ProofOptions{})); res.Code != http.StatusOK {
		t.Fatalf("userinfo with the DPoP scheme and a proof: %s", res)
	}
	replayed := good(ast.ProofOptions{})
	userinfoWith(t, f, "DPoP "+tok.AccessToken, replayed)
	refused := []struct {
		name, auth string
		proofs     []string
		code       string
	}{
		{"bound token as Bearer", "Bearer " + tok.AccessToken, nil, "invalid_token"},
		{"bound token as Bearer with a proof", "Bearer " + tok.AccessToken, []string{good(ast.ProofOptions{})}, "invalid_token"},
		{"no proof", "DPoP " + tok.AccessToken, nil, "invalid_dpop_proof"},
		{"stolen token, thief's key", "DPoP " + tok.AccessToken, []string{thief.Proof(t, "GET", userinfoURL, ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken})}, "invalid_dpop_proof"},
		{"replayed proof", "DPoP " + tok.AccessToken, []string{replayed}, "invalid_dpop_proof"},
		{"wrong htm", "DPoP " + tok.AccessToken, []string{key.Proof(t, "POST", userinfoURL, ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken})}, "invalid_dpop_proof"},
		{"wrong htu", "DPoP " + tok.AccessToken, []string{key.Proof(t, "GET", tokenURL, ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken})}, "invalid_dpop_proof"},
		{"no ath", "DPoP " + tok.AccessToken, []string{key.Proof(t, "GET", userinfoURL, ast.ProofOptions{IssuedAt: now})}, "invalid_dpop_proof"},
		{"two proofs", "DPoP " + tok.AccessToken, []string{good(ast.ProofOptions{}), good(ast.ProofOptions{})}, "invalid_dpop_proof"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			res := userinfoWith(t, f, tc.auth, tc.proofs...)
			if res.Code != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="`+tc.code+`"`) {
				t.Fatalf("got %s (WWW-Authenticate %q), want 401 %s", res, res.Header.Get("WWW-Authenticate"), tc.code)
			}
		})
	}

	// The refresh token: refused without a proof or with the thief's key,
	// and nothing rotated by those attempts.
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	for name, proof := range map[string]string{"no proof": "", "thief's key": thief.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now})} {
		if res := tokenWithProof(t, f, ast.ThirdPartyPublic, refresh, proof); res.Code != http.StatusBadRequest || res.OAuthError() != "invalid_grant" {
			t.Fatalf("refresh with %s: %s, want invalid_grant", name, res)
		}
	}
	res = tokenWithProof(t, f, ast.ThirdPartyPublic, refresh, key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now}))
	if res.Code != http.StatusOK {
		t.Fatalf("refresh with the bound key: %s", res)
	}
	res.JSON(&tok)
	if cnf, _ := ast.Claims(t, tok.AccessToken)["cnf"].(map[string]any); tok.TokenType != "DPoP" || cnf["jkt"] != key.JKT(t) {
		t.Fatalf("refreshed token: %s %v", tok.TokenType, cnf)
	}
}

// TestDPoPTokenEndpointRefusals: bad proofs at the token endpoint are
// refused with invalid_dpop_proof and burn nothing; a client registered
// with dpop_bound_access_tokens must send one; a Bearer token stays
// Bearer and works at UserInfo as before.
func TestDPoPTokenEndpointRefusals(t *testing.T) {
	f := dpopFixture(t, true, false)
	key := ast.NewDPoPKey(t)
	now := f.Clock.Now()
	tokenURL := f.URL("/token")
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
	form := codeForm(f, ast.ThirdPartyPublic, code)
	used := key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now})
	for name, proof := range map[string]string{
		"wrong htu":   key.Proof(t, "POST", f.URL("/userinfo"), ast.ProofOptions{IssuedAt: now}),
		"wrong htm":   key.Proof(t, "GET", tokenURL, ast.ProofOptions{IssuedAt: now}),
		"with ath":    key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now, AccessToken: "x"}),
		"not a proof": "garbage",
		"old":         key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now.Add(-10 * 60e9)}),
	} {
		if res := tokenWithProof(t, f, ast.ThirdPartyPublic, form, proof); res.Code != http.StatusBadRequest || res.OAuthError() != "invalid_dpop_proof" {
			t.Fatalf("%s: %s, want 400 invalid_dpop_proof", name, res)
		}
	}
	// The code survived the refusals.
	if res := tokenWithProof(t, f, ast.ThirdPartyPublic, form, used); res.Code != http.StatusOK {
		t.Fatalf("redemption after refused proofs: %s", res)
	}
	// The same proof again is a replay.
	code = f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
	if res := tokenWithProof(t, f, ast.ThirdPartyPublic, codeForm(f, ast.ThirdPartyPublic, code), used); res.OAuthError() != "invalid_dpop_proof" || !strings.Contains(res.String(), "already been used") {
		t.Fatalf("replayed proof at the token endpoint: %s", res)
	}
	// Without a proof the token is a Bearer token, usable as before.
	tokens := f.Exchange(t, ast.ThirdPartyPublic, code)
	if res := userinfoWith(t, f, "Bearer "+tokens.AccessToken); res.Code != http.StatusOK {
		t.Fatalf("Bearer token at userinfo: %s", res)
	}
	if res := userinfoWith(t, f, "DPoP "+tokens.AccessToken, key.Proof(t, "GET", f.URL("/userinfo"), ast.ProofOptions{IssuedAt: now, AccessToken: tokens.AccessToken})); res.Code != http.StatusUnauthorized {
		t.Fatalf("Bearer token under the DPoP scheme: %s, want 401", res)
	}

	// dpop_bound_access_tokens: no proof, no token.
	q := ast.Edit(f.AuthorizeQuery(ast.ThirdParty, "openid"), url.Values{"client_id": {"dpop-only"}, "redirect_uri": {"https://dpop.example/cb"}})
	code = f.NewBrowser(t).Code(q)
	form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://dpop.example/cb"}, "code_verifier": {ast.Verifier}}
	if res := tokenWithProof(t, f, "dpop-only", form, ""); res.Code != http.StatusBadRequest || res.OAuthError() != "invalid_dpop_proof" {
		t.Fatalf("dpop_bound_access_tokens client without a proof: %s", res)
	}
	res := tokenWithProof(t, f, "dpop-only", form, key.Proof(t, "POST", tokenURL, ast.ProofOptions{IssuedAt: now}))
	if res.Code != http.StatusOK || tokenType(res) != "DPoP" {
		t.Fatalf("dpop_bound_access_tokens client with a proof: %s", res)
	}
}

// TestDPoPNonce: with nonces required, a proof without one is answered
// use_dpop_nonce and a DPoP-Nonce header, and the retry with it works.
func TestDPoPNonce(t *testing.T) {
	f := dpopFixture(t, true, true)
	key := ast.NewDPoPKey(t)
	now := f.Clock.Now()
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
	form := codeForm(f, ast.ThirdPartyPublic, code)
	res := tokenWithProof(t, f, ast.ThirdPartyPublic, form, key.Proof(t, "POST", f.URL("/token"), ast.ProofOptions{IssuedAt: now}))
	nonce := res.Header.Get("DPoP-Nonce")
	if res.Code != http.StatusBadRequest || res.OAuthError() != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("proof without a nonce: %s (DPoP-Nonce %q)", res, nonce)
	}
	res = tokenWithProof(t, f, ast.ThirdPartyPublic, form, key.Proof(t, "POST", f.URL("/token"), ast.ProofOptions{IssuedAt: now, Nonce: nonce}))
	if res.Code != http.StatusOK {
		t.Fatalf("proof with the server's nonce: %s", res)
	}
	// UserInfo asks for the nonce the same way, under the DPoP scheme.
	var tok ast.Tokens
	res.JSON(&tok)
	res = userinfoWith(t, f, "DPoP "+tok.AccessToken, key.Proof(t, "GET", f.URL("/userinfo"), ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken}))
	nonce = res.Header.Get("DPoP-Nonce")
	if res.Code != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("userinfo proof without a nonce: %s %v", res, res.Header)
	}
	res = userinfoWith(t, f, "DPoP "+tok.AccessToken, key.Proof(t, "GET", f.URL("/userinfo"), ast.ProofOptions{IssuedAt: now, AccessToken: tok.AccessToken, Nonce: nonce}))
	if res.Code != http.StatusOK {
		t.Fatalf("userinfo proof with the nonce: %s", res)
	}
}

// TestDPoPOff: without Config.DPoP a proof is ignored (RFC 9449 §5), the
// token is a Bearer token, and discovery does not advertise DPoP.
func TestDPoPOff(t *testing.T) {
	for _, on := range []bool{false, true} {
		f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) {
			if on {
				c.DPoP = &authserver.DPoPConfig{}
			}
		}})
		var meta map[string]any
		f.Get(t, "/.well-known/openid-configuration").JSON(&meta)
		if _, listed := meta["dpop_signing_alg_values_supported"]; listed != on {
			t.Fatalf("DPoP on=%v: dpop_signing_alg_values_supported listed=%v", on, listed)
		}
		if on {
			continue
		}
		code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
		res := tokenWithProof(t, f, ast.ThirdPartyPublic, codeForm(f, ast.ThirdPartyPublic, code),
			ast.NewDPoPKey(t).Proof(t, "POST", f.URL("/token"), ast.ProofOptions{IssuedAt: f.Clock.Now()}))
		if res.Code != http.StatusOK || tokenType(res) != "Bearer" {
			t.Fatalf("proof with DPoP off: %s, want a Bearer token", res)
		}
	}
}

func tokenType(res *ast.Response) string {
	var v struct {
		TokenType string `json:"token_type"`
	}
	res.JSON(&v)
	return v.TokenType
}

// TestDPoPCORS: a browser app may send the DPoP header cross-origin and
// read DPoP-Nonce (RFC 9449 §8).
func TestDPoPCORS(t *testing.T) {
	f := dpopFixture(t, true, true)
	r := f.NewRequest(http.MethodOptions, "/token", nil)
	r.Header.Set("Origin", "https://spa.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "dpop")
	if res := f.Serve(t, r); !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Fatalf("preflight does not allow the DPoP header: %v", res.Header)
	}
	r = f.NewRequest(http.MethodPost, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {ast.ThirdPartyPublic}})
	r.Header.Set("Origin", "https://spa.example")
	r.Header.Set("DPoP", ast.NewDPoPKey(t).Proof(t, "POST", f.URL("/token"), ast.ProofOptions{IssuedAt: f.Clock.Now()}))
	res := f.Serve(t, r)
	if res.OAuthError() != "use_dpop_nonce" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
		t.Fatalf("cross-origin nonce answer: %s %v", res, res.Header)
	}
}
