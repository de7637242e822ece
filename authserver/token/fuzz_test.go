package token

// Fuzz targets of JWT verification. Run one for longer with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 10m ./authserver/token

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const fuzzAudience = "https://api.example.test"

func fuzzVerifier() *Verifier {
	return &Verifier{Keys: fixture(), Issuer: testIssuer, Audience: fuzzAudience, Type: TypeAccessToken, Now: func() time.Time { return t0 }}
}

// checkVerified is the test's own account of what Verify promises for a
// token it accepted: an asymmetric algorithm of the allowed set, a kid
// naming one of our keys that really signed it, typ at+jwt, our issuer,
// the audience, and time claims in range.
func checkVerified(t *testing.T, raw string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token of %d parts", len(parts))
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil {
		t.Fatalf("accepted a token whose header does not decode: %q", parts[0])
	}
	if !slices.Contains([]string{ES256, RS256, PS256, EdDSA}, hdr.Alg) {
		t.Fatalf("accepted alg %q", hdr.Alg)
	}
	if typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(hdr.Typ), "application/")); typ != "at+jwt" {
		t.Fatalf("accepted typ %q", hdr.Typ)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(fixture().JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(hdr.Kid)
	if hdr.Kid == "" || len(keys) != 1 || keys[0].Algorithm != hdr.Alg {
		t.Fatalf("accepted kid %q alg %q, not one of our keys", hdr.Kid, hdr.Alg)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(hdr.Alg)})
	if err != nil {
		t.Fatalf("accepted a token go-jose cannot parse: %v", err)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("accepted a token whose signature does not verify with key %s: %v", hdr.Kid, err)
	}
	checkClaims(t, payload)
}

func checkClaims(t *testing.T, payload []byte) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("accepted claims that do not decode: %v", err)
	}
	if c["iss"] != testIssuer {
		t.Fatalf("accepted iss %v", c["iss"])
	}
	now, leeway := float64(t0.Unix()), DefaultLeeway.Seconds()
	exp, ok := c["exp"].(float64)
	if !ok || math.IsNaN(exp) || now >= exp+leeway {
		t.Fatalf("accepted exp %v at %v", c["exp"], now)
	}
	for _, k := range []string{"nbf", "iat"} {
		if v, present := c[k]; present {
			if f, ok := v.(float64); !ok || now+leeway < f {
				t.Fatalf("accepted %s %v at %v", k, v, now)
			}
		}
	}
	switch aud := c["aud"].(type) {
	case string:
		if aud != fuzzAudience {
			t.Fatalf("accepted aud %q", aud)
		}
	case []any:
		if !slices.Contains(aud, any(fuzzAudience)) {
			t.Fatalf("accepted aud %v", aud)
		}
	default:
		t.Fatalf("accepted aud %v", c["aud"])
	}
}

// FuzzVerify: whatever the bytes, a token Verify accepts is one of our
// keys' signature over our issuer's claims, with an allowed algorithm
// (never none or HS*, however the header is written) and typ at+jwt.
func FuzzVerify(f *testing.F) {
	m := fixture()
	claims := accessClaims()
	for _, alg := range []string{ES256, RS256, PS256, EdDSA} {
		f.Add(sign(f, m, alg, TypeAccessToken, claims))
		f.Add(sign(f, m, alg, "JWT", claims))
	}
	expired := claims
	expired.Expiry = NewNumericDate(t0.Add(-time.Hour))
	f.Add(sign(f, m, ES256, TypeAccessToken, expired))
	otherIss := claims
	otherIss.Issuer = "https://evil.example"
	f.Add(sign(f, m, ES256, TypeAccessToken, otherIss))
	kid := kidOf(f, m, ES256)
	f.Add(craft(f, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, claims, nil))
	f.Add(craft(f, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims, hsSign(m.JWKS())))
	// Our ES256 key's signature under the RS256 key's kid.
	f.Add(craft(f, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kidOf(f, m, RS256)}, claims, esSign(f, privOf(f, m, ES256).(*ecdsa.PrivateKey))))
	f.Add(craft(f, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": []string{"exp"}}, claims, nil))
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, raw string) {
		if err := fuzzVerifier().Verify(context.Background(), raw, nil); err == nil {
			checkVerified(t, raw)
		}
	})
}

// FuzzVerifyClaims: signing arbitrary claims with our real keys, Verify
// still accepts only our issuer, the audience, and exp/nbf/iat in range,
// whatever their JSON shape.
func FuzzVerifyClaims(f *testing.F) {
	m := fixture()
	for _, c := range []string{
		`{"iss":"https://id.example.test","aud":"https://api.example.test","exp":1893556145}`,
		`{"iss":"https://id.example.test","aud":["x","https://api.example.test"],"exp":1893556145.5,"nbf":1893555845,"iat":1893555845}`,
		`{"iss":"https://id.example.test","aud":"https://api.example.test","exp":"1893556145"}`,
		`{"iss":"https://id.example.test","iss":"https://evil.example","aud":"https://api.example.test","exp":1893556145}`,
		`{"iss":"https://id.example.test","aud":"https://api.example.test","exp":1e400}`,
		`{"iss":"https://id.example.test","aud":"https://api.example.test","exp":-1}`,
		`{"iss":"https://id.example.test","aud":null,"exp":1893556145}`,
		`{"iss":"https://id.example.test","aud":"https://api.example.test","exp":1893556145,"nbf":9e18}`,
		`[]`, `"str"`, `{"exp":1893556145,"aud":"https://api.example.test"}`,
	} {
		f.Add([]byte(c), uint8(0))
	}
	algs := []string{ES256, RS256, PS256, EdDSA}
	f.Fuzz(func(t *testing.T, claims []byte, alg uint8) {
		if !json.Valid(claims) {
			return
		}
		raw, err := m.Sign(algs[int(alg)%len(algs)], TypeAccessToken, json.RawMessage(claims))
		if err != nil {
			return
		}
		if err := fuzzVerifier().Verify(context.Background(), raw, nil); err == nil {
			checkVerified(t, raw)
		}
	})
}
