package authserver_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

const keyedClient = "keyed-service"

// assertionKey is a client's signing key with its id.
type assertionKey struct {
	key crypto.Signer
	kid string
	alg jose.SignatureAlgorithm
}

func newAssertionKey(t testing.TB, kid string) assertionKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return assertionKey{key: k, kid: kid, alg: jose.ES256}
}

func (k assertionKey) jwks(t testing.TB) string {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sign makes a client assertion (RFC 7523 §3) with claims.
func (k assertionKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertionClaims are a good assertion's claims for clientID at now.
func assertionClaims(clientID, aud string, now time.Time) map[string]any {
	return map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
}

// keyedFixture has a third-party private_key_jwt client with key.
func keyedFixture(t *testing.T, key assertionKey, enabled bool) *ast.Fixture {
	t.Helper()
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: keyedClient, Metadata: clients.Metadata{
			Name: "Keyed Service", Type: clients.ThirdParty, RedirectURIs: []string{"https://keyed.example/cb"},
			TokenEndpointAuthMethod: clients.AuthMethodPrivateKeyJWT, JWKS: key.jwks(t)}}},
		Configure: func(c *authserver.Config) {
			if enabled {
				c.ClientKeys = clients.NewKeySets(clients.KeySetOptions{Now: c.Now})
			}
		},
	})
}

func assertionForm(assertion string) url.Values {
	return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
}

func postAssertion(t *testing.T, f *ast.Fixture, path string, form url.Values) *ast.Response {
	t.Helper()
	return f.Serve(t, f.NewRequest(http.MethodPost, path, form))
}

// TestClientAssertionCodeFlow: a private_key_jwt client redeems a code
// and refreshes with assertions, each used once.
func TestClientAssertionCodeFlow(t *testing.T) {
	key := newAssertionKey(t, "k1")
	f := keyedFixture(t, key, true)
	code := f.NewBrowser(t).Code(ast.Edit(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access"), url.Values{
		"client_id": {keyedClient}, "redirect_uri": {"https://keyed.example/cb"}}))
	form := assertionForm(key.sign(t, assertionClaims(keyedClient, f.URL("/token"), f.Clock.Now())))
	for k, v := range (url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://keyed.example/cb"}, "code_verifier": {ast.Verifier}}) {
		form[k] = v
	}
	res := postAssertion(t, f, "/token", form)
	if res.Code != http.StatusOK {
		t.Fatalf("code redemption with a client assertion: %s", res)
	}
	var tok ast.Tokens
	res.JSON(&tok)
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token: %s", res)
	}
	// The issuer as audience works as well as the token endpoint.
	form = assertionForm(key.sign(t, assertionClaims(keyedClient, ast.Issuer, f.Clock.Now())))
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", tok.RefreshToken)
	if res := postAssertion(t, f, "/token", form); res.Code != http.StatusOK {
		t.Fatalf("refresh with a client assertion (aud = issuer): %s", res)
	}
	// The same assertion again is a replay, and nothing is rotated.
	if res := postAssertion(t, f, "/token", form); res.Code != http.StatusUnauthorized || res.OAuthError() != "invalid_client" ||
		!strings.Contains(res.String(), "already been used") {
		t.Fatalf("replayed assertion: %s, want 401 invalid_client", res)
	}
}

