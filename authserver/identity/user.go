// Package identity is how users prove who they are. It holds the user
// model, a directory of users, and argon2id password hashing with bounded
// concurrency.
package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// User is an end user known to the issuer.
type User struct {
	ID            string // stable subject identifier ("sub"); never reassigned
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	Phone         string
	PhoneVerified bool
	Groups        []string
	Password      *PasswordHash
	// Stored marks a user kept in the store (managed at run time) rather
	// than in the configuration: they may change their password.
	Stored bool
}

// ErrNotFound is a Directory's answer for a user it does not have. Any
// other error means the lookup itself failed (a store that cannot be
// reached): callers answer that with a server error, never as if the
// user did not exist, which would sign people out or refuse their tokens.
var ErrNotFound = errors.New("identity: user not found")

// Directory finds users. Lookups by username are case-insensitive.
//
// Lookups take a context and may fail so that users can live in a store
// as well as in the configuration.
type Directory interface {
	// UserByUsername returns the user whose username or email equals name
	// (case-insensitively), or an error wrapping ErrNotFound.
	UserByUsername(ctx context.Context, name string) (*User, error)
	// UserByID returns the user with that subject id, or an error
	// wrapping ErrNotFound.
	UserByID(ctx context.Context, id string) (*User, error)
}

// StaticDirectory is a fixed set of users, e.g. from the Caddyfile.
type StaticDirectory struct {
	byID   map[string]*User
	byName map[string]*User
}

// NewStaticDirectory indexes users. It rejects empty or duplicate ids,
// usernames and emails, naming the offending user.
func NewStaticDirectory(users []*User) (*StaticDirectory, error) {
	d := &StaticDirectory{byID: map[string]*User{}, byName: map[string]*User{}}
	for _, u := range users {
		if nameKey(u.Username) == "" {
			return nil, fmt.Errorf("user without a username")
		}
		if u.ID == "" {
			return nil, fmt.Errorf("user %q: empty id", u.Username)
		}
		if other, dup := d.byID[u.ID]; dup {
			return nil, fmt.Errorf("user %q: id %q already used by user %q", u.Username, u.ID, other.Username)
		}
		d.byID[u.ID] = u
		for _, name := range []string{u.Username, u.Email} {
			key := nameKey(name)
			if key == "" {
				continue
			}
			if other, dup := d.byName[key]; dup && other != u {
				return nil, fmt.Errorf("user %q: username or email %q already used by user %q", u.Username, name, other.Username)
			}
			d.byName[key] = u
		}
	}
	return d, nil
}

// nameKey is how usernames and emails are compared. Indexing and lookup
// share it so that a name configured with stray spaces is still found,
// and " alice" and "alice" count as duplicates.
func nameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// UserByUsername implements Directory. It never fails otherwise than
// with ErrNotFound.
func (d *StaticDirectory) UserByUsername(_ context.Context, name string) (*User, error) {
	if u, ok := d.byName[nameKey(name)]; ok {
		return u, nil
	}
	return nil, ErrNotFound
}

// UserByID implements Directory. It never fails otherwise than with
// ErrNotFound.
func (d *StaticDirectory) UserByID(_ context.Context, id string) (*User, error) {
	if u, ok := d.byID[id]; ok {
		return u, nil
	}
	return nil, ErrNotFound
}

// Interface guard
var _ Directory = (*StaticDirectory)(nil)
