package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Config is what a Manager needs.
type Config struct {
	Store store.Store
	// Static are the users of the configuration: read-only, and their
	// usernames, emails and ids are not available to stored users.
	Static *identity.StaticDirectory
	// Hasher bounds argon2id work; one is created if nil.
	Hasher *identity.Hasher
	// Params hash new passwords; identity.DefaultParams() if zero. A
	// stored hash with other parameters is replaced at the user's next
	// successful sign-in (AfterLogin).
	Params identity.Argon2idParams
	Policy Policy
	// InviteLifetime and ResetLifetime bound how long invitation and
	// password reset links work; 24 h by default.
	InviteLifetime time.Duration
	ResetLifetime  time.Duration
	Logger         *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Manager manages the stored users. It is safe for concurrent use.
type Manager struct {
	cfg Config
	dir *identity.StoredDirectory
	log *slog.Logger
	// onEvent is told of every account change (events.go).
	onEvent atomic.Pointer[func(context.Context, Event)]
}

// New checks cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("accounts: Store is required")
	}
	if cfg.Static == nil {
		var err error
		if cfg.Static, err = identity.NewStaticDirectory(nil); err != nil {
			return nil, err
		}
	}
	if cfg.Hasher == nil {
		cfg.Hasher = identity.NewHasher(0)
	}
	if cfg.Params == (identity.Argon2idParams{}) {
		cfg.Params = identity.DefaultParams()
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	cfg.Policy = cfg.Policy.withDefaults()
	if cfg.InviteLifetime <= 0 {
		cfg.InviteLifetime = 24 * time.Hour
	}
	if cfg.ResetLifetime <= 0 {
		cfg.ResetLifetime = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, dir: &identity.StoredDirectory{Static: cfg.Static, Store: cfg.Store}, log: cfg.Logger}, nil
}

// Directory is every user who can sign in: the configuration's, then the
// store's (disabled ones excluded).
func (m *Manager) Directory() identity.Directory { return m.dir }

// Policy is the password policy in force.
func (m *Manager) Policy() Policy { return m.cfg.Policy }

// event logs what happened to an account under a stable "event" name
// that log processing can count. Never pass a secret.
func (m *Manager) event(ctx context.Context, name, subject string, attrs ...any) {
	m.log.InfoContext(ctx, strings.ReplaceAll(name, ".", " "), append([]any{"event", name, "sub", subject}, attrs...)...)
	if fn := m.onEvent.Load(); fn != nil {
		e := Event{Name: name, Subject: subject}
		for i := 0; i+1 < len(attrs); i += 2 {
			if k, _ := attrs[i].(string); k == "username" {
				e.Username, _ = attrs[i+1].(string)
			}
		}
		(*fn)(ctx, e)
	}
}

// NewUser is what creating a user takes. Password may be empty: the user
// then signs up through an invitation.
type NewUser struct {
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	Password      string
}

// Create validates u and stores it under a new random subject id. A
// refused value is a *FieldError (Taken for a username or email in use).
func (m *Manager) Create(ctx context.Context, in NewUser) (store.User, error) {
	now := m.cfg.Now()
	u := store.User{Username: in.Username, Email: in.Email, EmailVerified: in.EmailVerified && in.Email != "",
		Name: in.Name, Groups: in.Groups, CreatedAt: now, UpdatedAt: now}
	if err := m.checkProfile(ctx, u, ""); err != nil {
		return store.User{}, err
	}
	if in.Password != "" {
		if err := m.cfg.Policy.Check(in.Password, u.Username, u.Email); err != nil {
			return store.User{}, err
		}
		h, err := m.cfg.Hasher.Hash(ctx, in.Password, m.cfg.Params)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
	}
	u.ID = m.newID(ctx)
	if err := m.cfg.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			// Lost a race for the name since checkProfile looked.
			return store.User{}, m.whichTaken(ctx, u, "")
		}
		return store.User{}, err
	}
	m.event(ctx, "user.created", u.ID, "username", u.Username, "with_password", u.PasswordHash != "")
	return u, nil
}

// newID is an opaque subject id: 128 random bits, never one of a
// configured user's ids (the store refuses one it ever gave out).
func (m *Manager) newID(ctx context.Context) string {
	for {
		id := "usr_" + strings.ToLower(rand.Text())
		if _, err := m.cfg.Static.UserByID(ctx, id); err != nil {
			return id
		}
	}
}