// TestClientAssertionRefusals: every check of RFC 7523 §3, at the token,
// introspection and revocation endpoints, table-driven.
func TestClientAssertionRefusals(t *testing.T) {
	key := newAssertionKey(t, "k1")
	other := newAssertionKey(t, "k1") // same kid, not the client's key
	f := keyedFixture(t, key, true)
	now := f.Clock.Now()
	tokenURL := f.URL("/token")
	edit := func(change func(c map[string]any)) string {
		c := assertionClaims(keyedClient, tokenURL, now)
		change(c)
		return key.sign(t, c)
	}
	hmacAssertion := func() string {
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
		s, _ := jwt.Signed(signer).Claims(assertionClaims(keyedClient, tokenURL, now)).Serialize()
		return s
	}
	unsigned := func() string {
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		return enc(map[string]any{"alg": "none"}) + "." + enc(assertionClaims(keyedClient, tokenURL, now)) + "."
	}
	tests := []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		code   string
		detail string
	}{
		{"wrong aud", assertionForm(edit(func(c map[string]any) { c["aud"] = "https://elsewhere.example/token" })), false, 401, "invalid_client", "aud"},
		{"no exp", assertionForm(edit(func(c map[string]any) { delete(c, "exp") })), false, 401, "invalid_client", "no exp"},
		{"expired", assertionForm(edit(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), false, 401, "invalid_client", "expired"},
		{"exp too far", assertionForm(edit(func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() })), false, 401, "invalid_client", "more than"},
		{"not yet valid", assertionForm(edit(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), false, 401, "invalid_client", "not valid yet"},
		{"issued in the future", assertionForm(edit(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() })), false, 401, "invalid_client", "future"},
		{"no jti", assertionForm(edit(func(c map[string]any) { delete(c, "jti") })), false, 401, "invalid_client", "jti"},
		{"long jti", assertionForm(edit(func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) })), false, 401, "invalid_client", "jti"},
		{"iss is not sub", assertionForm(edit(func(c map[string]any) { c["iss"] = ast.ThirdParty })), false, 401, "invalid_client", "iss and sub"},
		{"another client's id", assertionForm(edit(func(c map[string]any) { c["iss"], c["sub"] = ast.ThirdParty, ast.ThirdParty })), false, 401, "invalid_client", "private_key_jwt"},
		{"unknown client", assertionForm(edit(func(c map[string]any) { c["iss"], c["sub"] = "nobody", "nobody" })), false, 401, "invalid_client", "failed"},
		{"wrong key", assertionForm(other.sign(t, assertionClaims(keyedClient, tokenURL, now))), false, 401, "invalid_client", "signature"},
		{"HMAC", assertionForm(hmacAssertion()), false, 401, "invalid_client", "accepted algorithm"},
		{"alg none", assertionForm(unsigned()), false, 401, "invalid_client", "accepted algorithm"},
		{"garbage", assertionForm("not.a.jwt"), false, 401, "invalid_client", "accepted algorithm"},
		{"oversized", assertionForm(strings.Repeat("a", 9000)), false, 401, "invalid_client", "too large"},
		{"wrong type", ast.Edit(assertionForm(edit(func(map[string]any) {})), url.Values{"client_assertion_type": {"urn:x"}}), false, 401, "invalid_client", "client_assertion_type"},
		{"no type", ast.Edit(assertionForm(edit(func(map[string]any) {})), url.Values{"client_assertion_type": nil}), false, 400, "invalid_request", "client_assertion_type"},
		{"no assertion", ast.Edit(assertionForm(""), url.Values{"client_assertion": nil}), false, 400, "invalid_request", "client_assertion"},
		{"client_id differs", ast.Edit(assertionForm(edit(func(map[string]any) {})), url.Values{"client_id": {ast.ThirdParty}}), false, 401, "invalid_client", "does not match"},
		{"with a secret too", ast.Edit(assertionForm(edit(func(map[string]any) {})), url.Values{"client_secret": {"x"}}), false, 400, "invalid_request", "only one"},
		{"with Basic too", assertionForm(edit(func(map[string]any) {})), true, 400, "invalid_request", "only one"},
	}
	for _, path := range []string{"/token", "/introspect", "/revoke"} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				form := ast.Edit(tc.form, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "token": {"x"}})
				req := f.NewRequest(http.MethodPost, path, form)
				if tc.basic {
					req.SetBasicAuth(ast.ThirdParty, ast.ThirdPartySecret)
				}
				res := f.Serve(t, req)
				if res.Code != tc.status || res.OAuthError() != tc.code || !strings.Contains(res.String(), tc.detail) {
					t.Fatalf("got %s, want %d %s about %q", res, tc.status, tc.code, tc.detail)
				}
			})
		}
	}
	// A good assertion passes at introspection and revocation, whose own
	// URLs are accepted audiences too.
	for _, path := range []string{"/introspect", "/revoke"} {
		form := ast.Edit(assertionForm(key.sign(t, assertionClaims(keyedClient, f.URL(path), now))), url.Values{"token": {"x"}})
		if res := postAssertion(t, f, path, form); res.Code != http.StatusOK {
			t.Fatalf("%s with a good assertion: %s", path, res)
		}
	}
	// The client cannot fall back to a secret or to no authentication.
	for _, form := range []url.Values{{"client_id": {keyedClient}, "token": {"x"}}, {"client_id": {keyedClient}, "client_secret": {"guess"}, "token": {"x"}}} {
		if res := postAssertion(t, f, "/introspect", form); res.Code != http.StatusUnauthorized {
			t.Fatalf("private_key_jwt client without an assertion (%v): %s, want 401", form, res)
		}
	}
	// A secret client cannot authenticate with an assertion.
	res := postAssertion(t, f, "/introspect", ast.Edit(assertionForm(key.sign(t, assertionClaims(ast.ThirdParty, tokenURL, now))), url.Values{"token": {"x"}}))
	if res.Code != http.StatusUnauthorized || !strings.Contains(res.String(), "private_key_jwt") {
		t.Fatalf("assertion for a secret client: %s", res)
	}
}

