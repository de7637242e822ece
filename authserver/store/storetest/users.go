package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// newUser is a stored user with every field set, so a round trip checks
// every column.
func newUser(name string) store.User {
	return store.User{
		ID:            "usr_" + name,
		Username:      name,
		Email:         name + "@Example.COM",
		EmailVerified: true,
		Name:          "User " + name + " — ✓",
		Groups:        []string{"Staff", "ops_team"},
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$" + name,
		CreatedAt:     t0,
		UpdatedAt:     t0.Add(time.Second),
		LastLoginAt:   t0.Add(2 * time.Second),
	}
}

func testUserRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	full := newUser("full")
	bare := store.User{ID: "usr_bare", Username: "bare", Disabled: true, CreatedAt: t0, UpdatedAt: t0}
	for _, u := range []store.User{full, bare} {
		must(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, u.ID)
		must(t, "GetUser", err)
		checkEqual(t, "user", got, u)
	}
	// Look-ups ignore case and surrounding space.
	got, err := s.GetUserByUsername(ctx, " FULL ")
	must(t, "GetUserByUsername", err)
	checkEqual(t, "user by username", got, full)
	got, err = s.GetUserByEmail(ctx, "full@example.com")
	must(t, "GetUserByEmail", err)
	checkEqual(t, "user by email", got, full)
}

func testUserNotFound(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	must(t, "CreateUser", s.CreateUser(ctx, store.User{ID: "usr_noemail", Username: "noemail", CreatedAt: t0, UpdatedAt: t0}))
	_, err := s.GetUser(ctx, "usr_nobody")
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "nobody")
	wantErr(t, "GetUserByUsername", err, store.ErrNotFound)
	// A user without an email is not found by the empty email.
	_, err = s.GetUserByEmail(ctx, "")
	wantErr(t, "GetUserByEmail of the empty email", err, store.ErrNotFound)
	for name, err := range map[string]error{
		"UpdateUser":       s.UpdateUser(ctx, store.User{ID: "usr_nobody", Username: "x", UpdatedAt: t0}),
		"SetUserPassword":  s.SetUserPassword(ctx, "usr_nobody", "h", t0),
		"RecordUserLogin":  s.RecordUserLogin(ctx, "usr_nobody", t0),
		"SetUserDisabled":  s.SetUserDisabled(ctx, "usr_nobody", true, t0),
		"DeleteUser":       s.DeleteUser(ctx, "usr_nobody", t0),
		"SetUserDisabled2": s.SetUserDisabled(ctx, "usr_nobody", false, t0),
	} {
		wantErr(t, name+" of an unknown user", err, store.ErrNotFound)
	}
}

func testUserDuplicate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := newUser("alice")
	must(t, "CreateUser", s.CreateUser(ctx, first))
	// Two users without an email do not collide.
	must(t, "CreateUser without email", s.CreateUser(ctx, store.User{ID: "usr_e1", Username: "e1", CreatedAt: t0}))
	must(t, "CreateUser without email", s.CreateUser(ctx, store.User{ID: "usr_e2", Username: "e2", CreatedAt: t0}))
	cases := []struct {
		name string
		edit func(u *store.User)
	}{
		{"same id", func(u *store.User) { u.Username, u.Email = "other", "" }},
		{"username in other case", func(u *store.User) { u.ID, u.Username, u.Email = "usr_2", "ALICE", "" }},
		{"email in other case", func(u *store.User) { u.ID, u.Username, u.Email = "usr_3", "alice2", "ALICE@example.com" }},
	}
	for _, tc := range cases {
		u := first
		tc.edit(&u)
		wantErr(t, "CreateUser with "+tc.name, s.CreateUser(ctx, u), store.ErrAlreadyExists)
	}
	// Updates collide the same way, and change nothing when they do.
	bob := newUser("bob")
	must(t, "CreateUser bob", s.CreateUser(ctx, bob))
	taken := bob
	taken.Username = "Alice"
	wantErr(t, "UpdateUser to a taken username", s.UpdateUser(ctx, taken), store.ErrAlreadyExists)
	taken = bob
	taken.Email = "alice@EXAMPLE.com"
	wantErr(t, "UpdateUser to a taken email", s.UpdateUser(ctx, taken), store.ErrAlreadyExists)
	got, err := s.GetUser(ctx, bob.ID)
	must(t, "GetUser bob", err)
	checkEqual(t, "bob after refused updates", got, bob)
}

