package clients

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A private_key_jwt client's jwks_uri is fetched by the server, so the
// fetch has the same defences as client metadata documents: no
// non-public addresses (checked on the address dialled) unless allowed,
// no redirects, no proxy, a size and a time limit. Sets are cached; an
// assertion signed with a key the cached set lacks (the client rotated)
// fetches again, but at most once per refetchFloor per URI.
const (
	maxJWKSSize      = 64 * 1024
	defaultJWKSTTL   = 5 * time.Minute
	maxJWKSTTL       = 24 * time.Hour
	jwksRefetchFloor = time.Minute
	maxCachedJWKS    = 1000
)

// ErrNoKey means the client's key set has no key matching the assertion.
var ErrNoKey = errors.New("no key of the client matches")

// KeySetOptions configure KeySets.
type KeySetOptions struct {
	// AllowNetworks are non-public networks key sets may be fetched from
	// (a local CA's services, tests). Default: none.
	AllowNetworks []netip.Prefix
	// RootCAs verify the key sets' servers; nil: the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one fetch. Default 5 s.
	Timeout time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// KeySets finds the public keys of private_key_jwt clients: their jwks,
// or their jwks_uri fetched and cached.
type KeySets struct {
	opts   KeySetOptions
	client *http.Client

	mu    sync.Mutex
	cache map[string]*cachedKeySet
}

type cachedKeySet struct {
	set       *jose.JSONWebKeySet // nil when the last fetch failed
	err       error
	fetchedAt time.Time
	expires   time.Time
}

// NewKeySets returns a KeySets.
func NewKeySets(opts KeySetOptions) *KeySets {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultFetchTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	k := &KeySets{opts: opts, cache: map[string]*cachedKeySet{}}
	k.client = outboundClient("a key set", opts.Timeout, opts.AllowNetworks, opts.RootCAs)
	return k
}

// Keys returns the client's keys that may have signed a JWS with key id
// kid ("" matches every key) and algorithm alg. A jwks_uri set lacking
// the key is fetched again, no more than once a minute.
func (k *KeySets) Keys(ctx context.Context, c *Client, kid, alg string) ([]jose.JSONWebKey, error) {
	if c.JWKS != "" {
		set, err := ParseJWKS([]byte(c.JWKS))
		if err != nil {
			return nil, err
		}
		return matchKeys(set, kid, alg), nil
	}
	if c.JWKSURI == "" {
		return nil, errors.New("the client has no keys")
	}
	set, fresh, err := k.get(ctx, c.JWKSURI, false)
	if err != nil {
		return nil, err
	}
	if keys := matchKeys(set, kid, alg); len(keys) > 0 || fresh {
		return keys, nil
	}
	set, _, err = k.get(ctx, c.JWKSURI, true)
	if err != nil {
		return nil, err
	}
	return matchKeys(set, kid, alg), nil
}

// get returns the set at uri, from the cache unless it has expired or
// refresh asks for a new one and the last fetch is older than the floor.
// fresh reports that it was fetched just now.
func (k *KeySets) get(ctx context.Context, uri string, refresh bool) (set *jose.JSONWebKeySet, fresh bool, err error) {
	now := k.opts.Now()
	k.mu.Lock()
	e := k.cache[uri]
	k.mu.Unlock()
	if e != nil && now.Before(e.expires) && (!refresh || now.Sub(e.fetchedAt) < jwksRefetchFloor) {
		return e.set, false, e.err
	}
	if e != nil && e.err != nil && now.Sub(e.fetchedAt) < jwksRefetchFloor {
		return nil, false, e.err
	}
	set, ttl, err := k.fetch(ctx, uri)
	e = &cachedKeySet{set: set, err: err, fetchedAt: now, expires: now.Add(ttl)}
	if err != nil {
		e.expires = now.Add(jwksRefetchFloor)
	}
	k.mu.Lock()
	if len(k.cache) >= maxCachedJWKS {
		for u, old := range k.cache {
			if !now.Before(old.expires) || len(k.cache) >= maxCachedJWKS {
				delete(k.cache, u)
			}
		}
	}
	k.cache[uri] = e
	k.mu.Unlock()
	return set, true, err
}

func (k *KeySets) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, time.Duration, error) {
	if err := ValidateJWKSURI(uri); err != nil {
		return nil, 0, fmt.Errorf("jwks_uri: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("jwks_uri answered status %d (redirects are not followed)", resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, 0, errors.New("jwks_uri did not answer JSON (Content-Type)")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading jwks_uri: %w", err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, fmt.Errorf("the key set at jwks_uri is larger than %d bytes", maxJWKSSize)
	}
	set, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks_uri: %v", err)
	}
	// Cache-Control decides, within [the floor, a day].
	return set, min(max(documentTTL(resp.Header), jwksRefetchFloor), maxJWKSTTL), nil
}

// matchKeys picks the keys that may verify a signature: the key id
// matches when the JWS names one, and a key naming its algorithm names
// alg.
func matchKeys(set *jose.JSONWebKeySet, kid, alg string) []jose.JSONWebKey {
	if set == nil {
		return nil
	}
	var out []jose.JSONWebKey
	for _, key := range set.Keys {
		if (kid == "" || key.KeyID == kid) && (key.Algorithm == "" || key.Algorithm == alg) {
			out = append(out, key)
		}
	}
	return out
}
