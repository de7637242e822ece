package token

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
)

// t0 is the fixed "now" of most tests.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const testIssuer = "https://id.example.test"

// clock is an adjustable time source.
type clock struct{ unix atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.unix.Store(t.Unix())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(c.unix.Load(), 0).UTC() }
func (c *clock) Advance(d time.Duration) { c.unix.Add(int64(d / time.Second)) }

func newSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func loadManager(t testing.TB, st *testStore, s *seal.Sealer, now func() time.Time, algs ...string) *KeyManager {
	t.Helper()
	m := NewKeyManager(st, s, KeyOptions{Algorithms: algs, Now: now})
	if err := m.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

var allAlgs = []string{ES256, RS256, PS256, EdDSA}

// fixture is a KeyManager with every supported algorithm, shared by tests
// that only read it, so RSA keys are generated once per test binary.
var fixture = sync.OnceValue(func() *KeyManager {
	s, err := seal.New(seal.GenerateKey())
	if err != nil {
		panic(err)
	}
	st, err := fixtureStore()
	if err != nil {
		panic(err)
	}
	m := NewKeyManager(st, s, KeyOptions{Algorithms: allAlgs, Now: func() time.Time { return t0 }})
	if err := m.Load(context.Background()); err != nil {
		panic(err)
	}
	return m
})

// kidOf returns the kid of m's current signing key for alg.
func kidOf(t testing.TB, m *KeyManager, alg string) string {
	t.Helper()
	k := m.cur.Load().signer(alg, m.now())
	if k == nil {
		t.Fatalf("no %s signing key", alg)
	}
	return k.rec.ID
}

// privOf returns the private key of m's current signing key for alg.
func privOf(t testing.TB, m *KeyManager, alg string) crypto.Signer {
	t.Helper()
	return m.cur.Load().signer(alg, m.now()).priv
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// craft builds a compact JWS by hand: header and payload are marshalled as
// given and sign (if non-nil) signs the signing input.
func craft(t testing.TB, header map[string]any, payload any, sign func(input []byte) []byte) string {
	t.Helper()
	var p []byte
	switch v := payload.(type) {
	case []byte:
		p = v
	default:
		p = mustJSON(t, v)
	}
	input := b64(mustJSON(t, header)) + "." + b64(p)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

// decodeHeader returns the protected header of a compact JWS.
func decodeHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// accessClaims returns valid access token claims at t0.
func accessClaims() AccessTokenClaims {
	return AccessTokenClaims{
		Issuer:   testIssuer,
		Subject:  "user-SUBJECTMARKER",
		Audience: Audience{"https://api.example.test"},
		ClientID: "client-1",
		Scope:    "openid profile",
		Expiry:   NewNumericDate(t0.Add(5 * time.Minute)),
		IssuedAt: NewNumericDate(t0),
		JWTID:    "jti-1",
		GrantID:  "grant-1",
	}
}