func testUserIDNeverReused(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("gone")
	must(t, "CreateUser", s.CreateUser(ctx, u))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID, t0.Add(time.Minute)))
	_, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	// The username and email are free again, the id is not.
	again := u
	again.ID = "usr_new"
	must(t, "CreateUser with the deleted user's name", s.CreateUser(ctx, again))
	reuse := newUser("someone")
	reuse.ID = u.ID
	wantErr(t, "CreateUser with a deleted user's id", s.CreateUser(ctx, reuse), store.ErrAlreadyExists)
}

func testUserList(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	names := []string{"carol", "alice", "albert", "bob", "al_x", "alx"}
	for i, n := range names {
		u := newUser(n)
		u.ID = fmt.Sprintf("usr_%02d", i)
		u.Email = n + "@" + []string{"a.example", "b.example"}[i%2]
		u.Groups = []string{[]string{"Admins", "users"}[i%2], "team_" + n}
		must(t, "CreateUser", s.CreateUser(ctx, u))
	}
	ids := func(users []store.User) []string {
		var out []string
		for _, u := range users {
			out = append(out, u.Username)
		}
		return out
	}
	cases := []struct {
		name   string
		filter store.UserFilter
		want   []string
	}{
		{"all", store.UserFilter{Limit: 10}, []string{"carol", "alice", "albert", "bob", "al_x", "alx"}},
		{"first page", store.UserFilter{Limit: 2}, []string{"carol", "alice"}},
		{"next page", store.UserFilter{After: "usr_01", Limit: 2}, []string{"albert", "bob"}},
		{"last page", store.UserFilter{After: "usr_05", Limit: 2}, nil},
		{"username prefix, any case", store.UserFilter{Limit: 10, UsernamePrefix: "AL"}, []string{"alice", "albert", "al_x", "alx"}},
		// "_" is a LIKE wildcard; as a prefix it means itself.
		{"username prefix with underscore", store.UserFilter{Limit: 10, UsernamePrefix: "al_"}, []string{"al_x"}},
		{"email prefix", store.UserFilter{Limit: 10, EmailPrefix: "b"}, []string{"bob"}},
		{"email domain is not a prefix", store.UserFilter{Limit: 10, EmailPrefix: "b.example"}, nil},
		{"group prefix, any case", store.UserFilter{Limit: 10, GroupPrefix: "adm"}, []string{"carol", "albert", "al_x"}},
		{"group prefix of a second group", store.UserFilter{Limit: 10, GroupPrefix: "team_al"}, []string{"alice", "albert", "al_x", "alx"}},
		{"group prefix with wildcard", store.UserFilter{Limit: 10, GroupPrefix: "team%"}, nil},
		{"filters combine", store.UserFilter{Limit: 10, UsernamePrefix: "al", GroupPrefix: "users"}, []string{"alice", "alx"}},
		{"filters and paging", store.UserFilter{Limit: 1, After: "usr_01", UsernamePrefix: "al"}, []string{"albert"}},
	}
	for _, tc := range cases {
		got, err := s.ListUsers(ctx, tc.filter)
		must(t, "ListUsers "+tc.name, err)
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("ListUsers %s = %v, want %v", tc.name, ids(got), tc.want)
		}
	}
	if _, err := s.ListUsers(ctx, store.UserFilter{}); err == nil {
		t.Error("ListUsers with limit 0 did not fail")
	}
}

func testUserUpdate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("dave")
	must(t, "CreateUser", s.CreateUser(ctx, u))
	next := u
	next.Username, next.Email, next.EmailVerified, next.Name, next.Groups = "David", "david@example.org", false, "David", nil
	next.UpdatedAt = t0.Add(time.Hour)
	// Fields UpdateUser does not own are kept whatever is sent.
	sent := next
	sent.Disabled, sent.PasswordHash, sent.CreatedAt, sent.LastLoginAt = true, "other", t0.Add(time.Hour), time.Time{}
	must(t, "UpdateUser", s.UpdateUser(ctx, sent))
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	checkEqual(t, "updated user", got, next)
	_, err = s.GetUserByUsername(ctx, "dave")
	wantErr(t, "GetUserByUsername of the old name", err, store.ErrNotFound)

	must(t, "SetUserPassword", s.SetUserPassword(ctx, u.ID, "new-hash", t0.Add(2*time.Hour)))
	must(t, "RecordUserLogin", s.RecordUserLogin(ctx, u.ID, t0.Add(3*time.Hour)))
	next.PasswordHash, next.UpdatedAt, next.LastLoginAt = "new-hash", t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	got, err = s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	checkEqual(t, "user after password and login", got, next)
}

