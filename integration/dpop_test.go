package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestDPoP: through a real Caddy with `dpop` on, a public app (demo-cli)
// gets a DPoP-bound token for the gated site with a proof (the proof
// builder follows RFC 9449 §4.2: no DPoP client is among the
// dependencies) and uses it at UserInfo and through the gate with fresh
// proofs; the same token stolen (sent with another key's proof, or as
// Bearer) and a replayed proof are refused at both; the bound refresh
// token works only with the key. Discovery advertises DPoP.
func TestDPoP(t *testing.T) {
	in := startExample(t, "dpop")
	var meta struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(in.fetch(t, in.issuer+"/.well-known/openid-configuration")), &meta); err != nil || len(meta.Algs) == 0 {
		t.Fatalf("discovery dpop_signing_alg_values_supported = %v (%v)", meta.Algs, err)
	}
	key, thief := ast.NewDPoPKey(t), ast.NewDPoPKey(t)
	cfg := in.oauthConfig(demoCLI, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", in.gate)), "allow"), "st")
	tokenURL := in.issuer + "/token"
	post := func(form url.Values, proof string) (int, map[string]any) {
		form.Set("client_id", demoCLI.id)
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		if proof != "" {
			h["DPoP"] = proof
		}
		resp := in.request(t, http.MethodPost, tokenURL, strings.NewReader(form.Encode()), h)
		defer resp.Body.Close()
		var body map[string]any
		decodeJSON(t, resp, &body)
		return resp.StatusCode, body
	}
	st, tok := post(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cfg.RedirectURL}, "code_verifier": {v}},
		key.Proof(t, "POST", tokenURL, ast.ProofOptions{}))
	at, _ := tok["access_token"].(string)
	rt, _ := tok["refresh_token"].(string)
	if st != http.StatusOK || tok["token_type"] != "DPoP" || at == "" || rt == "" {
		t.Fatalf("token request with a proof: %d %v", st, tok)
	}

	call := func(target, auth string, proofs ...string) (int, string) {
		h := map[string]string{"Authorization": auth, "Accept": "application/json"}
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	for _, target := range []string{in.issuer + "/userinfo", in.gate + "/api/data"} {
		t.Run(target, func(t *testing.T) {
			proof := key.Proof(t, "GET", target, ast.ProofOptions{AccessToken: at})
			if st, wa := call(target, "DPoP "+at, proof); st != http.StatusOK {
				t.Fatalf("DPoP token with its proof: %d %s", st, wa)
			}
			for name, c := range map[string]struct {
				auth  string
				proof string
			}{
				"replayed proof":         {"DPoP " + at, proof},
				"stolen, thief's proof":  {"DPoP " + at, thief.Proof(t, "GET", target, ast.ProofOptions{AccessToken: at})},
				"stolen, sent as Bearer": {"Bearer " + at, ""},
				"proof for another URL":  {"DPoP " + at, key.Proof(t, "GET", target+"/elsewhere", ast.ProofOptions{AccessToken: at})},
				"proof for another verb": {"DPoP " + at, key.Proof(t, "POST", target, ast.ProofOptions{AccessToken: at})},
			} {
				var proofs []string
				if c.proof != "" {
					proofs = append(proofs, c.proof)
				}
				if st, wa := call(target, c.auth, proofs...); st != http.StatusUnauthorized || !strings.Contains(wa, "error=") {
					t.Errorf("%s: %d %q, want 401 with an error", name, st, wa)
				}
			}
		})
	}

	if st, body := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, thief.Proof(t, "POST", tokenURL, ast.ProofOptions{})); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh with the thief's key: %d %v", st, body)
	}
	if st, body := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, key.Proof(t, "POST", tokenURL, ast.ProofOptions{})); st != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %v", st, body)
	}
}