// TestClientAssertionOff: without ClientKeys, assertions are refused and
// discovery does not list private_key_jwt; with it, it does.
func TestClientAssertionOff(t *testing.T) {
	key := newAssertionKey(t, "k1")
	for _, enabled := range []bool{false, true} {
		f := keyedFixture(t, key, enabled)
		res := postAssertion(t, f, "/introspect", ast.Edit(assertionForm(key.sign(t, assertionClaims(keyedClient, ast.Issuer, f.Clock.Now()))), url.Values{"token": {"x"}}))
		if (res.Code == http.StatusOK) != enabled {
			t.Fatalf("enabled=%v: assertion answered %s", enabled, res)
		}
		var meta map[string]any
		f.Get(t, "/.well-known/openid-configuration").JSON(&meta)
		methods, _ := json.Marshal(meta["token_endpoint_auth_methods_supported"])
		_, algs := meta["token_endpoint_auth_signing_alg_values_supported"]
		if strings.Contains(string(methods), "private_key_jwt") != enabled || algs != enabled {
			t.Fatalf("enabled=%v: discovery lists %s, signing algs listed: %v", enabled, methods, algs)
		}
	}
}

// TestRegisterKeyedClient: with an initial access token an app registers
// as a private_key_jwt client (no secret issued) and authenticates with an
// assertion; a server with private_key_jwt or DPoP off refuses such
// metadata with invalid_client_metadata.
func TestRegisterKeyedClient(t *testing.T) {
	key := newAssertionKey(t, "r1")
	body := `{"redirect_uris":["https://keyed.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":` + key.jwks(t) + `}`
	for _, on := range []bool{false, true} {
		f := ast.New(t, ast.Options{Registration: authserver.RegistrationToken, Configure: func(c *authserver.Config) {
			if on {
				c.ClientKeys = clients.NewKeySets(clients.KeySetOptions{})
			}
		}})
		res := f.Serve(t, jsonRequest(f, http.MethodPost, "/register", body, ast.InitialAccessToken))
		if !on {
			if res.Code != http.StatusBadRequest || res.OAuthError() != "invalid_client_metadata" {
				t.Fatalf("private_key_jwt registration with it off: %s", res)
			}
			res = f.Serve(t, jsonRequest(f, http.MethodPost, "/register", `{"redirect_uris":["https://keyed.example/cb"],"dpop_bound_access_tokens":true}`, ast.InitialAccessToken))
			if res.Code != http.StatusBadRequest || !strings.Contains(res.String(), "dpop_bound_access_tokens") {
				t.Fatalf("dpop_bound_access_tokens registration with DPoP off: %s", res)
			}
			continue
		}
		var reg struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if res.Code != http.StatusCreated {
			t.Fatalf("private_key_jwt registration: %s", res)
		}
		res.JSON(&reg)
		if reg.ClientSecret != "" {
			t.Fatalf("a private_key_jwt client was issued a secret: %s", res)
		}
		form := ast.Edit(assertionForm(key.sign(t, assertionClaims(reg.ClientID, ast.Issuer, f.Clock.Now()))), url.Values{"token": {"x"}})
		if res := postAssertion(t, f, "/introspect", form); res.Code != http.StatusOK {
			t.Fatalf("registered client's assertion: %s", res)
		}
	}
}