// userWithSessions creates u with two sessions, each with a grant.
func userWithSessions(t *testing.T, s store.Store, u store.User) (sessions []store.Session, grants []store.Grant) {
	t.Helper()
	must(t, "CreateUser", s.CreateUser(t.Context(), u))
	for _, n := range []string{"1", "2"} {
		sess := newSession(u.Username + n)
		sess.Subject = u.ID
		must(t, "CreateSession", s.CreateSession(t.Context(), sess))
		f := issue(t, s, u.Username+n, func(f *family) {
			f.code.Subject, f.grant.Subject = u.ID, u.ID
		})
		sessions, grants = append(sessions, sess), append(grants, f.grant)
	}
	return sessions, grants
}

func checkRevoked(t *testing.T, s store.Store, what string, sessions []store.Session, grants []store.Grant, want bool) {
	t.Helper()
	for _, sess := range sessions {
		got, err := s.GetSession(t.Context(), sess.IDHash)
		must(t, "GetSession", err)
		if got.RevokedAt.IsZero() == want {
			t.Errorf("%s: session %s revoked = %v, want %v", what, sess.Subject, !got.RevokedAt.IsZero(), want)
		}
	}
	for _, g := range grants {
		got, err := s.GetGrant(t.Context(), g.ID)
		must(t, "GetGrant", err)
		if got.RevokedAt.IsZero() == want {
			t.Errorf("%s: grant %s revoked = %v, want %v", what, g.ID, !got.RevokedAt.IsZero(), want)
		}
	}
}

func testUserDisableRevokesSessions(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("erin")
	sessions, grants := userWithSessions(t, s, u)
	other := newUser("frank")
	otherSessions, otherGrants := userWithSessions(t, s, other)
	at := redeemAt.Add(time.Minute)
	must(t, "SetUserDisabled", s.SetUserDisabled(ctx, u.ID, true, at))
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	if !got.Disabled {
		t.Error("the user is not disabled")
	}
	checkRevoked(t, s, "after disabling", sessions, grants, true)
	checkRevoked(t, s, "another user after disabling", otherSessions, otherGrants, false)
	// The revocation feed carries them to gates and caches.
	feed, err := s.RevokedSince(ctx, at, at, 100)
	must(t, "RevokedSince", err)
	if len(feed) != len(sessions)+len(grants) {
		t.Errorf("the feed has %d revocations, want %d: %+v", len(feed), len(sessions)+len(grants), feed)
	}
	live, err := s.ListUserSessions(ctx, u.ID, at, 10)
	must(t, "ListUserSessions", err)
	if len(live) != 0 {
		t.Errorf("ListUserSessions after disabling = %d sessions", len(live))
	}
	must(t, "SetUserDisabled false", s.SetUserDisabled(ctx, u.ID, false, at.Add(time.Minute)))
	got, err = s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	if got.Disabled {
		t.Error("the user is still disabled after enabling")
	}
}

func testUserRevokeSessionsKeepsOne(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("gina")
	sessions, grants := userWithSessions(t, s, u)
	live, err := s.ListUserSessions(ctx, u.ID, t0, 10)
	must(t, "ListUserSessions", err)
	if len(live) != 2 {
		t.Fatalf("ListUserSessions = %d sessions, want 2", len(live))
	}
	at := redeemAt.Add(time.Minute)
	// Grants created from the kept session (grantFor uses the session
	// named like the code) are kept with it.
	ns, ng, err := s.RevokeUserSessions(ctx, u.ID, sessions[0].IDHash, at)
	must(t, "RevokeUserSessions", err)
	if ns != 1 || ng != 1 {
		t.Errorf("RevokeUserSessions revoked %d sessions and %d grants, want 1 and 1", ns, ng)
	}
	checkRevoked(t, s, "kept", sessions[:1], grants[:1], false)
	checkRevoked(t, s, "ended", sessions[1:], grants[1:], true)
	ns, ng, err = s.RevokeUserSessions(ctx, u.ID, "", at.Add(time.Minute))
	must(t, "RevokeUserSessions of all", err)
	if ns != 1 || ng != 1 {
		t.Errorf("RevokeUserSessions of all revoked %d sessions and %d grants, want 1 and 1", ns, ng)
	}
	checkRevoked(t, s, "all", sessions, grants, true)
}

func testUserDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("hank")
	sessions, grants := userWithSessions(t, s, u)
	must(t, "SaveConsent", s.SaveConsent(ctx, store.Consent{Subject: u.ID, ClientID: "c", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}))
	tok := store.UserToken{Hash: hashOf("inv:hank"), Kind: store.UserTokenInvite, UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "CreateUserToken", s.CreateUserToken(ctx, tok))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID, redeemAt.Add(time.Minute)))
	checkRevoked(t, s, "after delete", sessions, grants, true)
	_, err := s.GetConsent(ctx, u.ID, "c")
	wantErr(t, "GetConsent after delete", err, store.ErrNotFound)
	_, err = s.UseUserToken(ctx, tok.Hash, tok.Kind, t0)
	wantErr(t, "UseUserToken after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, u.ID, redeemAt.Add(time.Minute)), store.ErrNotFound)
}

