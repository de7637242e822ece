package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// memReplay is a replay record in memory; the store's own is checked by
// the storetest conformance suite.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (m *memReplay) UseOnce(_ context.Context, id string, now, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if e, ok := m.seen[id]; ok && now.Before(e) {
		return store.ErrReplay
	}
	m.seen[id] = exp
	return nil
}

const resourceURL = "https://api.example/data"

func TestVerify(t *testing.T) {
	key := ast.NewDPoPKey(t)
	other := ast.NewDPoPKey(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	v := &dpop.Verifier{Replay: &memReplay{seen: map[string]time.Time{}}, Now: func() time.Time { return now }}
	tests := []struct {
		name   string
		proofs []string
		req    dpop.Request
		want   string // "" for accepted, else a part of the description
	}{
		{"good", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{AccessToken: "at"})}, dpop.Request{Method: "GET", URL: resourceURL, AccessToken: "at", JKT: key.JKT(t)}, ""},
		{"htu normalised: case, default port, query", []string{key.Proof(t, "GET", "HTTPS://API.example:443/data", ast.ProofOptions{AccessToken: "at"})}, dpop.Request{Method: "GET", URL: resourceURL + "?x=1", AccessToken: "at"}, ""},
		{"htu with query ignored", []string{key.Proof(t, "GET", resourceURL+"?a=b#f", ast.ProofOptions{AccessToken: "at"})}, dpop.Request{Method: "GET", URL: resourceURL, AccessToken: "at"}, ""},
		{"no proof", nil, dpop.Request{Method: "GET", URL: resourceURL}, "exactly one"},
		{"two proofs", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{}), key.Proof(t, "GET", resourceURL, ast.ProofOptions{})}, dpop.Request{Method: "GET", URL: resourceURL}, "exactly one"},
		{"wrong htm", []string{key.Proof(t, "POST", resourceURL, ast.ProofOptions{})}, dpop.Request{Method: "GET", URL: resourceURL}, "htm"},
		{"wrong htu path", []string{key.Proof(t, "GET", resourceURL+"/other", ast.ProofOptions{})}, dpop.Request{Method: "GET", URL: resourceURL}, "htu"},
		{"wrong htu host", []string{key.Proof(t, "GET", "https://evil.example/data", ast.ProofOptions{})}, dpop.Request{Method: "GET", URL: resourceURL}, "htu"},
		{"wrong typ", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{Type: "JWT"})}, dpop.Request{Method: "GET", URL: resourceURL}, "typ"},
		{"old iat", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{IssuedAt: now.Add(-6 * time.Minute)})}, dpop.Request{Method: "GET", URL: resourceURL}, "iat"},
		{"future iat", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{IssuedAt: now.Add(time.Minute)})}, dpop.Request{Method: "GET", URL: resourceURL}, "iat"},
		{"no iat", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{Edit: func(c map[string]any) { delete(c, "iat") }})}, dpop.Request{Method: "GET", URL: resourceURL}, "iat"},
		{"no jti", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{Edit: func(c map[string]any) { delete(c, "jti") }})}, dpop.Request{Method: "GET", URL: resourceURL}, "jti"},
		{"ath missing", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{})}, dpop.Request{Method: "GET", URL: resourceURL, AccessToken: "at"}, "ath"},
		{"ath of another token", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{AccessToken: "other"})}, dpop.Request{Method: "GET", URL: resourceURL, AccessToken: "at"}, "ath"},
		{"ath at the token endpoint", []string{key.Proof(t, "POST", resourceURL, ast.ProofOptions{AccessToken: "at"})}, dpop.Request{Method: "POST", URL: resourceURL}, "ath"},
		{"key not the bound one", []string{other.Proof(t, "GET", resourceURL, ast.ProofOptions{AccessToken: "at"})}, dpop.Request{Method: "GET", URL: resourceURL, AccessToken: "at", JKT: key.JKT(t)}, "bound"},
		{"jwk of another key", []string{key.Proof(t, "GET", resourceURL, ast.ProofOptions{HeaderKey: other.Key.Public()})}, dpop.Request{Method: "GET", URL: resourceURL}, "signature"},
		{"private jwk", []string{(&ast.DPoPKey{Key: priv, Alg: "ES256"}).Proof(t, "GET", resourceURL, ast.ProofOptions{HeaderKey: priv})}, dpop.Request{Method: "GET", URL: resourceURL}, "public jwk"},
		{"not a JWS", []string{"a.b.c"}, dpop.Request{Method: "GET", URL: resourceURL}, "not a JWS"},
		{"oversized", []string{strings.Repeat("a", dpop.MaxProofSize+1)}, dpop.Request{Method: "GET", URL: resourceURL}, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Proofs = tc.proofs
			p, err := v.Verify(t.Context(), req)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && p.JKT != key.JKT(t):
				t.Fatalf("jkt %s, want %s", p.JKT, key.JKT(t))
			case tc.want != "":
				var de *dpop.Error
				if !errors.As(err, &de) || de.Code != dpop.CodeInvalidProof || !strings.Contains(de.Description, tc.want) {
					t.Fatalf("got %v, want invalid_dpop_proof about %q", err, tc.want)
				}
			}
		})
	}
}

