package token

import (
	"context"
	"testing"
	"time"
)

func benchSign(b *testing.B, alg string) {
	m := fixture()
	c := accessClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Sign(alg, TypeAccessToken, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B) { benchSign(b, ES256) }
func BenchmarkSignRS256(b *testing.B) { benchSign(b, RS256) }

func BenchmarkVerifyES256(b *testing.B) {
	m := fixture()
	tok, err := m.Sign(ES256, TypeAccessToken, accessClaims())
	if err != nil {
		b.Fatal(err)
	}
	v := &Verifier{Keys: m, Issuer: testIssuer, Audience: "https://api.example.test",
		Algorithms: []string{ES256}, Type: TypeAccessToken, Now: func() time.Time { return t0 }}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var c AccessTokenClaims
		if err := v.Verify(ctx, tok, &c); err != nil {
			b.Fatal(err)
		}
	}
}
