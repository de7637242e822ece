package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// jwksKeys decodes a JWK Set into generic maps, one per key.
func jwksKeys(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	return set.Keys
}

func jwksKids(t testing.TB, m *KeyManager) []string {
	t.Helper()
	var kids []string
	for _, k := range jwksKeys(t, m.JWKS()) {
		kids = append(kids, k["kid"].(string))
	}
	slices.Sort(kids)
	return kids
}

func storedKids(t testing.TB, st *testStore) []string {
	t.Helper()
	recs, _ := st.ListSigningKeys(context.Background())
	var kids []string
	for _, r := range recs {
		kids = append(kids, r.ID)
	}
	slices.Sort(kids)
	return kids
}

func TestJWKSPublicOnly(t *testing.T) {
	m := fixture()
	keys := jwksKeys(t, m.JWKS())
	if len(keys) != len(allAlgs) {
		t.Fatalf("JWKS has %d keys, want %d", len(keys), len(allAlgs))
	}
	// Exactly these members per key type; anything else (d, p, q, dp, dq,
	// qi, oth, k, x5c...) is a failure.
	want := map[string][]string{
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
		"RSA": {"alg", "e", "kid", "kty", "n", "use"},
		"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	}
	seenAlgs := map[string]bool{}
	for _, k := range keys {
		kty, _ := k["kty"].(string)
		members := slices.Sorted(maps.Keys(k))
		if !slices.Equal(members, want[kty]) {
			t.Errorf("%s key members = %v, want %v", kty, members, want[kty])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %v has private member %q", k["kid"], private)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("use = %v", k["use"])
		}
		seenAlgs[k["alg"].(string)] = true
	}
	for _, alg := range allAlgs {
		if !seenAlgs[alg] {
			t.Errorf("JWKS has no %s key", alg)
		}
	}
	// And go-jose agrees that every key is public.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s: public=%v valid=%v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}
}

func TestJWKSIsACopy(t *testing.T) {
	m := fixture()
	a := m.JWKS()
	a[0] = 'X'
	if m.JWKS()[0] != '{' {
		t.Fatal("JWKS returned the internal buffer")
	}
}

func TestBeforeLoad(t *testing.T) {
	m := NewKeyManager(newTestStore(t), newSealer(t), KeyOptions{})
	if got := string(m.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS before Load = %s", got)
	}
	if _, err := m.Sign(ES256, "", accessClaims()); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Sign before Load = %v, want ErrNoSigningKey", err)
	}
	if keys, err := m.VerificationKeys(context.Background(), "x"); err != nil || len(keys) != 0 {
		t.Errorf("VerificationKeys before Load = %v, %v", keys, err)
	}
	if got := m.Algorithms(); !slices.Equal(got, DefaultAlgorithms()) {
		t.Errorf("Algorithms = %v, want defaults %v", got, DefaultAlgorithms())
	}
}

func TestSignUnconfiguredAlg(t *testing.T) {
	m := loadManager(t, newTestStore(t), newSealer(t), func() time.Time { return t0 }, EdDSA)
	for _, alg := range []string{ES256, "HS256", "none", ""} {
		if _, err := m.Sign(alg, "", accessClaims()); !errors.Is(err, ErrNoSigningKey) {
			t.Errorf("Sign(%q) = %v, want ErrNoSigningKey", alg, err)
		}
	}
	if _, err := m.Sign(EdDSA, "", make(chan int)); err == nil {
		t.Error("Sign of unencodable claims succeeded")
	}
}

func TestLoadTwiceReusesKeys(t *testing.T) {
	st := newTestStore(t)
	m := loadManager(t, st, newSealer(t), func() time.Time { return t0 }, ES256, EdDSA)
	before := storedKids(t, st)
	if len(before) != 2 {
		t.Fatalf("stored %d keys, want 2", len(before))
	}
	first := m.cur.Load()
	if err := m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := storedKids(t, st); !slices.Equal(before, after) {
		t.Errorf("second Load changed the store: %v -> %v", before, after)
	}
	if !slices.Equal(jwksKids(t, m), before) {
		t.Errorf("JWKS kids %v, stored %v", jwksKids(t, m), before)
	}
	for kid, k := range m.cur.Load().byKID {
		if first.byKID[kid] != k {
			t.Errorf("key %s was re-opened instead of reused", kid)
		}
	}
}

