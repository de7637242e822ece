package token

import (
	"context"
	"errors"
	"testing"
	"time"
)

// IgnoreExpiry lets an expired token through, and nothing else: every
// other check still applies.
func TestVerifyIgnoreExpiry(t *testing.T) {
	m := fixture()
	expired := accessClaims()
	expired.IssuedAt = NewNumericDate(t0.Add(-2 * time.Hour))
	expired.Expiry = NewNumericDate(t0.Add(-time.Hour))
	noExp := map[string]any{"iss": testIssuer, "sub": "s", "iat": t0.Unix()}
	future := accessClaims()
	future.IssuedAt = NewNumericDate(t0.Add(time.Hour))
	future.Expiry = NewNumericDate(t0.Add(2 * time.Hour))
	otherIss := expired
	otherIss.Issuer = "https://other.example.test"

	tests := []struct {
		name   string
		claims any
		ignore bool
		want   error
	}{
		{"expired, checked", expired, false, ErrExpired},
		{"expired, ignored", expired, true, nil},
		{"exp still required", noExp, true, ErrMalformed},
		{"iat in the future still refused", future, true, ErrNotYetValid},
		{"issuer still checked", otherIss, true, ErrInvalidIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, m, ES256, TypeAccessToken, tc.claims)
			v := &Verifier{Keys: m, Issuer: testIssuer, Type: TypeAccessToken, IgnoreExpiry: tc.ignore,
				Now: func() time.Time { return t0 }}
			err := v.Verify(context.Background(), tok, nil)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}
