package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// TestOAuth4WebAPI: oauth4webapi (integration/oauthclient, installed by
// scripts/test.sh with npm ci from its lockfile), a certified client
// library, against a real Caddy with `private_key_jwt` and `dpop`: it
// redeems a code authenticating with a client assertion and sending a
// DPoP proof, reads UserInfo with the DPoP-bound token, and refreshes,
// each step checked by the library itself. The browser part is the Go
// harness's.
func TestOAuth4WebAPI(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node is not installed (needed for the oauth4webapi test)")
	}
	dir, err := filepath.Abs("oauthclient")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi")); err != nil {
		requireOrSkip(t, "oauth4webapi is not installed: run scripts/test.sh, or npm ci in integration/oauthclient")
	}
	key := newClientKey(t, "node-1")
	in := startExample(t, "private_key_jwt", "dpop",
		"client node-keyed {\n\t\t\ttype first_party\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tjwks `"+key.jwks(t)+"`\n\t\t\tdpop_bound_access_tokens\n\t\t}")

	cfg := in2oauth(in, "node-keyed", "", "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	res := in.newBrowser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "allow")
	mustCode(t, res, "st")
	privateJWK, err := json.Marshal(jose.JSONWebKey{Key: key.priv, KeyID: key.kid, Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{
		"issuer": in.issuer, "client_id": "node-keyed", "private_jwk": json.RawMessage(privateJWK), "kid": key.kid,
		"callback": res.callback.String(), "state": "st", "redirect_uri": cfg.RedirectURL, "code_verifier": v,
	})
	ctx := t.Context()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+filepath.Join(in.dir, "pki", "authorities", "local", "root.crt"))
	cmd.Stdin = strings.NewReader(string(input))
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oauth4webapi client: %v\n%s", err, stderr.String())
	}
	var got struct {
		TokenType            string `json:"token_type"`
		AccessToken          string `json:"access_token"`
		UserinfoSub          string `json:"userinfo_sub"`
		RefreshedTokenType   string `json:"refreshed_token_type"`
		RefreshedAccessToken string `json:"refreshed_access_token"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	if strings.ToLower(got.TokenType) != "dpop" || strings.ToLower(got.RefreshedTokenType) != "dpop" || got.UserinfoSub == "" {
		t.Fatalf("oauth4webapi result %+v", got)
	}
	cnf, _ := jwtClaims(t, got.AccessToken)["cnf"].(map[string]any)
	if cnf["jkt"] == nil {
		t.Fatalf("the token oauth4webapi got is not DPoP-bound: %v", jwtClaims(t, got.AccessToken))
	}
	// Without the library's key the token is useless.
	if st := in.userinfoStatus(got.RefreshedAccessToken); st != http.StatusUnauthorized {
		t.Fatalf("the DPoP token as Bearer at userinfo: %d, want 401", st)
	}
}
