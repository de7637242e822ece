package store

import (
	"context"
	"strings"
	"time"
)

// UserKey is how usernames, emails and their filters are compared: case
// and surrounding space do not count.
func UserKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ---- Users managed at run time (admin API, invitations, self-service) ----

// User is an account kept in the store. Users from the configuration are
// never stored. The password is kept only as an argon2id PHC string.
type User struct {
	// ID is the stable subject identifier ("sub"): chosen by the caller,
	// never reused, not even after the user is deleted.
	ID string
	// Username and Email are unique among stored users, compared after
	// UserKey; an empty Email is allowed for any number of users.
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	Disabled      bool
	PasswordHash  string // argon2id PHC string; empty: no password set yet
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   time.Time // zero until the first sign-in
}

// UserFilter selects a page of users for ListUsers. Prefixes are compared
// after UserKey; an empty prefix matches everything.
type UserFilter struct {
	// After is the id the previous page ended with (keyset pagination):
	// the page holds users whose id sorts after it, in id order.
	After          string
	Limit          int // must be positive
	UsernamePrefix string
	EmailPrefix    string
	// GroupPrefix matches users with at least one group starting with it.
	GroupPrefix string
}

// UserTokenKind says what a UserToken is for.
type UserTokenKind string

const (
	// UserTokenInvite lets a new user choose their first password.
	UserTokenInvite UserTokenKind = "invite"
	// UserTokenReset lets a user who forgot their password choose another.
	UserTokenReset UserTokenKind = "reset"
	// UserTokenVerifyEmail confirms a new email address (UserToken.Email).
	UserTokenVerifyEmail UserTokenKind = "verify_email"
)

// UserToken is a single-use token (an invitation or a password reset
// link), stored by hash.
type UserToken struct {
	Hash      string // hex SHA-256 of the token
	Kind      UserTokenKind
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
	// Email is the address a UserTokenVerifyEmail token confirms.
	Email string
}

// UserStore keeps the users created at run time.
type UserStore interface {
	// CreateUser stores a new user. ErrAlreadyExists when the id was ever
	// used, or the username or (non-empty) email is taken; of any number
	// of concurrent creations with one username exactly one succeeds.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user with that id. ErrNotFound if none.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername and GetUserByEmail look a user up by UserKey.
	// ErrNotFound if none.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns a page of users in id order (see UserFilter).
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// UpdateUser replaces Username, Email, EmailVerified, Name, Groups and
	// UpdatedAt of the stored user u.ID; the other fields are kept.
	// ErrNotFound if there is none, ErrAlreadyExists if the new username
	// or email belongs to another user.
	UpdateUser(ctx context.Context, u User) error
	// SetUserPassword replaces the password hash. ErrNotFound if no user.
	SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error
	// RecordUserLogin sets LastLoginAt to now. ErrNotFound if no user.
	RecordUserLogin(ctx context.Context, id string, now time.Time) error
	// SetUserDisabled disables or enables the user. Disabling also revokes,
	// at now and in the same transaction, every session and grant of the
	// user (as RevokeUserSessions). ErrNotFound if no user.
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	// DeleteUser deletes the user, revokes their sessions and grants at
	// now and deletes their consents, unused tokens and linked identities,
	// all at once. The id stays reserved. ErrNotFound if there is none.
	DeleteUser(ctx context.Context, id string, now time.Time) error
	// RevokeUserSessions revokes at now every unrevoked session of subject
	// except the one whose id hash is keep (empty: none is kept), and every
	// unrevoked grant of subject except those created from keep's
	// session. It returns how many sessions and grants it revoked. It
	// works for any subject, stored or static.
	RevokeUserSessions(ctx context.Context, subject, keep string, now time.Time) (sessions, grants int, err error)
	// ListUserSessions returns subject's sessions that are unrevoked and
	// unexpired at now, newest first, at most limit.
	ListUserSessions(ctx context.Context, subject string, now time.Time, limit int) ([]Session, error)

	// CreateUserToken stores a new token. ErrAlreadyExists on a duplicate
	// hash.
	CreateUserToken(ctx context.Context, t UserToken) error
	// GetUserToken returns the token with that hash whatever its state.
	// ErrNotFound if none.
	GetUserToken(ctx context.Context, hash string) (UserToken, error)
	// UseUserToken marks the token with that hash and kind used at now and
	// returns it. Exactly one of any number of concurrent calls succeeds;
	// ErrNotFound when the token is unknown, of another kind, already used
	// or expired at now.
	UseUserToken(ctx context.Context, hash string, kind UserTokenKind, now time.Time) (UserToken, error)
}