func TestRestartKeepsKeys(t *testing.T) {
	st := newTestStore(t)
	kek := seal.GenerateKey()
	s1, _ := seal.New(kek)
	m1 := loadManager(t, st, s1, func() time.Time { return t0 }, ES256, RS256)
	tokES := sign(t, m1, ES256, TypeAccessToken, accessClaims())
	tokRS := sign(t, m1, RS256, TypeAccessToken, accessClaims())

	// A new process: new Sealer with the same KEK, new KeyManager.
	s2, _ := seal.New(kek)
	m2 := loadManager(t, st, s2, func() time.Time { return t0.Add(time.Minute) }, ES256, RS256)
	if st.count() != 2 {
		t.Errorf("restart generated keys: %d stored", st.count())
	}
	for _, alg := range []string{ES256, RS256} {
		if kidOf(t, m1, alg) != kidOf(t, m2, alg) {
			t.Errorf("%s signing key changed across restart", alg)
		}
	}
	if string(m1.JWKS()) != string(m2.JWKS()) {
		t.Error("JWKS changed across restart")
	}
	v := &Verifier{Keys: m2, Issuer: testIssuer, Type: TypeAccessToken, Now: func() time.Time { return t0.Add(time.Minute) }}
	for _, tok := range []string{tokES, tokRS} {
		if err := v.Verify(context.Background(), tok, nil); err != nil {
			t.Errorf("token from before restart: %v", err)
		}
	}
}

// barrierStore makes the first n ListSigningKeys calls wait for each other,
// so n KeyManagers all see the store before any of them writes to it.
func barrierStore(t testing.TB, n int) *testStore {
	st := newTestStore(t)
	armBarrier(st, n)
	return st
}

func TestConcurrentStartConverges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		forced  bool // every manager lists the empty store before any writes
		workers int
	}{
		{"forced race, 2 processes", true, 2},
		{"forced race, 4 processes", true, 4},
		{"free race, 3 processes", false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for iter := range 3 {
				st := newTestStore(t)
				if tc.forced {
					st = barrierStore(t, tc.workers)
				}
				kek := seal.GenerateKey()
				ms := make([]*KeyManager, tc.workers)
				errs := make([]error, tc.workers)
				var wg sync.WaitGroup
				for i := range ms {
					s, _ := seal.New(kek)
					ms[i] = NewKeyManager(st, s, KeyOptions{Algorithms: []string{ES256, RS256}, Now: func() time.Time { return t0 }})
					wg.Go(func() { errs[i] = ms[i].Load(context.Background()) })
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("iteration %d: Load %d: %v", iter, i, err)
					}
				}
				stored := storedKids(t, st)
				if len(stored) != 2 {
					t.Errorf("iteration %d: %d keys stored, want one per algorithm", iter, len(stored))
				}
				for _, alg := range []string{ES256, RS256} {
					want := kidOf(t, ms[0], alg)
					for i, m := range ms[1:] {
						if got := kidOf(t, m, alg); got != want {
							t.Errorf("iteration %d: manager %d signs %s with %s, manager 0 with %s", iter, i+1, alg, got, want)
						}
					}
				}
				for i, m := range ms {
					if got := jwksKids(t, m); !slices.Equal(got, stored) {
						t.Errorf("iteration %d: manager %d JWKS %v, stored %v", iter, i, got, stored)
					}
				}
				// Tokens from one verify with the other.
				tok := sign(t, ms[0], RS256, "", accessClaims())
				v := &Verifier{Keys: ms[len(ms)-1], Issuer: testIssuer, Now: func() time.Time { return t0 }}
				if err := v.Verify(context.Background(), tok, nil); err != nil {
					t.Errorf("iteration %d: cross-process verify: %v", iter, err)
				}
			}
		})
	}
}

