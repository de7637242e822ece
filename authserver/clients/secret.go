package clients

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// secret is one accepted secret of a client, kept only as a hash.
//
// Two formats: "sha256:<hex>" for secrets Gatehouse generates itself (256
// random bits, so a fast hash is as strong as a slow one), and argon2id
// PHC strings for secrets an operator chose. An argon2id check costs tens
// of milliseconds; after the first success the SHA-256 of the accepted
// secret is remembered so the token endpoint does not pay it per request.
// Only digests are kept, and every comparison is constant-time.
type secret struct {
	sha256   []byte                 // fast format
	argon    *identity.PasswordHash // slow format
	verified atomic.Pointer[[sha256.Size]byte]

	// checks are the argon2id checks in progress, by digest of the
	// presented secret: concurrent requests presenting the same secret
	// share one hash (a client's first burst would otherwise queue a
	// hash per request).
	mu     sync.Mutex
	checks map[[sha256.Size]byte]*argonCheck
}

// argonCheck is one argon2id check others may wait for.
type argonCheck struct {
	done chan struct{}
	err  error
}

// checkArgon verifies presented against the argon2id hash, sharing a
// check of the same secret already in progress. The shared hash runs
// without the first caller's cancellation, so one caller leaving cannot
// fail the others; each caller stops waiting when its own ctx ends.
func (s *secret) checkArgon(ctx context.Context, hasher *identity.Hasher, digest [sha256.Size]byte, presented string) error {
	s.mu.Lock()
	c := s.checks[digest]
	if c == nil {
		c = &argonCheck{done: make(chan struct{})}
		if s.checks == nil {
			s.checks = map[[sha256.Size]byte]*argonCheck{}
		}
		s.checks[digest] = c
		s.mu.Unlock()
		c.err = hasher.Verify(context.WithoutCancel(ctx), s.argon, presented)
		if c.err == nil {
			s.verified.Store(&digest) // before the check is gone, so no later request hashes again
		}
		s.mu.Lock()
		delete(s.checks, digest)
		s.mu.Unlock()
		close(c.done)
		return c.err
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func parseSecret(h string) (*secret, error) {
	if hexDigest, ok := strings.CutPrefix(h, "sha256:"); ok {
		d, err := hex.DecodeString(hexDigest)
		if err != nil || len(d) != sha256.Size {
			return nil, errors.New(`a "sha256:" secret hash needs 64 hex digits`)
		}
		return &secret{sha256: d}, nil
	}
	ph, err := identity.ParsePasswordHash(h)
	if err != nil {
		return nil, fmt.Errorf("not an argon2id PHC string or sha256:<hex> digest: %w", err)
	}
	return &secret{argon: ph}, nil
}

// HashSecret returns the fast "sha256:<hex>" form for a generated,
// high-entropy secret.
func HashSecret(raw string) string {
	d := sha256.Sum256([]byte(raw))
	return "sha256:" + hex.EncodeToString(d[:])
}

// VerifySecret reports whether secret is one of the client's secrets.
func (c *Client) VerifySecret(ctx context.Context, hasher *identity.Hasher, secret string) bool {
	return c.CheckSecret(ctx, hasher, secret) == nil
}

// CheckSecret is VerifySecret telling why not: identity.ErrMismatch for
// a wrong secret; identity.ErrBusy or the context's error when an
// argon2id check could not be made, which says nothing about the secret
// and must not count as a failure.
func (c *Client) CheckSecret(ctx context.Context, hasher *identity.Hasher, secret string) error {
	if secret == "" {
		return identity.ErrMismatch
	}
	digest := sha256.Sum256([]byte(secret))
	// Fast pass: generated secrets and argon2id secrets verified before.
	// Every entry is compared so timing does not reveal which matched.
	ok := false
	for _, s := range c.secrets {
		known := s.sha256
		if known == nil {
			if v := s.verified.Load(); v != nil {
				known = v[:]
			}
		}
		if known != nil && subtle.ConstantTimeCompare(known, digest[:]) == 1 {
			ok = true
		}
	}
	if ok {
		return nil
	}
	// Slow pass: argon2id, bounded by the shared hasher.
	for _, s := range c.secrets {
		if s.argon == nil {
			continue
		}
		switch err := s.checkArgon(ctx, hasher, digest, secret); {
		case err == nil:
			return nil
		case !errors.Is(err, identity.ErrMismatch):
			return err
		}
	}
	return identity.ErrMismatch
}

// HasChosenSecret reports whether one of the client's secrets was chosen
// by an operator (an argon2id hash) rather than generated with 256 random
// bits. Only such secrets can be guessed, so only such clients are
// throttled per client: a per-client lock on a generated secret would
// protect nothing and let anyone who knows the public client_id lock the
// client out.
func (c *Client) HasChosenSecret() bool {
	for _, s := range c.secrets {
		if s.argon != nil {
			return true
		}
	}
	return false
}