func testUserTokens(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	tok := store.UserToken{Hash: hashOf("pwr:ivy"), Kind: store.UserTokenReset, UserID: "usr_ivy", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "CreateUserToken", s.CreateUserToken(ctx, tok))
	got, err := s.GetUserToken(ctx, tok.Hash)
	must(t, "GetUserToken", err)
	checkEqual(t, "token", got, tok)
	wantErr(t, "CreateUserToken again", s.CreateUserToken(ctx, tok), store.ErrAlreadyExists)
	_, err = s.UseUserToken(ctx, tok.Hash, store.UserTokenInvite, t0)
	wantErr(t, "UseUserToken of the wrong kind", err, store.ErrNotFound)
	_, err = s.UseUserToken(ctx, tok.Hash, tok.Kind, tok.ExpiresAt)
	wantErr(t, "UseUserToken at expiry", err, store.ErrNotFound)
	got, err = s.UseUserToken(ctx, tok.Hash, tok.Kind, t0.Add(time.Minute))
	must(t, "UseUserToken", err)
	want := tok
	want.UsedAt = t0.Add(time.Minute)
	checkEqual(t, "used token", got, want)
	_, err = s.UseUserToken(ctx, tok.Hash, tok.Kind, t0.Add(2*time.Minute))
	wantErr(t, "UseUserToken twice", err, store.ErrNotFound)
	used, err := s.GetUserToken(ctx, tok.Hash)
	must(t, "GetUserToken of a used token", err)
	checkEqual(t, "used token read back", used, want)
	_, err = s.GetUserToken(ctx, hashOf("unknown"))
	wantErr(t, "GetUserToken of an unknown token", err, store.ErrNotFound)
	_, err = s.UseUserToken(ctx, hashOf("unknown"), tok.Kind, t0)
	wantErr(t, "UseUserToken of an unknown token", err, store.ErrNotFound)
	// A token confirming an email address keeps the address.
	verify := store.UserToken{Hash: hashOf("vem:ivy"), Kind: store.UserTokenVerifyEmail, UserID: "usr_ivy",
		Email: "Ivy.New@Example.com", CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}
	must(t, "CreateUserToken of an email token", s.CreateUserToken(ctx, verify))
	gotVerify, err := s.UseUserToken(ctx, verify.Hash, store.UserTokenVerifyEmail, t0.Add(time.Minute))
	must(t, "UseUserToken of an email token", err)
	verify.UsedAt = t0.Add(time.Minute)
	checkEqual(t, "used email token", gotVerify, verify)
	// Expired tokens are garbage.
	n, err := s.GarbageCollect(ctx, tok.ExpiresAt.Add(time.Second), 10)
	must(t, "GarbageCollect", err)
	if n != 1 { // the email token expires an hour later
		t.Errorf("GarbageCollect deleted %d records, want the token", n)
	}
}

// testConcurrentCreateUser races creations of one username, each with
// its own id: exactly one user results.
func testConcurrentCreateUser(t *testing.T, stores []store.Store) {
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		u := newUser("racer")
		u.ID = fmt.Sprintf("usr_racer_%03d", i)
		u.Email = fmt.Sprintf("racer%03d@example.com", i)
		return s.CreateUser(ctx, u)
	})
	winner := tally(t, "CreateUser", errs, store.ErrAlreadyExists)
	users, err := stores[0].ListUsers(t.Context(), store.UserFilter{Limit: 1000})
	must(t, "ListUsers", err)
	if len(users) != 1 || users[0].ID != fmt.Sprintf("usr_racer_%03d", winner) {
		t.Fatalf("after the race the store has %d users (%+v), want only the winner's", len(users), users)
	}
}

// testConcurrentUseUserToken races uses of one token: exactly one wins.
func testConcurrentUseUserToken(t *testing.T, stores []store.Store) {
	tok := store.UserToken{Hash: hashOf("inv:race"), Kind: store.UserTokenInvite, UserID: "usr_race", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "CreateUserToken", stores[0].CreateUserToken(t.Context(), tok))
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		_, err := s.UseUserToken(ctx, tok.Hash, tok.Kind, t0.Add(time.Minute))
		return err
	})
	tally(t, "UseUserToken", errs, store.ErrNotFound)
}
