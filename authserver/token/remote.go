package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// RemoteKeySet is a KeySource over another issuer's JWKS (RFC 7517),
// fetched over HTTP and cached. An unknown kid triggers a refetch, at most
// once per MinRefresh, so a flood of tokens with made-up kids cannot turn
// into a flood of requests to the issuer; known keys are refetched every
// MaxAge so removed keys stop verifying.
type RemoteKeySet struct {
	URL        string
	Client     *http.Client  // http.DefaultClient if nil
	MinRefresh time.Duration // default 10 s
	MaxAge     time.Duration // default 1 h
	Now        func() time.Time

	fetchMu sync.Mutex
	mu      sync.RWMutex
	keys    []jose.JSONWebKey
	fetched time.Time
	lastTry time.Time
}

const maxJWKSBytes = 1 << 20

// VerificationKeys implements KeySource.
func (r *RemoteKeySet) VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	now := r.now()
	// Fast path: a known kid in a fresh set, without waiting on a fetch.
	r.mu.RLock()
	keys, fetched := r.keys, r.fetched
	r.mu.RUnlock()
	if !fetched.IsZero() && now.Sub(fetched) <= r.maxAge() {
		if ks := keysWithID(keys, kid); len(ks) > 0 {
			return ks, nil
		}
	}

	r.fetchMu.Lock() // one fetch at a time
	defer r.fetchMu.Unlock()
	r.mu.RLock()
	keys, fetched, lastTry := r.keys, r.fetched, r.lastTry
	r.mu.RUnlock()
	if !fetched.IsZero() && now.Sub(fetched) <= r.maxAge() {
		if ks := keysWithID(keys, kid); len(ks) > 0 {
			return ks, nil // fetched by whoever held the lock before us
		}
	}
	if !lastTry.IsZero() && now.Sub(lastTry) < r.minRefresh() {
		if ks := keysWithID(keys, kid); len(ks) > 0 {
			return ks, nil
		}
		return nil, ErrUnknownKey
	}
	fresh, err := r.fetch(ctx)
	r.mu.Lock()
	r.lastTry = now
	if err == nil {
		r.keys, r.fetched, keys = fresh, now, fresh
	}
	r.mu.Unlock()
	if ks := keysWithID(keys, kid); len(ks) > 0 {
		return ks, nil // on a failed fetch, keep serving the keys we had
	}
	if err != nil {
		return nil, fmt.Errorf("%w: fetching the issuer's keys: %v", ErrUnknownKey, err)
	}
	return nil, ErrUnknownKey
}

func (r *RemoteKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS endpoint answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("JWKS document too large")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS document: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		// Only public signature keys; a private or symmetric key in a
		// JWKS is a misconfiguration we refuse to use.
		if !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func keysWithID(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

func (r *RemoteKeySet) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *RemoteKeySet) minRefresh() time.Duration {
	if r.MinRefresh > 0 {
		return r.MinRefresh
	}
	return 10 * time.Second
}

func (r *RemoteKeySet) maxAge() time.Duration {
	if r.MaxAge > 0 {
		return r.MaxAge
	}
	return time.Hour
}
