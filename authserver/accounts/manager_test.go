package accounts_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const goodPassword = "plum-tractor-velvet-92"

func newManager(t *testing.T) (*accounts.Manager, *ast.Fixture) {
	f := ast.New(t, ast.Options{})
	return f.Accounts, f
}

func wantField(t *testing.T, what string, err error, field string, taken bool) {
	t.Helper()
	var fe *accounts.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: got %v, want a FieldError about %q", what, err, field)
	}
	if fe.Field != field || fe.Taken != taken {
		t.Fatalf("%s: got a FieldError about %q (taken %v): %v; want %q (taken %v)", what, fe.Field, fe.Taken, fe, field, taken)
	}
}

func TestCreateRefusesEachBadField(t *testing.T) {
	m, _ := newManager(t)
	ctx := t.Context()
	if _, err := m.Create(ctx, accounts.NewUser{Username: "taken", Email: "taken@example.com"}); err != nil {
		t.Fatal(err)
	}
	ok := accounts.NewUser{Username: "carol", Email: "carol@example.com", Name: "Carol", Groups: []string{"staff"}, Password: goodPassword}
	tests := []struct {
		name  string
		edit  func(u *accounts.NewUser)
		field string
		taken bool
	}{
		{"no username", func(u *accounts.NewUser) { u.Username = "" }, "username", false},
		{"username with @", func(u *accounts.NewUser) { u.Username = "carol@example.com" }, "username", false},
		{"username with space", func(u *accounts.NewUser) { u.Username = "carol c" }, "username", false},
		{"username starting with a dot", func(u *accounts.NewUser) { u.Username = ".carol" }, "username", false},
		{"non-ASCII username", func(u *accounts.NewUser) { u.Username = "carolé" }, "username", false},
		{"long username", func(u *accounts.NewUser) { u.Username = strings.Repeat("c", 65) }, "username", false},
		{"username taken", func(u *accounts.NewUser) { u.Username = "TAKEN" }, "username", true},
		{"username of a configured user", func(u *accounts.NewUser) { u.Username = ast.Alice }, "username", true},
		{"bad email", func(u *accounts.NewUser) { u.Email = "carol" }, "email", false},
		{"email with a display name", func(u *accounts.NewUser) { u.Email = "Carol <carol@example.com>" }, "email", false},
		{"email taken", func(u *accounts.NewUser) { u.Email = "Taken@Example.com" }, "email", true},
		{"email of a configured user", func(u *accounts.NewUser) { u.Email = "alice@example.com" }, "email", true},
		{"email equal to a username", func(u *accounts.NewUser) { u.Email = "taken@example.net"; u.Username = "taken@example.net" }, "username", false},
		{"control character in name", func(u *accounts.NewUser) { u.Name = "Carol\x00" }, "name", false},
		{"long name", func(u *accounts.NewUser) { u.Name = strings.Repeat("n", 201) }, "name", false},
		{"empty group", func(u *accounts.NewUser) { u.Groups = []string{"staff", ""} }, "groups[1]", false},
		{"duplicate group", func(u *accounts.NewUser) { u.Groups = []string{"staff", "staff"} }, "groups[1]", false},
		{"short password", func(u *accounts.NewUser) { u.Password = "short-pw-1" }, "password", false},
		{"long password", func(u *accounts.NewUser) { u.Password = strings.Repeat("p", 257) }, "password", false},
		{"common password", func(u *accounts.NewUser) { u.Password = "LeaveMeAlone" }, "password", false},
		{"password equal to username", func(u *accounts.NewUser) { u.Username, u.Password = "carolcarolcarol", "CarolCarolCarol" }, "password", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := ok
			tc.edit(&u)
			_, err := m.Create(ctx, u)
			wantField(t, "Create", err, tc.field, tc.taken)
		})
	}
	// The unchanged input is fine.
	u, err := m.Create(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.ID, "usr_") || len(u.ID) < 20 || u.PasswordHash == "" {
		t.Errorf("created user %+v: want an opaque usr_ id and a password hash", u)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		password string
		policy   accounts.Policy
		ok       bool
	}{
		{"1qaz2wsx3edc", accounts.Policy{}, false},                // common
		{"correct horse battery staple", accounts.Policy{}, true}, // long, not common
		{"elevenchars", accounts.Policy{}, false},
		{"ünïcödé-pässwörd", accounts.Policy{}, true}, // counted in characters
		{"aaaaaaaa9x", accounts.Policy{MinLength: 10}, true},
		{"password", accounts.Policy{MinLength: 8}, false}, // common
		{strings.Repeat("é", 256), accounts.Policy{}, true},
		{strings.Repeat("é", 257), accounts.Policy{}, false},
		{"valid-but-\xff-utf8", accounts.Policy{}, false},
	}
	for _, tc := range tests {
		err := tc.policy.Check(tc.password)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) with %+v = %v, want ok %v", tc.password, tc.policy, err, tc.ok)
		}
	}
	if !accounts.IsCommonPassword("Dragon") || accounts.IsCommonPassword("plum-tractor-velvet-92") {
		t.Error("the common password list does not answer as expected")
	}
	if err := (accounts.Policy{MinLength: 6}).Validate(); err == nil {
		t.Error("a minimum length of 6 was accepted")
	}
}

