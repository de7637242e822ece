package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func esSign(t testing.TB, priv *ecdsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}

func rsSign(t testing.TB, priv *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func psSign(t testing.TB, priv *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		sig, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func hsSign(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		mac := hmac.New(sha256.New, key)
		mac.Write(input)
		return mac.Sum(nil)
	}
}

func sign(t testing.TB, m *KeyManager, alg, typ string, claims any) string {
	t.Helper()
	tok, err := m.Sign(alg, typ, claims)
	if err != nil {
		t.Fatalf("Sign(%s): %v", alg, err)
	}
	return tok
}

func TestSignVerifyRoundTrip(t *testing.T) {
	m := fixture()
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			want := accessClaims()
			tok := sign(t, m, alg, TypeAccessToken, want)
			h := decodeHeader(t, tok)
			if h["alg"] != alg || h["kid"] != kidOf(t, m, alg) || h["typ"] != TypeAccessToken || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			v := &Verifier{Keys: m, Issuer: testIssuer, Audience: "https://api.example.test",
				Algorithms: []string{alg}, Type: TypeAccessToken, Now: func() time.Time { return t0 }}
			var got AccessTokenClaims
			if err := v.Verify(context.Background(), tok, &got); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != want.Subject || got.GrantID != want.GrantID || got.Expiry != want.Expiry ||
				len(got.Audience) != 1 || got.Audience[0] != want.Audience[0] {
				t.Errorf("claims = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSignIDToken(t *testing.T) {
	m := fixture()
	verified := true
	c := IDTokenClaims{
		Issuer: testIssuer, Subject: "u1", Audience: Audience{"client-1"},
		Expiry: NewNumericDate(t0.Add(time.Hour)), IssuedAt: NewNumericDate(t0),
		AuthTime: NewNumericDate(t0.Add(-time.Minute)), Nonce: "n-0S6_WzA2Mj",
		Email: "u1@example.test", EmailVerified: &verified,
	}
	c.AccessTokenHash = AtHash(ES256, "access-token")
	tok := sign(t, m, ES256, TypeIDToken, c)
	v := &Verifier{Keys: m, Issuer: testIssuer, Audience: "client-1", Type: TypeIDToken, Now: func() time.Time { return t0 }}
	var got IDTokenClaims
	if err := v.Verify(context.Background(), tok, &got); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Nonce != c.Nonce || got.AccessTokenHash != c.AccessTokenHash || got.EmailVerified == nil || !*got.EmailVerified {
		t.Errorf("claims = %+v", got)
	}
	// An ID token is not an access token (RFC 8725 §3.11).
	v.Type = TypeAccessToken
	if err := v.Verify(context.Background(), tok, nil); !errors.Is(err, ErrInvalidType) {
		t.Errorf("ID token verified as access token: %v", err)
	}
}

func TestSignWithoutType(t *testing.T) {
	tok := sign(t, fixture(), ES256, "", accessClaims())
	if h := decodeHeader(t, tok); len(h) != 2 || h["typ"] != nil {
		t.Errorf("header = %v, want only alg and kid", h)
	}
}

// failingSource is a KeySource that cannot reach its keys.
type failingSource struct{}

var errSourceDown = errors.New("jwks endpoint unreachable")

func (failingSource) VerificationKeys(context.Context, string) ([]jose.JSONWebKey, error) {
	return nil, errSourceDown
}

func TestVerify(t *testing.T) {
	m := fixture()
	other := loadManager(t, newTestStore(t), newSealer(t), func() time.Time { return t0 }, ES256)
	esKid, rsKid, psKid := kidOf(t, m, ES256), kidOf(t, m, RS256), kidOf(t, m, PS256)
	esPriv := privOf(t, m, ES256).(*ecdsa.PrivateKey)
	rsPriv := privOf(t, m, RS256).(*rsa.PrivateKey)
	rsPub := privOf(t, m, RS256).Public()
	strangerEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	pubDER, _ := x509.MarshalPKIXPublicKey(rsPub)
	rsPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	esJWK := mustJSON(t, m.cur.Load().byKID[esKid].pub)

	claims := func(mod func(*AccessTokenClaims)) AccessTokenClaims {
		c := accessClaims()
		if mod != nil {
			mod(&c)
		}
		return c
	}
	good := func(mod func(*AccessTokenClaims)) func(t *testing.T) string {
		return func(t *testing.T) string { return sign(t, m, ES256, TypeAccessToken, claims(mod)) }
	}
	at := func(d time.Duration) NumericDate { return NewNumericDate(t0.Add(d)) }
	hdr := func(alg, kid string) map[string]any {
		h := map[string]any{"alg": alg, "typ": TypeAccessToken}
		if kid != "" {
			h["kid"] = kid
		}
		return h
	}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		cfg   func(v *Verifier)
		want  error // nil means success
	}{
		{"valid", good(nil), nil, nil},
		{"valid, exp within leeway", good(func(c *AccessTokenClaims) { c.Expiry = at(-10 * time.Second) }), nil, nil},
		{"valid, aud array containing audience", good(func(c *AccessTokenClaims) {
			c.Audience = Audience{"https://other.example.test", "https://api.example.test"}
		}), nil, nil},
		{"valid, typ with application/ prefix", func(t *testing.T) string {
			return sign(t, m, ES256, "application/at+jwt", accessClaims())
		}, nil, nil},
		{"valid, typ in upper case", func(t *testing.T) string {
			return sign(t, m, ES256, "AT+JWT", accessClaims())
		}, nil, nil},
		{"valid, configured type with prefix", good(nil), func(v *Verifier) { v.Type = "Application/AT+JWT" }, nil},
		{"valid, no audience configured", good(func(c *AccessTokenClaims) { c.Audience = nil }),
			func(v *Verifier) { v.Audience = "" }, nil},
		{"valid, nbf and iat within leeway", good(func(c *AccessTokenClaims) {
			c.NotBefore, c.IssuedAt = at(20*time.Second), at(20*time.Second)
		}), nil, nil},

		{"expired", good(func(c *AccessTokenClaims) { c.Expiry = at(-time.Minute) }), nil, ErrExpired},
		{"expired exactly now without leeway", good(func(c *AccessTokenClaims) { c.Expiry = at(0) }),
			func(v *Verifier) { v.Leeway = -1 }, ErrExpired},
		{"expired with custom leeway", good(func(c *AccessTokenClaims) { c.Expiry = at(-10 * time.Second) }),
			func(v *Verifier) { v.Leeway = 5 * time.Second }, ErrExpired},
		{"nbf in the future", good(func(c *AccessTokenClaims) { c.NotBefore = at(2 * time.Minute) }), nil, ErrNotYetValid},
		{"iat in the future", good(func(c *AccessTokenClaims) { c.IssuedAt = at(2 * time.Minute) }), nil, ErrNotYetValid},
		{"no exp", func(t *testing.T) string {
			return sign(t, m, ES256, TypeAccessToken, map[string]any{"iss": testIssuer, "aud": "https://api.example.test"})
		}, nil, ErrMalformed},
		{"exp not a number", func(t *testing.T) string {
			return sign(t, m, ES256, TypeAccessToken, map[string]any{"iss": testIssuer, "aud": "https://api.example.test", "exp": "tomorrow"})
		}, nil, ErrMalformed},
		{"wrong issuer", good(func(c *AccessTokenClaims) { c.Issuer = "https://evil.example.test" }), nil, ErrInvalidIssuer},
		{"issuer with trailing slash", good(func(c *AccessTokenClaims) { c.Issuer = testIssuer + "/" }), nil, ErrInvalidIssuer},
		{"no issuer", good(func(c *AccessTokenClaims) { c.Issuer = "" }), nil, ErrInvalidIssuer},
		{"wrong audience", good(func(c *AccessTokenClaims) { c.Audience = Audience{"https://other.example.test"} }), nil, ErrInvalidAudience},
		{"no audience", good(func(c *AccessTokenClaims) { c.Audience = nil }), nil, ErrInvalidAudience},
		{"wrong type", func(t *testing.T) string { return sign(t, m, ES256, TypeIDToken, accessClaims()) }, nil, ErrInvalidType},
		{"no type", func(t *testing.T) string { return sign(t, m, ES256, "", accessClaims()) }, nil, ErrInvalidType},
		{"logout token as access token", func(t *testing.T) string {
			return sign(t, m, ES256, TypeLogoutToken, accessClaims())
		}, nil, ErrInvalidType},

		{"alg none", func(t *testing.T) string {
			return craft(t, hdr("none", esKid), accessClaims(), nil)
		}, nil, ErrInvalidAlgorithm},
		{"alg none even when configured", func(t *testing.T) string {
			return craft(t, hdr("none", esKid), accessClaims(), nil)
		}, func(v *Verifier) { v.Algorithms = []string{"none", ES256} }, ErrInvalidAlgorithm},
		{"alg None (case variant)", func(t *testing.T) string {
			return craft(t, hdr("None", esKid), accessClaims(), nil)
		}, nil, ErrInvalidAlgorithm},
		{"no alg", func(t *testing.T) string {
			return craft(t, map[string]any{"kid": esKid}, accessClaims(), esSign(t, esPriv))
		}, nil, ErrInvalidAlgorithm},
		{"HS256 keyed with RSA public key PEM", func(t *testing.T) string {
			return craft(t, hdr("HS256", rsKid), accessClaims(), hsSign(rsPubPEM))
		}, nil, ErrInvalidAlgorithm},
		{"HS256 keyed with public JWK, HS256 configured", func(t *testing.T) string {
			return craft(t, hdr("HS256", esKid), accessClaims(), hsSign(esJWK))
		}, func(v *Verifier) { v.Algorithms = []string{"HS256", ES256, RS256} }, ErrInvalidAlgorithm},
		{"alg not in verifier's list", func(t *testing.T) string {
			return sign(t, m, RS256, TypeAccessToken, accessClaims())
		}, func(v *Verifier) { v.Algorithms = []string{ES256} }, ErrInvalidAlgorithm},
		{"ES256 header, RS key's kid, RS signature", func(t *testing.T) string {
			return craft(t, hdr(ES256, rsKid), accessClaims(), rsSign(t, rsPriv))
		}, nil, ErrInvalidAlgorithm},
		{"RS256 header, ES key's kid", func(t *testing.T) string {
			return craft(t, hdr(RS256, esKid), accessClaims(), rsSign(t, rsPriv))
		}, nil, ErrInvalidAlgorithm},
		{"PS256 header, RS256 key's kid, PSS signature by that key", func(t *testing.T) string {
			return craft(t, hdr(PS256, rsKid), accessClaims(), psSign(t, rsPriv))
		}, nil, ErrInvalidAlgorithm},
		{"RS256 header, PS256 key's kid", func(t *testing.T) string {
			return craft(t, hdr(RS256, psKid), accessClaims(), rsSign(t, rsPriv))
		}, nil, ErrInvalidAlgorithm},

		{"signed by an unknown key", func(t *testing.T) string {
			return sign(t, other, ES256, TypeAccessToken, accessClaims())
		}, nil, ErrUnknownKey},
		{"no kid", func(t *testing.T) string {
			return craft(t, hdr(ES256, ""), accessClaims(), esSign(t, esPriv))
		}, nil, ErrUnknownKey},
		{"known kid, different key", func(t *testing.T) string {
			return craft(t, hdr(ES256, esKid), accessClaims(), esSign(t, strangerEC))
		}, nil, ErrInvalidSignature},
		{"tampered payload", func(t *testing.T) string {
			parts := strings.Split(sign(t, m, ES256, TypeAccessToken, accessClaims()), ".")
			parts[1] = b64(mustJSON(t, claims(func(c *AccessTokenClaims) { c.Subject = "admin" })))
			return strings.Join(parts, ".")
		}, nil, ErrInvalidSignature},
		{"tampered header", func(t *testing.T) string {
			parts := strings.Split(sign(t, m, ES256, TypeAccessToken, accessClaims()), ".")
			parts[0] = b64(mustJSON(t, map[string]any{"alg": ES256, "kid": esKid, "typ": "at+JWT"}))
			return strings.Join(parts, ".")
		}, nil, ErrInvalidSignature},
		{"signature stripped", func(t *testing.T) string {
			tok := sign(t, m, ES256, TypeAccessToken, accessClaims())
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, nil, ErrInvalidSignature},

		{"crit header", func(t *testing.T) string {
			h := hdr(ES256, esKid)
			h["crit"] = []string{"exp"}
			h["exp"] = 1
			return craft(t, h, accessClaims(), esSign(t, esPriv))
		}, nil, ErrMalformed},
		{"payload not an object", func(t *testing.T) string {
			return craft(t, hdr(ES256, esKid), []string{"a"}, esSign(t, esPriv))
		}, nil, ErrMalformed},
		{"payload not JSON", func(t *testing.T) string {
			return craft(t, hdr(ES256, esKid), []byte("not json"), esSign(t, esPriv))
		}, nil, ErrMalformed},
		{"JSON serialization", func(t *testing.T) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: esPriv, KeyID: esKid}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := s.Sign(mustJSON(t, accessClaims()))
			if err != nil {
				t.Fatal(err)
			}
			return jws.FullSerialize()
		}, nil, ErrMalformed},
		{"garbage", func(*testing.T) string { return "not.a.jwt" }, nil, ErrMalformed},
		{"empty", func(*testing.T) string { return "" }, nil, ErrMalformed},
		{"two parts", func(*testing.T) string { return "eyJhbGciOiJFUzI1NiJ9.e30" }, nil, ErrMalformed},
		{"too large", func(t *testing.T) string {
			return sign(t, m, ES256, TypeAccessToken, claims(func(c *AccessTokenClaims) { c.Scope = strings.Repeat("s ", MaxTokenSize) }))
		}, nil, ErrMalformed},

		{"no issuer configured", good(nil), func(v *Verifier) { v.Issuer = "" }, ErrMisconfigured},
		{"no keys configured", good(nil), func(v *Verifier) { v.Keys = nil }, ErrMisconfigured},
		{"only unsafe algorithms configured", good(nil), func(v *Verifier) { v.Algorithms = []string{"none", "HS256"} }, ErrMisconfigured},
		{"key source failure", good(nil), func(v *Verifier) { v.Keys = failingSource{} }, errSourceDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			v := &Verifier{Keys: m, Issuer: testIssuer, Audience: "https://api.example.test",
				Type: TypeAccessToken, Now: func() time.Time { return t0 }}
			if tt.cfg != nil {
				tt.cfg(v)
			}
			var got AccessTokenClaims
			err := v.Verify(context.Background(), tok, &got)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Subject != accessClaims().Subject {
					t.Errorf("claims not decoded: %+v", got)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if got.Subject != "" {
				t.Error("claims were decoded from a rejected token")
			}
			// Error messages carry no token contents.
			msg := err.Error()
			for _, secret := range []string{"SUBJECTMARKER", esKid, rsKid, "evil", "api.example", "admin"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q leaks %q", msg, secret)
				}
			}
		})
	}
}