// sealedRecord builds a stored key record for priv, sealed with s.
func sealedRecord(t testing.TB, s *seal.Sealer, kid, alg string, priv any, created time.Time) store.SigningKey {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal(der, []byte(kid))
	if err != nil {
		t.Fatal(err)
	}
	return store.SigningKey{ID: kid, Algorithm: alg, Sealed: sealed, CreatedAt: created}
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyLifetimes(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	s := newSealer(t)
	clk := newClock(t0)

	// "expired" may no longer sign but is still published; "retired" is
	// gone entirely, and is sealed under a KEK this Sealer does not have,
	// which must not matter since retired keys are never opened.
	expired := sealedRecord(t, s, "expired", ES256, ecKey(t), t0.Add(-48*time.Hour))
	expired.NotAfter = t0.Add(-time.Hour)
	expired.RetireAt = t0.Add(time.Hour)
	retired := sealedRecord(t, newSealer(t), "retired", ES256, ecKey(t), t0.Add(-96*time.Hour))
	retired.NotAfter = t0.Add(-72 * time.Hour)
	retired.RetireAt = t0.Add(-24 * time.Hour)
	// "future" is the newest, and can sign for another 2 hours.
	soon := sealedRecord(t, s, "soon", ES256, ecKey(t), t0.Add(-time.Hour))
	soon.NotAfter = t0.Add(2 * time.Hour)
	for _, r := range []store.SigningKey{expired, retired, soon} {
		if err := st.CreateSigningKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	m := NewKeyManager(st, s, KeyOptions{Algorithms: []string{ES256}, Now: clk.Now})
	if err := m.Load(ctx); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := kidOf(t, m, ES256); got != "soon" {
		t.Errorf("signing key = %s, want soon", got)
	}
	if got, want := jwksKids(t, m), []string{"expired", "soon"}; !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v", got, want)
	}
	if keys, _ := m.VerificationKeys(ctx, "retired"); len(keys) != 0 {
		t.Error("retired key is still a verification key")
	}
	if keys, _ := m.VerificationKeys(ctx, "expired"); len(keys) != 1 {
		t.Error("expired (not retired) key is not a verification key")
	}
	if st.count() != 3 {
		t.Errorf("Load generated a key although one was usable")
	}
	tokSoon := sign(t, m, ES256, "", accessClaims())

	// Three hours later "soon" is past NotAfter: Sign refuses to use it even
	// before the next Load, and "expired" has now passed RetireAt.
	clk.Advance(3 * time.Hour)
	if _, err := m.Sign(ES256, "", accessClaims()); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Sign past NotAfter = %v, want ErrNoSigningKey", err)
	}
	if keys, _ := m.VerificationKeys(ctx, "expired"); len(keys) != 0 {
		t.Error("key past RetireAt still served by VerificationKeys before reload")
	}
	if err := m.Load(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	fresh := kidOf(t, m, ES256)
	if fresh == "soon" || fresh == "expired" {
		t.Errorf("reload kept signing with %s", fresh)
	}
	if got, want := jwksKids(t, m), slices.Sorted(slices.Values([]string{fresh, "soon"})); !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v", got, want)
	}
	c := accessClaims()
	c.Expiry = NewNumericDate(clk.Now().Add(time.Hour))
	v := &Verifier{Keys: m, Issuer: testIssuer, Now: clk.Now}
	if err := v.Verify(ctx, sign(t, m, ES256, "", c), nil); err != nil {
		t.Errorf("verify with new key: %v", err)
	}
	// A token signed by "soon" still verifies (while unexpired) after the
	// key stopped signing: only RetireAt removes verification.
	v.Now = func() time.Time { return t0 }
	if err := v.Verify(ctx, tokSoon, nil); err != nil {
		t.Errorf("token of a no-longer-signing key: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t)
	good := sealedRecord(t, s, "good", ES256, ecKey(t), t0)
	swapped := sealedRecord(t, s, "other", ES256, ecKey(t), t0)
	swapped.Sealed = good.Sealed // sealed with AD "good"
	foreign := sealedRecord(t, newSealer(t), "foreign", ES256, ecKey(t), t0)
	mismatched := sealedRecord(t, s, "mismatch", RS256, ecKey(t), t0)
	unknownAlg := sealedRecord(t, s, "es384", "ES384", ecKey(t), t0)
	hmacAlg := sealedRecord(t, s, "hs", "HS256", ecKey(t), t0)
	garbage := good
	garbage.ID = "garbage"
	garbage.Sealed, _ = s.Seal([]byte("not DER"), []byte("garbage"))

	tests := []struct {
		name string
		recs []store.SigningKey
		algs []string
		want error  // errors.Is target, or nil to only require an error
		msg  string // substring of the message
	}{
		{"sealed blob moved to another record", []store.SigningKey{swapped}, nil, seal.ErrAuthFailed, `"other"`},
		{"sealed under an unknown KEK", []store.SigningKey{foreign}, nil, seal.ErrUnknownKey, `"foreign"`},
		{"EC key stored as RS256", []store.SigningKey{mismatched}, nil, nil, "does not match"},
		{"unsupported stored algorithm", []store.SigningKey{unknownAlg}, nil, nil, "unsupported algorithm"},
		{"HMAC stored algorithm", []store.SigningKey{hmacAlg}, nil, nil, "unsupported algorithm"},
		{"not PKCS#8", []store.SigningKey{garbage}, nil, nil, "PKCS#8"},
		{"unsupported configured algorithm", nil, []string{ES256, "HS256"}, nil, `"HS256"`},
		{"none configured", nil, []string{"none"}, nil, `"none"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newTestStore(t)
			for _, r := range tt.recs {
				if err := st.CreateSigningKey(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			m := NewKeyManager(st, s, KeyOptions{Algorithms: tt.algs, Now: func() time.Time { return t0 }})
			err := m.Load(ctx)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load = %q, want it to mention %s", err, tt.msg)
			}
			if m.cur.Load() != nil {
				t.Error("failed Load installed a key set")
			}
		})
	}
}

func TestKidDerivation(t *testing.T) {
	salt := []byte("0123456789abcdef0123456789abcdef")
	recs := []store.SigningKey{{ID: "b", Algorithm: ES256}, {ID: "a", Algorithm: ES256}, {ID: "z", Algorithm: RS256}}
	k1 := kidFor(salt, ES256, recs)
	if len(k1) != 16 {
		t.Errorf("kid %q has length %d, want 16 (12 bytes base64url)", k1, len(k1))
	}
	// Order of the store's listing and keys of other algorithms don't matter.
	if k2 := kidFor(salt, ES256, []store.SigningKey{recs[1], recs[0]}); k2 != k1 {
		t.Error("kid depends on listing order")
	}
	for name, other := range map[string]string{
		"different alg":  kidFor(salt, RS256, recs),
		"different view": kidFor(salt, ES256, recs[:1]),
		"different salt": kidFor([]byte("another salt"), ES256, recs),
		"empty view":     kidFor(salt, ES256, nil),
	} {
		if other == k1 {
			t.Errorf("%s gave the same kid", name)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	m := fixture()
	v := &Verifier{Keys: m, Issuer: testIssuer, Now: func() time.Time { return t0 }}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Go(func() {
			alg := allAlgs[i%len(allAlgs)]
			typ := []string{TypeAccessToken, TypeIDToken, TypeLogoutToken, ""}[i%3]
			tok, err := m.Sign(alg, typ, accessClaims())
			if err == nil {
				err = v.Verify(context.Background(), tok, nil)
			}
			if err != nil {
				errs <- fmt.Errorf("%s/%s: %w", alg, typ, err)
			}
		})
	}
	// Reloading concurrently with signing is allowed.
	wg.Go(func() {
		if err := m.Load(context.Background()); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSignerCacheBounded(t *testing.T) {
	m := loadManager(t, newTestStore(t), newSealer(t), func() time.Time { return t0 }, ES256)
	for i := range 3 * maxCachedSigners {
		typ := fmt.Sprintf("t%d+jwt", i)
		tok := sign(t, m, ES256, typ, accessClaims())
		if h := decodeHeader(t, tok); h["typ"] != typ {
			t.Fatalf("typ = %v, want %s", h["typ"], typ)
		}
	}
	k := m.cur.Load().signer(ES256, t0)
	if n := len(k.signers); n > maxCachedSigners {
		t.Errorf("%d cached signers, bound is %d", n, maxCachedSigners)
	}
}