// checkProfile validates u's profile fields and that its username and
// email are free (self is the user's own id on update).
func (m *Manager) checkProfile(ctx context.Context, u store.User, self string) error {
	if err := checkUsername(u.Username); err != nil {
		return err
	}
	if err := checkEmail(u.Email); err != nil {
		return err
	}
	if err := checkText("name", u.Name, maxNameLength); err != nil {
		return err
	}
	if err := checkGroups(u.Groups); err != nil {
		return err
	}
	return m.whichTaken(ctx, u, self)
}

// whichTaken names the field of u that another user (configured or
// stored) has, or returns nil.
func (m *Manager) whichTaken(ctx context.Context, u store.User, self string) error {
	for _, f := range []struct{ field, value string }{{"username", u.Username}, {"email", u.Email}} {
		if f.value == "" {
			continue
		}
		if _, err := m.cfg.Static.UserByUsername(ctx, f.value); err == nil {
			return takenErr(f.field)
		}
		lookup := m.cfg.Store.GetUserByUsername
		if f.field == "email" {
			lookup = m.cfg.Store.GetUserByEmail
		}
		other, err := lookup(ctx, f.value)
		if err == nil && other.ID != self {
			return takenErr(f.field)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Get returns a stored user. ErrStatic for a configured one (see
// GetStatic), ErrNotFound when there is none.
func (m *Manager) Get(ctx context.Context, id string) (store.User, error) {
	u, err := m.cfg.Store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if _, serr := m.cfg.Static.UserByID(ctx, id); serr == nil {
			return store.User{}, ErrStatic
		}
		return store.User{}, ErrNotFound
	}
	return u, err
}

// GetStatic returns the configured user with that id, or nil.
func (m *Manager) GetStatic(ctx context.Context, id string) *identity.User {
	u, err := m.cfg.Static.UserByID(ctx, id)
	if err != nil {
		return nil
	}
	return u
}

// List returns a page of stored users (store.UserFilter).
func (m *Manager) List(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	return m.cfg.Store.ListUsers(ctx, f)
}

// Patch changes the fields that are not nil.
type Patch struct {
	Username      *string
	Email         *string
	EmailVerified *bool
	Name          *string
	Groups        *[]string
}

// Update applies p to the stored user id. A changed email is unverified
// unless p says otherwise.
func (m *Manager) Update(ctx context.Context, id string, p Patch) (store.User, error) {
	u, err := m.Get(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	oldEmail := u.Email
	if p.Username != nil {
		u.Username = *p.Username
	}
	if p.Email != nil {
		u.Email = *p.Email
		if !strings.EqualFold(u.Email, oldEmail) {
			u.EmailVerified = false
		}
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if u.Email == "" {
		u.EmailVerified = false
	}
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Groups != nil {
		u.Groups = *p.Groups
	}
	if err := m.checkProfile(ctx, u, u.ID); err != nil {
		return store.User{}, err
	}
	u.UpdatedAt = m.cfg.Now()
	if err := m.cfg.Store.UpdateUser(ctx, u); err != nil {
		switch {
		case errors.Is(err, store.ErrAlreadyExists):
			return store.User{}, m.whichTaken(ctx, u, u.ID)
		case errors.Is(err, store.ErrNotFound):
			return store.User{}, ErrNotFound
		}
		return store.User{}, err
	}
	var fields []string
	for name, set := range map[string]bool{"username": p.Username != nil, "email": p.Email != nil,
		"email_verified": p.EmailVerified != nil, "name": p.Name != nil, "groups": p.Groups != nil} {
		if set {
			fields = append(fields, name)
		}
	}
	m.event(ctx, "user.updated", u.ID, "fields", strings.Join(slices.Sorted(slices.Values(fields)), ","))
	return u, nil
}

// SetPassword sets a stored user's password (an administrator's reset)
// and ends all their sessions and grants: whoever knew the old one is
// signed out.
func (m *Manager) SetPassword(ctx context.Context, id, password string) error {
	u, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := m.setPassword(ctx, u, password, "admin"); err != nil {
		return err
	}
	_, _, err = m.RevokeSessions(ctx, id, "", "password set")
	return err
}

func (m *Manager) setPassword(ctx context.Context, u store.User, password, by string) error {
	if err := m.cfg.Policy.Check(password, u.Username, u.Email); err != nil {
		return err
	}
	h, err := m.cfg.Hasher.Hash(ctx, password, m.cfg.Params)
	if err != nil {
		return err
	}
	if err := m.cfg.Store.SetUserPassword(ctx, u.ID, h, m.cfg.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	m.event(ctx, "user.password_changed", u.ID, "by", by)
	return nil
}

// ChangePassword is the user's own change: current must be their
// password. Every other session (and its grants) ends; keep is the id
// hash of the session making the change.
func (m *Manager) ChangePassword(ctx context.Context, id, current, next, keep string) error {
	u, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	var ph *identity.PasswordHash
	if u.PasswordHash != "" {
		ph, _ = identity.ParsePasswordHash(u.PasswordHash)
	}
	if err := m.cfg.Hasher.Verify(ctx, ph, current); err != nil {
		if errors.Is(err, identity.ErrMismatch) {
			return ErrWrongPassword
		}
		return err
	}
	if err := m.setPassword(ctx, u, next, "self"); err != nil {
		return err
	}
	_, _, err = m.RevokeSessions(ctx, id, keep, "password changed")
	return err
}

// SetDisabled disables (ending every session and grant at once) or
// enables a stored user.
func (m *Manager) SetDisabled(ctx context.Context, id string, disabled bool) error {
	if _, err := m.Get(ctx, id); err != nil {
		return err
	}
	if err := m.cfg.Store.SetUserDisabled(ctx, id, disabled, m.cfg.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	if disabled {
		m.event(ctx, "user.disabled", id)
	} else {
		m.event(ctx, "user.enabled", id)
	}
	return nil
}

// Delete deletes a stored user, ending their sessions and grants; their
// id is never given to anyone else.
func (m *Manager) Delete(ctx context.Context, id string) error {
	if _, err := m.Get(ctx, id); err != nil {
		return err
	}
	if err := m.cfg.Store.DeleteUser(ctx, id, m.cfg.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	m.event(ctx, "user.deleted", id)
	return nil
}

// RevokeSessions ends every session and grant of subject (configured or
// stored) but the session keep (an id hash; "" for none) and its grants.
// Gates learn of it from the revocation feed within its poll interval.
func (m *Manager) RevokeSessions(ctx context.Context, subject, keep, reason string) (sessions, grants int, err error) {
	sessions, grants, err = m.cfg.Store.RevokeUserSessions(ctx, subject, keep, m.cfg.Now())
	if err != nil {
		return 0, 0, err
	}
	m.event(ctx, "user.sessions_revoked", subject, "reason", reason, "sessions", sessions, "grants", grants, "kept_current", keep != "")
	return sessions, grants, nil
}

// ResetFactors deletes every second factor and recovery code of subject
// (any user, a configured one's too), for a user who lost their device:
// their next sign-in asks for the password alone, or leads them through
// enrolment where a factor is required. Sessions are kept; end them with
// RevokeSessions. It returns how many factors it deleted.
func (m *Manager) ResetFactors(ctx context.Context, subject, reason string) (int, error) {
	n, err := m.cfg.Store.DeleteFactors(ctx, subject)
	if err != nil {
		return 0, err
	}
	m.event(ctx, "user.factors_reset", subject, "reason", reason, "factors", n)
	return n, nil
}

// AfterLogin records a stored user's successful sign-in and, when their
// hash was made with other parameters than the ones in force, replaces it
// with a new hash of the password they just proved (the one moment it is
// known). Failures are logged: the sign-in itself succeeded.
func (m *Manager) AfterLogin(ctx context.Context, u *identity.User, password string) {
	if !u.Stored {
		return
	}
	if err := m.cfg.Store.RecordUserLogin(ctx, u.ID, m.cfg.Now()); err != nil {
		m.log.WarnContext(ctx, "recording a sign-in failed", "sub", u.ID, "error", err)
	}
	if u.Password == nil || !u.Password.NeedsRehash(m.cfg.Params) {
		return
	}
	h, err := m.cfg.Hasher.Hash(ctx, password, m.cfg.Params)
	if err == nil {
		err = m.cfg.Store.SetUserPassword(ctx, u.ID, h, m.cfg.Now())
	}
	if err != nil {
		m.log.WarnContext(ctx, "upgrading a password hash failed", "sub", u.ID, "error", err)
		return
	}
	m.event(ctx, "user.password_rehashed", u.ID)
}
