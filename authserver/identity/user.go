// Package identity is how users prove who they are. It holds the user
// model, a directory of users, and argon2id password hashing with bounded
// concurrency.
package identity

import (
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
}

// Directory finds users. Lookups by username are case-insensitive.
type Directory interface {
	// UserByUsername returns the user whose username or email equals name
	// (case-insensitively), or false.
	UserByUsername(name string) (*User, bool)
	// UserByID returns the user with that subject id, or false.
	UserByID(id string) (*User, bool)
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

func (d *StaticDirectory) UserByUsername(name string) (*User, bool) {
	u, ok := d.byName[nameKey(name)]
	return u, ok
}

func (d *StaticDirectory) UserByID(id string) (*User, bool) {
	u, ok := d.byID[id]
	return u, ok
}
