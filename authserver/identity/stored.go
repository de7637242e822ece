package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// UserReader is the part of the store a StoredDirectory reads.
type UserReader interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByUsername(ctx context.Context, username string) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
}

// StoredDirectory is the users of the configuration (read-only) and
// those kept in the store (managed at run time), in that order: a
// configured user shadows a stored one with the same id or name.
// Disabled stored users are not found, so they cannot sign in and every
// lookup of their sessions and grants fails as for a deleted user.
type StoredDirectory struct {
	Static *StaticDirectory
	Store  UserReader
}

// UserByUsername implements Directory: the username, then the email.
func (d *StoredDirectory) UserByUsername(ctx context.Context, name string) (*User, error) {
	if u, err := d.Static.UserByUsername(ctx, name); err == nil {
		return u, nil
	}
	if nameKey(name) == "" {
		return nil, ErrNotFound
	}
	su, err := d.Store.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		su, err = d.Store.GetUserByEmail(ctx, name)
	}
	return storedUser(su, err)
}

// UserByID implements Directory.
func (d *StoredDirectory) UserByID(ctx context.Context, id string) (*User, error) {
	if u, err := d.Static.UserByID(ctx, id); err == nil {
		return u, nil
	}
	return storedUser(d.Store.GetUser(ctx, id))
}

// storedUser converts a stored user, hiding disabled ones. A user
// without a usable password hash (invited, not yet signed up) is found
// but cannot sign in.
func storedUser(su store.User, err error) (*User, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if su.Disabled {
		return nil, ErrNotFound
	}
	u := &User{ID: su.ID, Username: su.Username, Email: su.Email, EmailVerified: su.EmailVerified,
		Name: su.Name, Groups: su.Groups, Stored: true}
	if su.PasswordHash != "" {
		if ph, err := ParsePasswordHash(su.PasswordHash); err == nil {
			u.Password = ph
		}
	}
	return u, nil
}

// NeedsRehash reports whether h was made with other parameters than p,
// so the password should be hashed again (after a successful sign-in,
// the one time it is known).
func (h *PasswordHash) NeedsRehash(p Argon2idParams) bool {
	q := h.Params
	return q.Memory != p.Memory || q.Iterations != p.Iterations || q.Parallelism != p.Parallelism ||
		q.SaltLength != p.SaltLength || q.KeyLength != p.KeyLength
}

// Interface guard
var _ Directory = (*StoredDirectory)(nil)