func TestUpdateDisableDelete(t *testing.T) {
	m, f := newManager(t)
	ctx := t.Context()
	u, err := m.Create(ctx, accounts.NewUser{Username: "dave", Email: "dave@example.com", EmailVerified: true, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Create(ctx, accounts.NewUser{Username: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	email, name := "David@Example.org", "David"
	got, err := m.Update(ctx, u.ID, accounts.Patch{Email: &email, Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != email || got.Name != name || got.EmailVerified {
		t.Errorf("after the update: %+v; want the new email unverified and the name", got)
	}
	taken := "ERIN"
	_, err = m.Update(ctx, u.ID, accounts.Patch{Username: &taken})
	wantField(t, "Update to another user's username", err, "username", true)
	if _, err := m.Update(ctx, other.ID, accounts.Patch{Username: &taken}); err != nil {
		t.Errorf("changing the case of one's own username: %v", err)
	}
	_, err = m.Update(ctx, ast.AliceID, accounts.Patch{Name: &name})
	if !errors.Is(err, accounts.ErrStatic) {
		t.Errorf("Update of a configured user: %v, want ErrStatic", err)
	}
	_, err = m.Update(ctx, "usr_nobody", accounts.Patch{Name: &name})
	if !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Update of nobody: %v, want ErrNotFound", err)
	}

	// The directory finds the user by username and email until they are
	// disabled.
	dir := m.Directory()
	for _, key := range []string{"DAVE", "david@example.org"} {
		if found, err := dir.UserByUsername(ctx, key); err != nil || found.ID != u.ID || !found.Stored || found.Password == nil {
			t.Errorf("UserByUsername(%q) = %+v, %v", key, found, err)
		}
	}
	if err := m.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.UserByID(ctx, u.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("UserByID of a disabled user: %v, want ErrNotFound", err)
	}
	if _, _, err := m.Invite(ctx, u.ID); err == nil {
		t.Error("a disabled user was invited")
	}
	if err := m.SetDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.UserByID(ctx, u.ID); err != nil {
		t.Errorf("UserByID after enabling: %v", err)
	}
	if err := m.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, u.ID); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := m.Delete(ctx, ast.AliceID); !errors.Is(err, accounts.ErrStatic) {
		t.Errorf("Delete of a configured user: %v, want ErrStatic", err)
	}
	_ = f
}

func TestTokens(t *testing.T) {
	m, f := newManager(t)
	ctx := t.Context()
	u, err := m.Create(ctx, accounts.NewUser{Username: "fay", Email: "fay@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	invite, expires, err := m.Invite(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(invite, accounts.InvitePrefix) || !expires.Equal(f.Clock.Now().Add(24*time.Hour)) {
		t.Errorf("invite %q expiring %v: want the gh_inv_ prefix and 24 h", invite, expires)
	}
	// A refused password leaves the token usable.
	_, err = m.UseToken(ctx, invite, "password1")
	wantField(t, "UseToken with a weak password", err, "password", false)
	for _, bad := range []string{"", "gh_inv_", invite + "x", accounts.ResetPrefix + strings.TrimPrefix(invite, accounts.InvitePrefix), strings.Repeat("a", 500)} {
		if _, _, err := m.CheckToken(ctx, bad); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("CheckToken(%.20q): %v, want ErrNotFound", bad, err)
		}
	}
	got, kind, err := m.CheckToken(ctx, invite)
	if err != nil || got.ID != u.ID || kind != store.UserTokenInvite {
		t.Fatalf("CheckToken = %+v, %q, %v", got, kind, err)
	}
	if _, err := m.UseToken(ctx, invite, goodPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UseToken(ctx, invite, goodPassword+"2"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("UseToken a second time: %v, want ErrNotFound", err)
	}
	signedIn, err := m.Directory().UserByUsername(ctx, "fay")
	if err != nil || signedIn.Password == nil || !signedIn.Password.Matches(goodPassword) {
		t.Fatalf("after the invitation the password does not match: %+v, %v", signedIn, err)
	}

	reset, _, err := m.ResetLink(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(24 * time.Hour)
	if _, err := m.UseToken(ctx, reset, goodPassword+"3"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("UseToken of an expired reset link: %v, want ErrNotFound", err)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	m, f := newManager(t)
	ctx := t.Context()
	u, err := m.Create(ctx, accounts.NewUser{Username: "gus", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	now := f.Clock.Now()
	for _, h := range []string{"keep", "other"} {
		if err := f.Store.CreateSession(ctx, store.Session{IDHash: h, Subject: u.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.ChangePassword(ctx, u.ID, "wrong-password-here", goodPassword+"x", "keep"); !errors.Is(err, accounts.ErrWrongPassword) {
		t.Fatalf("ChangePassword with a wrong current password: %v", err)
	}
	if err := m.ChangePassword(ctx, u.ID, goodPassword, goodPassword+"x", "keep"); err != nil {
		t.Fatal(err)
	}
	live, err := f.Store.ListUserSessions(ctx, u.ID, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].IDHash != "keep" {
		t.Errorf("after the change the live sessions are %+v, want only the one that made it", live)
	}
}

// TestListAndLookups: listing pages through stored users only, by
// prefix; configured users are found by GetStatic and refused by every
// change; an unknown id is ErrNotFound everywhere.
func TestListAndLookups(t *testing.T) {
	m, _ := newManager(t)
	ctx := t.Context()
	for _, name := range []string{"frank", "fran", "gina"} {
		if _, err := m.Create(ctx, accounts.NewUser{Username: name, Email: name + "@example.com", Groups: []string{"team-" + name[:1]}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		filter store.UserFilter
		want   []string
	}{
		{store.UserFilter{Limit: 10}, []string{"fran", "frank", "gina"}},
		{store.UserFilter{Limit: 10, UsernamePrefix: "FRAN"}, []string{"fran", "frank"}},
		{store.UserFilter{Limit: 10, EmailPrefix: "gi"}, []string{"gina"}},
		{store.UserFilter{Limit: 10, GroupPrefix: "team-f"}, []string{"fran", "frank"}},
		{store.UserFilter{Limit: 10, UsernamePrefix: "alice"}, nil}, // configured users are not stored
	} {
		users, err := m.List(ctx, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Username)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%+v) = %q, want %q", tc.filter, got, tc.want)
		}
	}
	// Keyset pages of one cover everyone once.
	var seen []string
	for after := ""; ; {
		page, err := m.List(ctx, store.UserFilter{Limit: 1, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, page[0].Username)
		after = page[0].ID
	}
	if len(seen) != 3 {
		t.Errorf("pages of one gave %q, want the three users once each", seen)
	}

	if u := m.GetStatic(ctx, ast.AliceID); u == nil || u.Username != ast.Alice {
		t.Errorf("GetStatic(alice) = %+v", u)
	}
	if u := m.GetStatic(ctx, "usr_nobody"); u != nil {
		t.Errorf("GetStatic(nobody) = %+v, want nil", u)
	}
	for name, err := range map[string]error{
		"SetDisabled(alice)":  m.SetDisabled(ctx, ast.AliceID, true),
		"SetDisabled(nobody)": m.SetDisabled(ctx, "usr_nobody", true),
		"Delete(nobody)":      m.Delete(ctx, "usr_nobody"),
	} {
		want := accounts.ErrNotFound
		if strings.Contains(name, "alice") {
			want = accounts.ErrStatic
		}
		if !errors.Is(err, want) {
			t.Errorf("%s = %v, want %v", name, err, want)
		}
	}
	if got := (&accounts.FieldError{Field: "email", Reason: "is not an address"}).Error(); got != "email: is not an address" {
		t.Errorf("FieldError text = %q", got)
	}
}
