package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestTokenExchange: through a real Caddy with token_exchange on, an
// upstream behind the gate (a confidential client allowed the grant)
// trades the user's token for the gated site for one aimed at a
// downstream API the user consented to; the new token names the user,
// the upstream as actor, and only the downstream API. A resource the user
// never consented to, and a client not allowed the grant, are refused.
func TestTokenExchange(t *testing.T) {
	const downstream = "https://api.example"
	in := startExample(t, "token_exchange",
		"client mcp-upstream {\n\t\t\ttype first_party\n\t\t\tsecret_hash "+sha256Secret("upstream-secret")+
			"\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\tgrant_types urn:ietf:params:oauth:grant-type:token-exchange\n\t\t}")
	cfg := in.oauthConfig(demoSPA, "openid", "profile")
	v := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", in.gate)) + "&resource=" + url.QueryEscape(downstream)
	code := mustCode(t, in.newBrowser().authorize(authURL, "allow"), "st")
	tok, st := in.postToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cfg.RedirectURL},
		"code_verifier": {v}, "client_id": {demoSPA.id}, "resource": {in.gate}})
	if st != http.StatusOK {
		t.Fatalf("user token: %d %+v", st, tok)
	}
	exchange := func(id, secret, resource string) (int, string) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {resource}}
		resp, body := in.send(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", basicAuth(id, secret), form.Encode())
		return resp.StatusCode, string(body)
	}
	st, body := exchange("mcp-upstream", "upstream-secret", downstream)
	if st != http.StatusOK || !strings.Contains(body, `"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"`) {
		t.Fatalf("token exchange: %d %s", st, body)
	}
	var out tokenJSON
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	c := jwtClaims(t, out.AccessToken)
	act, _ := c["act"].(map[string]any)
	if c["sub"] == nil || act["sub"] != "mcp-upstream" || fmt.Sprint(c["aud"]) != downstream || c["client_id"] != "mcp-upstream" {
		t.Fatalf("exchanged token claims %v", c)
	}
	if c["sub"] != jwtClaims(t, tok.AccessToken)["sub"] {
		t.Fatalf("exchanged token's sub %v is not the user's", c["sub"])
	}
	if st, body := exchange("mcp-upstream", "upstream-secret", "https://not-consented.example"); st != http.StatusBadRequest || !strings.Contains(body, "invalid_target") {
		t.Fatalf("exchange for a resource outside the grant: %d %s", st, body)
	}
	if st, body := exchange(demoWeb.id, demoWeb.secret, downstream); st != http.StatusBadRequest || !strings.Contains(body, "unauthorized_client") {
		t.Fatalf("exchange by a client not allowed to: %d %s", st, body)
	}
}