// TestVerifyReplay: a proof is accepted once; the same jti with another
// key is another proof; a store that cannot answer is not a bad proof.
func TestVerifyReplay(t *testing.T) {
	key, other := ast.NewDPoPKey(t), ast.NewDPoPKey(t)
	replay := &memReplay{seen: map[string]time.Time{}}
	v := &dpop.Verifier{Replay: replay}
	proof := key.Proof(t, "POST", resourceURL, ast.ProofOptions{JTI: "same"})
	req := dpop.Request{Proofs: []string{proof}, Method: "POST", URL: resourceURL}
	if _, err := v.Verify(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), req); err == nil || !strings.Contains(err.Error(), "already been used") {
		t.Fatalf("replayed proof: %v", err)
	}
	req.Proofs = []string{other.Proof(t, "POST", resourceURL, ast.ProofOptions{JTI: "same"})}
	if _, err := v.Verify(t.Context(), req); err != nil {
		t.Fatalf("another key's proof with the same jti: %v", err)
	}
	replay.err = store.ErrUnavailable
	req.Proofs = []string{key.Proof(t, "POST", resourceURL, ast.ProofOptions{})}
	var de *dpop.Error
	if _, err := v.Verify(t.Context(), req); !errors.Is(err, store.ErrUnavailable) || errors.As(err, &de) {
		t.Fatalf("store down: %v, want ErrUnavailable", err)
	}
}

// TestNonces: with a nonce key a proof needs a nonce the server issued,
// and not an old one.
func TestNonces(t *testing.T) {
	key := ast.NewDPoPKey(t)
	now := time.Now()
	v := &dpop.Verifier{Replay: &memReplay{seen: map[string]time.Time{}}, NonceKey: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	other := &dpop.Verifier{NonceKey: []byte("another key another key another k"), Now: v.Now}
	check := func(nonce, want string) {
		t.Helper()
		_, err := v.Verify(t.Context(), dpop.Request{Proofs: []string{key.Proof(t, "POST", resourceURL, ast.ProofOptions{Nonce: nonce, IssuedAt: now})}, Method: "POST", URL: resourceURL})
		var de *dpop.Error
		switch {
		case want == "" && err != nil:
			t.Fatalf("nonce %q refused: %v", nonce, err)
		case want != "" && (!errors.As(err, &de) || de.Code != want):
			t.Fatalf("nonce %q: %v, want %s", nonce, err, want)
		}
	}
	check("", dpop.CodeUseNonce)
	check("made-up", dpop.CodeUseNonce)
	check(other.Nonce(), dpop.CodeUseNonce)
	n := v.Nonce()
	check(n, "")
	now = now.Add(dpop.DefaultMaxAge + time.Minute)
	check(n, dpop.CodeUseNonce)
	check(v.Nonce(), "")
	if (&dpop.Verifier{}).Nonce() != "" {
		t.Fatal("a verifier without a nonce key issued a nonce")
	}
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://A.example:443/p?q#f": "https://a.example/p",
		"http://a.example:80":         "http://a.example/",
		"https://a.example:8443/p/":   "https://a.example:8443/p/",
		"https://[::1]:9/x":           "https://[::1]:9/x",
	} {
		if got, err := dpop.NormalizeHTU(in); err != nil || got != want {
			t.Errorf("NormalizeHTU(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"/relative", "https://u@a.example/", "::"} {
		if _, err := dpop.NormalizeHTU(bad); err == nil {
			t.Errorf("NormalizeHTU(%s) accepted", bad)
		}
	}
}
