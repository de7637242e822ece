package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keyServer serves a key set over TLS on 127.0.0.1 and counts requests.
type keyServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     string
	ctype    string
	requests atomic.Int32
}

func newKeyServer(t *testing.T, body string) *keyServer {
	ks := &keyServer{body: body, ctype: "application/json"}
	ks.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.requests.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/jwks", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", ks.ctype)
		_, _ = w.Write([]byte(ks.body))
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(body string) { ks.mu.Lock(); ks.body = body; ks.mu.Unlock() }

func ecKey(t *testing.T, kid string) jose.JSONWebKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256"}
}

// TestKeySetsFetch: a jwks_uri set is fetched once and cached; a key id
// it lacks fetches again, at most once a minute; the fetch refuses
// loopback unless allowed, redirects, non-JSON and oversized sets.
func TestKeySetsFetch(t *testing.T) {
	k1, k2 := ecKey(t, "k1"), ecKey(t, "k2")
	ks := newKeyServer(t, jwksOf(t, k1))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	pool := ks.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	sets := NewKeySets(KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: pool, Now: clock})
	c := &Client{ID: "svc", Metadata: Metadata{JWKSURI: ks.URL + "/jwks"}}
	ctx := t.Context()

	keys, err := sets.Keys(ctx, c, "k1", "ES256")
	if err != nil || len(keys) != 1 || keys[0].KeyID != "k1" {
		t.Fatalf("Keys(k1) = %v, %v", keys, err)
	}
	if keys, _ := sets.Keys(ctx, c, "k1", "RS256"); len(keys) != 0 {
		t.Fatalf("Keys(k1, RS256) = %v, want none: the key names ES256", keys)
	}
	if n := ks.requests.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (cached)", n)
	}
	// The client rotates to k2: within the floor an unknown kid does not
	// fetch again; after it, one fetch finds the new key.
	ks.set(jwksOf(t, k1, k2))
	if keys, err := sets.Keys(ctx, c, "k2", "ES256"); err != nil || len(keys) != 0 {
		t.Fatalf("Keys(k2) within the floor = %v, %v; want none", keys, err)
	}
	if n := ks.requests.Load(); n != 1 {
		t.Fatalf("%d fetches within the refetch floor, want 1", n)
	}
	now = now.Add(jwksRefetchFloor + time.Second)
	if keys, err := sets.Keys(ctx, c, "k2", "ES256"); err != nil || len(keys) != 1 {
		t.Fatalf("Keys(k2) after the floor = %v, %v; want k2", keys, err)
	}
	if n := ks.requests.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	for _, kid := range []string{"nope", "nope2"} {
		if keys, _ := sets.Keys(ctx, c, kid, "ES256"); len(keys) != 0 {
			t.Fatalf("Keys(%s) = %v", kid, keys)
		}
	}
	if n := ks.requests.Load(); n != 2 {
		t.Fatalf("unknown key ids made %d fetches in all, want 2: refetches are floored", n)
	}

	refused := []struct {
		name, path, body, ctype string
		opts                    KeySetOptions
		want                    string
	}{
		{"loopback not allowed", "/jwks", jwksOf(t, k1), "application/json", KeySetOptions{RootCAs: pool}, "non-public"},
		{"redirect", "/moved", jwksOf(t, k1), "application/json", KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: pool}, "status 302"},
		{"not JSON", "/jwks", jwksOf(t, k1), "text/html", KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: pool}, "Content-Type"},
		{"oversized", "/jwks", `{"keys":[],"x":"` + strings.Repeat("a", maxJWKSSize) + `"}`, "application/json", KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: pool}, "larger than"},
		{"private key", "/jwks", `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`, "application/json", KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: pool}, "public key"},
		{"untrusted certificate", "/jwks", jwksOf(t, k1), "application/json", KeySetOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "certificate"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			srv := newKeyServer(t, tc.body)
			srv.ctype = tc.ctype
			opts := tc.opts
			if opts.RootCAs != nil {
				opts.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			}
			sets := NewKeySets(opts)
			_, err := sets.Keys(t.Context(), &Client{ID: "svc", Metadata: Metadata{JWKSURI: srv.URL + tc.path}}, "", "ES256")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Keys: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestKeySetsInline: a client's own jwks needs no fetch.
func TestKeySetsInline(t *testing.T) {
	k1 := ecKey(t, "k1")
	sets := NewKeySets(KeySetOptions{})
	c := &Client{ID: "svc", Metadata: Metadata{JWKS: jwksOf(t, k1)}}
	if keys, err := sets.Keys(t.Context(), c, "", "ES256"); err != nil || len(keys) != 1 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if keys, _ := sets.Keys(t.Context(), c, "other", "ES256"); len(keys) != 0 {
		t.Fatalf("Keys(other) = %v, want none", keys)
	}
	if _, err := sets.Keys(t.Context(), &Client{ID: "x"}, "", "ES256"); err == nil {
		t.Fatal("Keys of a client without keys succeeded")
	}
}