func TestVerifyClaimsDecodeError(t *testing.T) {
	m := fixture()
	tok := sign(t, m, ES256, "", accessClaims())
	v := &Verifier{Keys: m, Issuer: testIssuer, Now: func() time.Time { return t0 }}
	var wrong struct {
		Sub int `json:"sub"`
	}
	if err := v.Verify(context.Background(), tok, &wrong); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify = %v, want ErrMalformed", err)
	}
	if err := v.Verify(context.Background(), tok, nil); err != nil {
		t.Errorf("Verify with nil claims: %v", err)
	}
}

func TestVerifyDefaultLeewayAndNow(t *testing.T) {
	m := fixture()
	// The fixture's keys never expire, so signing with real-time claims
	// works; Verifier.Now is left nil to exercise time.Now.
	now := time.Now()
	c := accessClaims()
	c.IssuedAt = NewNumericDate(now)
	c.Expiry = NewNumericDate(now.Add(-20 * time.Second)) // inside DefaultLeeway
	tok := sign(t, m, ES256, TypeAccessToken, c)
	v := &Verifier{Keys: m, Issuer: testIssuer}
	if err := v.Verify(context.Background(), tok, nil); err != nil {
		t.Errorf("Verify within default leeway: %v", err)
	}
	c.Expiry = NewNumericDate(now.Add(-DefaultLeeway - 2*time.Second))
	tok = sign(t, m, ES256, TypeAccessToken, c)
	if err := v.Verify(context.Background(), tok, nil); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify past default leeway = %v, want ErrExpired", err)
	}
}
