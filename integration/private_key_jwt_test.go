package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientKey is a private_key_jwt client's key; assertion builds what
// golang.org/x/oauth2 cannot: the signed client assertion (RFC 7523 §3).
type clientKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newClientKey(t *testing.T, kid string) clientKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv: k, kid: kid}
}

func (k clientKey) jwks(t *testing.T) string {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (k clientKey) assertion(t *testing.T, clientID, aud string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud}, ID: rand.Text(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPrivateKeyJWT: through a real Caddy, clients that authenticate with
// signed assertions — one from the Caddyfile with its jwks inline, one
// made through the admin API with a jwks_uri the server fetches — redeem
// codes with golang.org/x/oauth2 (the assertion passed as extra
// parameters), introspect and revoke; a replayed assertion, one for
// another audience or signed by another key is refused; discovery lists
// the method.
func TestPrivateKeyJWT(t *testing.T) {
	static, fetched, stranger := newClientKey(t, "s1"), newClientKey(t, "f1"), newClientKey(t, "s1")
	// The admin-made client's key set, served over TLS on this machine.
	jwksServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(fetched.jwks(t)))
	}))
	t.Cleanup(jwksServer.Close)
	caFile := filepath.Join(t.TempDir(), "jwks-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: jwksServer.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ai := startAdmin(t,
		"private_key_jwt {\n\t\t\tallow_network 127.0.0.0/8\n\t\t\troot_certificate_file "+caFile+"\n\t\t}",
		"client keyed-static {\n\t\t\ttype third_party\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tjwks `"+static.jwks(t)+"`\n\t\t}")
	admin := ai.createClient(t, map[string]any{"client_name": "Keyed by URI", "type": "third_party", "redirect_uris": []string{"http://127.0.0.1/callback"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwksServer.URL + "/jwks.json"})
	if admin.ClientSecret != "" {
		t.Fatalf("a private_key_jwt client was given a secret: %+v", admin)
	}

	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
		Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(ai.fetch(t, ai.issuer+"/.well-known/openid-configuration")), &meta); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(meta.Methods, " "), "private_key_jwt") || len(meta.Algs) == 0 {
		t.Fatalf("discovery: %+v, want private_key_jwt and its algorithms", meta)
	}

	ctx := ai.ctx()
	for _, tc := range []struct {
		name, clientID string
		key            clientKey
	}{
		{"Caddyfile client, inline jwks", "keyed-static", static},
		{"admin API client, jwks_uri", admin.ClientID, fetched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := in2oauth(ai.instance, tc.clientID, "", "openid", "offline_access")
			v := oauth2.GenerateVerifier()
			code := mustCode(t, ai.newBrowser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "allow"), "st")
			tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v),
				oauth2.SetAuthURLParam("client_assertion_type", jwtBearerAssertion),
				oauth2.SetAuthURLParam("client_assertion", tc.key.assertion(t, tc.clientID, ai.issuer+"/token")))
			if err != nil {
				t.Fatalf("x/oauth2 exchange with a client assertion: %v", err)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token")
			}

			assertion := tc.key.assertion(t, tc.clientID, ai.issuer)
			post := func(path string, form url.Values) (int, string) {
				form.Set("client_assertion_type", jwtBearerAssertion)
				resp, body := ai.send(t, http.MethodPost, path, "application/x-www-form-urlencoded", "", form.Encode())
				return resp.StatusCode, string(body)
			}
			if st, body := post("/introspect", url.Values{"token": {tok.AccessToken}, "client_assertion": {assertion}}); st != http.StatusOK || !strings.Contains(body, `"active":true`) {
				t.Fatalf("introspection with an assertion: %d %s", st, body)
			}
			// Replayed, for another audience, signed by a stranger's key
			// carrying the same kid: all refused, the refresh token intact.
			for name, a := range map[string]string{
				"replayed":       assertion,
				"other audience": tc.key.assertion(t, tc.clientID, "https://elsewhere.example/token"),
				"stranger's key": stranger.assertion(t, tc.clientID, ai.issuer),
			} {
				st, body := post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_assertion": {a}})
				if st != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") {
					t.Fatalf("%s assertion: %d %s, want 401 invalid_client", name, st, body)
				}
			}
			// Without an assertion the client has no way in.
			if st, body := post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {tc.clientID}}); st == http.StatusOK {
				t.Fatalf("refresh without an assertion: %d %s", st, body)
			}
			if st, body := post("/revoke", url.Values{"token": {tok.RefreshToken}, "client_assertion": {tc.key.assertion(t, tc.clientID, ai.issuer+"/revoke")}}); st != http.StatusOK {
				t.Fatalf("revocation with an assertion: %d %s", st, body)
			}
			st, body := post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_assertion": {tc.key.assertion(t, tc.clientID, ai.issuer)}})
			if st != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
				t.Fatalf("refresh after revocation: %d %s, want invalid_grant", st, body)
			}
		})
	}
}
