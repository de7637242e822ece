package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// RequestEmailChange issues a single-use token (InviteLifetime) that
// makes email the stored user id's address, verified, once whoever
// receives it at that address confirms it (ConfirmEmail). The current
// address stays until then.
func (m *Manager) RequestEmailChange(ctx context.Context, id, email string) (string, time.Time, error) {
	u, err := m.Get(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if email == "" {
		return "", time.Time{}, fieldErr("email", "is required")
	}
	if err := checkEmail(email); err != nil {
		return "", time.Time{}, err
	}
	if strings.EqualFold(email, u.Email) && u.EmailVerified {
		return "", time.Time{}, fieldErr("email", "is already your verified address")
	}
	next := u
	next.Email = email
	if err := m.whichTaken(ctx, next, u.ID); err != nil {
		return "", time.Time{}, err
	}
	now := m.cfg.Now()
	raw, hash := newToken(VerifyEmailPrefix)
	t := store.UserToken{Hash: hash, Kind: store.UserTokenVerifyEmail, UserID: u.ID, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(m.cfg.InviteLifetime)}
	if err := m.cfg.Store.CreateUserToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	m.event(ctx, "user.email_change_requested", u.ID, "expires_at", t.ExpiresAt)
	return raw, t.ExpiresAt, nil
}

// CheckEmailToken returns the user and the new address of an unused,
// unexpired email confirmation token, without using it. ErrNotFound
// otherwise.
func (m *Manager) CheckEmailToken(ctx context.Context, raw string) (store.User, string, error) {
	u, t, err := m.checkToken(ctx, raw)
	if err == nil && t.Kind != store.UserTokenVerifyEmail {
		return store.User{}, "", ErrNotFound
	}
	return u, t.Email, err
}

// ConfirmEmail uses an email confirmation token: the user's email
// becomes its address, verified. A *FieldError (Taken) when another user
// has taken the address since; the token is then used up.
func (m *Manager) ConfirmEmail(ctx context.Context, raw string) (store.User, error) {
	if _, _, err := m.CheckEmailToken(ctx, raw); err != nil {
		return store.User{}, err
	}
	t, err := m.cfg.Store.UseUserToken(ctx, tokenHash(raw), store.UserTokenVerifyEmail, m.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNotFound
	} else if err != nil {
		return store.User{}, err
	}
	u, err := m.Get(ctx, t.UserID)
	if err != nil {
		return store.User{}, err
	}
	u.Email, u.EmailVerified, u.UpdatedAt = t.Email, true, m.cfg.Now()
	if err := m.whichTaken(ctx, u, u.ID); err != nil {
		return store.User{}, err
	}
	if err := m.cfg.Store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return store.User{}, takenErr("email")
		}
		return store.User{}, err
	}
	m.event(ctx, "user.email_verified", u.ID)
	return u, nil
}
