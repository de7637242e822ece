package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Prefixes of the single-use tokens, so a leaked one is recognisable
// (to people and to secret scanners) and says what it is for.
const (
	InvitePrefix = "gh_inv_"
	ResetPrefix  = "gh_pwr_"
)

// maxTokenLength bounds a token read from a request before it is hashed.
const maxTokenLength = 128

// newToken returns a 256-bit random token with prefix and its storage
// hash (hex SHA-256).
func newToken(prefix string) (raw, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	raw = prefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, tokenHash(raw)
}

func tokenHash(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// Invite issues a single-use link token with which the stored user id
// chooses a password (InviteLifetime). It works whether or not the user
// has one already.
func (m *Manager) Invite(ctx context.Context, id string) (token string, expires time.Time, err error) {
	return m.issue(ctx, id, store.UserTokenInvite, "admin")
}

// ResetLink issues a single-use password reset token for the stored
// user id (ResetLifetime).
func (m *Manager) ResetLink(ctx context.Context, id string) (token string, expires time.Time, err error) {
	return m.issue(ctx, id, store.UserTokenReset, "admin")
}

// ResetByEmail issues a password reset token for the enabled stored user
// whose email is email (a "forgot password" request), and returns the
// user with it. ErrNotFound when there is no such user: callers must
// answer the same either way, so nobody learns who has an account.
func (m *Manager) ResetByEmail(ctx context.Context, email string) (store.User, string, time.Time, error) {
	u, err := m.cfg.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Disabled || u.Email == "")) {
		return store.User{}, "", time.Time{}, ErrNotFound
	} else if err != nil {
		return store.User{}, "", time.Time{}, err
	}
	token, expires, err := m.issueFor(ctx, u, store.UserTokenReset, "email")
	return u, token, expires, err
}

func (m *Manager) issue(ctx context.Context, id string, kind store.UserTokenKind, by string) (string, time.Time, error) {
	u, err := m.Get(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	return m.issueFor(ctx, u, kind, by)
}

func (m *Manager) issueFor(ctx context.Context, u store.User, kind store.UserTokenKind, by string) (string, time.Time, error) {
	if u.Disabled {
		return "", time.Time{}, &FieldError{Field: "id", Reason: "the user is disabled; enable them first", Taken: true}
	}
	prefix, lifetime, event := InvitePrefix, m.cfg.InviteLifetime, "user.invited"
	if kind == store.UserTokenReset {
		prefix, lifetime, event = ResetPrefix, m.cfg.ResetLifetime, "user.reset_requested"
	}
	now := m.cfg.Now()
	raw, hash := newToken(prefix)
	t := store.UserToken{Hash: hash, Kind: kind, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(lifetime)}
	if err := m.cfg.Store.CreateUserToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	m.event(ctx, event, u.ID, "by", by, "expires_at", t.ExpiresAt)
	return raw, t.ExpiresAt, nil
}

// kindOf tells a token's kind by its prefix.
func kindOf(raw string) (store.UserTokenKind, bool) {
	switch {
	case len(raw) > maxTokenLength:
		return "", false
	case strings.HasPrefix(raw, InvitePrefix):
		return store.UserTokenInvite, true
	case strings.HasPrefix(raw, ResetPrefix):
		return store.UserTokenReset, true
	}
	return "", false
}

// CheckToken returns the user an unused, unexpired invitation or reset
// token is for, and its kind, without using it. ErrNotFound otherwise
// (unknown, used, expired, or its user gone or disabled).
func (m *Manager) CheckToken(ctx context.Context, raw string) (store.User, store.UserTokenKind, error) {
	kind, ok := kindOf(raw)
	if !ok {
		return store.User{}, "", ErrNotFound
	}
	t, err := m.cfg.Store.GetUserToken(ctx, tokenHash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, "", ErrNotFound
	} else if err != nil {
		return store.User{}, "", err
	}
	if t.Kind != kind || !t.UsedAt.IsZero() || !m.cfg.Now().Before(t.ExpiresAt) {
		return store.User{}, "", ErrNotFound
	}
	u, err := m.cfg.Store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return store.User{}, "", ErrNotFound
	}
	return u, kind, err
}

// UseToken sets the password of the user raw is for and uses the token
// up. The password is checked against the policy first, so a refused one
// leaves the token usable. A reset ends every session and grant of the
// user. Of concurrent uses of one token exactly one succeeds.
func (m *Manager) UseToken(ctx context.Context, raw, password string) (store.User, error) {
	u, kind, err := m.CheckToken(ctx, raw)
	if err != nil {
		return store.User{}, err
	}
	if err := m.cfg.Policy.Check(password, u.Username, u.Email); err != nil {
		return store.User{}, err
	}
	if _, err := m.cfg.Store.UseUserToken(ctx, tokenHash(raw), kind, m.cfg.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrNotFound
		}
		return store.User{}, err
	}
	by, event := "invitation", "user.invite_used"
	if kind == store.UserTokenReset {
		by, event = "reset", "user.reset_used"
	}
	m.event(ctx, event, u.ID)
	if err := m.setPassword(ctx, u, password, by); err != nil {
		return store.User{}, err
	}
	if kind == store.UserTokenReset {
		if _, _, err := m.RevokeSessions(ctx, u.ID, "", "password reset"); err != nil {
			return store.User{}, err
		}
	}
	return u, nil
}
