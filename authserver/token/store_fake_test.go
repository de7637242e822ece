package token

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

var errNotImplemented = errors.New("memStore: not implemented")

// memStore is an in-memory store.Store with just the signing key and secret
// methods; everything else returns errNotImplemented. It copies values in
// and out like a database would.
type memStore struct {
	mu      sync.Mutex
	keys    []store.SigningKey
	secrets map[string][]byte

	// beforeList, when set, runs at the start of every ListSigningKeys,
	// outside the lock. Tests use it to force interleavings.
	beforeList func()
}

var _ store.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{secrets: map[string][]byte{}} }

func cloneKey(k store.SigningKey) store.SigningKey {
	k.Sealed = bytes.Clone(k.Sealed)
	return k
}

func (s *memStore) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.keys {
		if e.ID == k.ID {
			return store.ErrAlreadyExists
		}
	}
	s.keys = append(s.keys, cloneKey(k))
	return nil
}

func (s *memStore) ListSigningKeys(_ context.Context) ([]store.SigningKey, error) {
	if s.beforeList != nil {
		s.beforeList()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, cloneKey(k))
	}
	slices.SortStableFunc(out, func(a, b store.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *memStore) GetOrCreateSecret(_ context.Context, name string, _ time.Time, candidate []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.secrets[name]; ok {
		return bytes.Clone(v), nil
	}
	s.secrets[name] = bytes.Clone(candidate)
	return bytes.Clone(candidate), nil
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func (s *memStore) CreateSession(context.Context, store.Session) error { return errNotImplemented }
func (s *memStore) GetSession(context.Context, string) (store.Session, error) {
	return store.Session{}, errNotImplemented
}
func (s *memStore) RevokeSession(context.Context, string, time.Time) error { return errNotImplemented }
func (s *memStore) CreateAuthCode(context.Context, store.AuthCode) error   { return errNotImplemented }
func (s *memStore) GetAuthCode(context.Context, string) (store.AuthCode, error) {
	return store.AuthCode{}, errNotImplemented
}
func (s *memStore) RedeemAuthCode(context.Context, string, time.Time, store.Grant, *store.RefreshToken) error {
	return errNotImplemented
}
func (s *memStore) GetGrant(context.Context, string) (store.Grant, error) {
	return store.Grant{}, errNotImplemented
}
func (s *memStore) RevokeGrant(context.Context, string, time.Time) error { return errNotImplemented }
func (s *memStore) GetRefreshToken(context.Context, string) (store.RefreshToken, store.Grant, error) {
	return store.RefreshToken{}, store.Grant{}, errNotImplemented
}
func (s *memStore) RotateRefreshToken(context.Context, string, time.Time, store.RefreshToken) (store.Grant, error) {
	return store.Grant{}, errNotImplemented
}
func (s *memStore) ExtendRefreshToken(context.Context, string, time.Time, time.Time) (store.Grant, error) {
	return store.Grant{}, errNotImplemented
}
func (s *memStore) GetConsent(context.Context, string, string) (store.Consent, error) {
	return store.Consent{}, errNotImplemented
}
func (s *memStore) SaveConsent(context.Context, store.Consent) error { return errNotImplemented }
func (s *memStore) ListConsents(context.Context, string) ([]store.Consent, error) {
	return nil, errNotImplemented
}
func (s *memStore) DeleteConsent(context.Context, string, string) error { return errNotImplemented }
func (s *memStore) TouchConsent(context.Context, string, string, time.Time) error {
	return errNotImplemented
}
func (s *memStore) RevokeGrantsFor(context.Context, string, string, time.Time) (int, error) {
	return 0, errNotImplemented
}
func (s *memStore) ListGrantsBySession(context.Context, string, int) ([]store.Grant, error) {
	return nil, errNotImplemented
}
func (s *memStore) DenylistToken(context.Context, string, time.Time, time.Time) error {
	return errNotImplemented
}
func (s *memStore) IsTokenDenylisted(context.Context, string) (bool, error) {
	return false, errNotImplemented
}
func (s *memStore) RevokedSince(context.Context, time.Time, time.Time, int) ([]store.Revocation, error) {
	return nil, errNotImplemented
}

func (s *memStore) GarbageCollect(context.Context, time.Time, int) (int, error) {
	return 0, errNotImplemented
}
func (s *memStore) Close() error { return nil }

func (s *memStore) CreateClient(context.Context, store.Client) error { return errNotImplemented }
func (s *memStore) GetClient(context.Context, string) (store.Client, error) {
	return store.Client{}, errNotImplemented
}
func (s *memStore) ListClients(context.Context, string, int) ([]store.Client, error) {
	return nil, errNotImplemented
}
func (s *memStore) UpdateClient(context.Context, store.Client) error { return errNotImplemented }
func (s *memStore) DeleteClient(context.Context, string, time.Time) error {
	return errNotImplemented
}
