package clients

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// testJWKS is a key set of one fresh P-256 public key, as JSON.
func testJWKS(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jwksOf(t, jose.JSONWebKey{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"})
}

func jwksOf(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeysMetadata: jwks and jwks_uri go with private_key_jwt only, one
// of them, with public asymmetric keys of sound size.
func TestKeysMetadata(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := testJWKS(t)
	base := func(edit func(m *Metadata)) Metadata {
		m := Metadata{Name: "App", Type: ThirdParty, RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: AuthMethodPrivateKeyJWT}
		edit(&m)
		return m
	}
	many := make([]jose.JSONWebKey, 11)
	for i := range many {
		many[i] = jose.JSONWebKey{Key: &ec.PublicKey, KeyID: strings.Repeat("k", i+1)}
	}
	tests := []struct {
		name      string
		md        Metadata
		wantField string
	}{
		{"jwks", base(func(m *Metadata) { m.JWKS = good }), ""},
		{"jwks_uri", base(func(m *Metadata) { m.JWKSURI = "https://app.example/jwks.json" }), ""},
		{"Ed25519 key", base(func(m *Metadata) { m.JWKS = jwksOf(t, jose.JSONWebKey{Key: edPriv.Public()}) }), ""},
		{"neither", base(func(m *Metadata) {}), "jwks"},
		{"both", base(func(m *Metadata) { m.JWKS, m.JWKSURI = good, "https://app.example/jwks.json" }), "jwks"},
		{"jwks with a secret method", base(func(m *Metadata) { m.JWKS, m.TokenEndpointAuthMethod = good, "client_secret_basic" }), "jwks"},
		{"jwks_uri with a secret method", base(func(m *Metadata) {
			m.JWKSURI, m.TokenEndpointAuthMethod = "https://app.example/jwks.json", "client_secret_post"
		}), "jwks_uri"},
		{"public client", base(func(m *Metadata) { m.Type, m.JWKS = ThirdPartyPublic, good }), "token_endpoint_auth_method"},
		{"private key in jwks", base(func(m *Metadata) { m.JWKS = jwksOf(t, jose.JSONWebKey{Key: ec}) }), "jwks"},
		{"symmetric key in jwks", base(func(m *Metadata) { m.JWKS = `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}` }), "jwks"},
		{"small RSA key", base(func(m *Metadata) { m.JWKS = jwksOf(t, jose.JSONWebKey{Key: &smallRSA.PublicKey}) }), "jwks"},
		{"encryption key", base(func(m *Metadata) { m.JWKS = jwksOf(t, jose.JSONWebKey{Key: &ec.PublicKey, Use: "enc"}) }), "jwks"},
		{"empty key set", base(func(m *Metadata) { m.JWKS = `{"keys":[]}` }), "jwks"},
		{"eleven keys", base(func(m *Metadata) { m.JWKS = jwksOf(t, many...) }), "jwks"},
		{"not a key set", base(func(m *Metadata) { m.JWKS = `{"keys":"x"}` }), "jwks"},
		{"http jwks_uri", base(func(m *Metadata) { m.JWKSURI = "http://app.example/jwks.json" }), "jwks_uri"},
		{"jwks_uri with a fragment", base(func(m *Metadata) { m.JWKSURI = "https://app.example/jwks.json#k" }), "jwks_uri"},
		{"jwks_uri with credentials", base(func(m *Metadata) { m.JWKSURI = "https://u:p@app.example/jwks.json" }), "jwks_uri"},
		{"long jwks_uri", base(func(m *Metadata) { m.JWKSURI = "https://app.example/" + strings.Repeat("j", 2000) }), "jwks_uri"},
		{"token exchange", base(func(m *Metadata) {
			m.JWKS, m.GrantTypes = good, []string{GrantTypeTokenExchange}
		}), ""},
		{"token exchange for a public client", base(func(m *Metadata) {
			m.Type, m.TokenEndpointAuthMethod, m.GrantTypes = ThirdPartyPublic, "none", []string{"authorization_code", GrantTypeTokenExchange}
		}), "grant_types"},
		{"DPoP-bound tokens", base(func(m *Metadata) { m.JWKS, m.DPoPBoundAccessTokens = good, true }), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.md.Validate(testScopes)
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.wantField != "" && (err == nil || err.(*MetadataError).Field != tc.wantField):
				t.Fatalf("got %v, want an error about %s", err, tc.wantField)
			}
		})
	}
}

// TestKeysDecode: jwks is read as an object or a string holding one, in
// every dialect, and written back as an object.
func TestKeysDecode(t *testing.T) {
	good := testJWKS(t)
	quoted, _ := json.Marshal(good)
	for _, raw := range []string{good, string(quoted)} {
		var md Metadata
		if err := md.Decode(map[string]json.RawMessage{"jwks": json.RawMessage(raw)}, AdminJSON); err != nil {
			t.Fatalf("Decode(%s): %v", raw, err)
		}
		if md.JWKS != good {
			t.Fatalf("jwks decoded as %s, want %s", md.JWKS, good)
		}
		out, _ := json.Marshal(md.Fields(RegistrationJSON))
		if !strings.Contains(string(out), `"jwks":`+good) {
			t.Fatalf("registration fields %s lack the key set as an object", out)
		}
	}
	for _, bad := range []string{`[1]`, `"not json"`, `42`, `"` + strings.Repeat("a", maxJSONMember+1) + `"`} {
		var md Metadata
		if err := md.Decode(map[string]json.RawMessage{"jwks": json.RawMessage(bad)}, AdminJSON); err == nil {
			t.Errorf("Decode(jwks=%.40s) accepted", bad)
		}
	}
}

// TestPrivateKeyJWTClientPrepare: such a client needs no secret and may
// have none.
func TestPrivateKeyJWTClientPrepare(t *testing.T) {
	c := &Client{ID: "svc", Metadata: Metadata{Type: ThirdParty, RedirectURIs: []string{"https://app.example/cb"},
		TokenEndpointAuthMethod: AuthMethodPrivateKeyJWT, JWKS: testJWKS(t)}}
	if err := c.Prepare(testScopes); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !c.UsesKeys() {
		t.Fatal("UsesKeys = false")
	}
	c.SecretHashes = []string{HashSecret("s")}
	if err := c.Prepare(testScopes); err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Fatalf("Prepare with a secret: %v, want a refusal", err)
	}
}
