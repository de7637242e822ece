package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

const storedPassword = "plum-tractor-velvet-92"

// storedUser creates a user in the store and returns a browser for them.
func storedUser(t *testing.T, f *ast.Fixture, username string) (*ast.Browser, string) {
	t.Helper()
	u, err := f.Accounts.Create(t.Context(), accounts.NewUser{Username: username, Email: username + "@example.com", Password: storedPassword})
	if err != nil {
		t.Fatal(err)
	}
	b := f.NewBrowser(t)
	b.Username, b.Password = username, storedPassword
	return b, u.ID
}

// TestStoredUserSignsIn: a user created at run time signs in (by username
// or email) and gets tokens naming their opaque id; the sign-in is
// recorded.
func TestStoredUserSignsIn(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, id := storedUser(t, f, "carol")
	b.Username = "Carol@Example.com"
	tok := f.Exchange(t, ast.ThirdParty, b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid email offline_access")))
	claims := ast.Claims(t, tok.IDToken)
	if claims["sub"] != id || claims["email"] != "carol@example.com" {
		t.Errorf("ID token claims %v: want sub %q and the email", claims, id)
	}
	u, err := f.Accounts.Get(t.Context(), id)
	if err != nil || !u.LastLoginAt.Equal(f.Clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("last login %v (%v), want now", u.LastLoginAt, err)
	}
}

// TestDisabledUser: disabling a user ends their session and grants at
// once, and they cannot sign in again until enabled.
func TestDisabledUser(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, id := storedUser(t, f, "dana")
	tok := f.Exchange(t, ast.ThirdParty, b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access")))
	if err := f.Accounts.SetDisabled(t.Context(), id, true); err != nil {
		t.Fatal(err)
	}
	if signedIn(t, b) {
		t.Error("the disabled user's session still works")
	}
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdParty, tok.RefreshToken, nil), 400, "invalid_grant")
	res := b.Login(b.Follow(b.Get("/account/apps")))
	if res.Code != http.StatusUnauthorized {
		t.Errorf("a disabled user's sign-in: %s", res)
	}
	if err := f.Accounts.SetDisabled(t.Context(), id, false); err != nil {
		t.Fatal(err)
	}
	b.SignIn()
}

// TestPasswordHashUpgradedAtSignIn: a stored hash made with other
// parameters than the ones in force is replaced at the next successful
// sign-in, and the password still works.
func TestPasswordHashUpgradedAtSignIn(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, id := storedUser(t, f, "eve")
	old := ast.CheapParams
	old.Iterations = 2
	h, err := identity.HashPassword(storedPassword, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Store.SetUserPassword(t.Context(), id, h, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	b.SignIn()
	u, err := f.Store.GetUser(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ph, err := identity.ParsePasswordHash(u.PasswordHash)
	if err != nil || u.PasswordHash == h || ph.NeedsRehash(ast.CheapParams) || !ph.Matches(storedPassword) {
		t.Fatalf("after sign-in the hash is %q (%v); want a new one with the parameters in force", u.PasswordHash, err)
	}
	b2 := f.NewBrowser(t)
	b2.Username, b2.Password = "eve", storedPassword
	b2.SignIn()
}

// TestChoosePasswordPage: an invitation link opens a page where its user
// chooses a password; refused choices keep the link usable; the link
// works once; a reset link also ends the user's sessions.
func TestChoosePasswordPage(t *testing.T) {
	f := ast.New(t, ast.Options{})
	ctx := t.Context()
	u, err := f.Accounts.Create(ctx, accounts.NewUser{Username: "gail", Email: "gail@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	invite, _, err := f.Accounts.Invite(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	link := f.Server.ChoosePasswordURL(invite)
	if !strings.HasPrefix(link, ast.Issuer+"/account/choose-password?token=gh_inv_") {
		t.Fatalf("link %q", link)
	}
	b := f.NewBrowser(t)
	b.Username, b.Password = "gail", storedPassword
	path := strings.TrimPrefix(link, ast.Issuer)
	page := b.Get(path)
	wantPageHeaders(t, page)
	if page.Code != http.StatusOK || !strings.Contains(pageText(page), "Welcome! Choose a password") || !strings.Contains(pageText(page), "gail") {
		t.Fatalf("choose-password page: %s", page)
	}
	refused := []struct {
		name   string
		fields url.Values
		status int
		text   string
	}{
		{"mismatch", query("password", storedPassword, "confirm", storedPassword+"x"), 400, "The two passwords do not match."},
		{"missing", query("password", "", "confirm", ""), 400, "Enter the new password twice."},
		{"too short", query("password", "short-one", "confirm", "short-one"), 400, "The password must be at least 12 characters long."},
		{"common", query("password", "1qaz2wsx3edc", "confirm", "1qaz2wsx3edc"), 400, "most common passwords"},
		{"forged form", query("password", storedPassword, "confirm", storedPassword, "csrf", "forged"), 403, "The form expired."},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			res := b.For(t).Submit(page, "/account/choose-password", tc.fields)
			if res.Code != tc.status || !strings.Contains(pageText(res), tc.text) {
				t.Errorf("%s: %s", tc.name, res)
			}
		})
	}
	res := b.Submit(page, "/account/choose-password", query("password", storedPassword, "confirm", storedPassword))
	if res.Code != http.StatusOK || !strings.Contains(pageText(res), "Your password is set") {
		t.Fatalf("setting the password: %s", res)
	}
	b.SignIn()
	wantErrorPage(t, b.Get(path), http.StatusNotFound, "invalid_request")
	wantErrorPage(t, b.Submit(page, "/account/choose-password", query("password", storedPassword, "confirm", storedPassword)), http.StatusNotFound, "invalid_request")
	wantErrorPage(t, b.Get("/account/choose-password?token=gh_inv_unknown"), http.StatusNotFound, "invalid_request")

	// A reset link ends the sessions of whoever knew the old password.
	reset, _, err := f.Accounts.ResetLink(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	other := f.NewBrowser(t)
	resetPage := other.Get(strings.TrimPrefix(f.Server.ChoosePasswordURL(reset), ast.Issuer))
	if !strings.Contains(pageText(resetPage), "Choose a new password") {
		t.Fatalf("reset page: %s", resetPage)
	}
	if res := other.Submit(resetPage, "/account/choose-password", query("password", storedPassword+"!", "confirm", storedPassword+"!")); res.Code != http.StatusOK {
		t.Fatalf("reset: %s", res)
	}
	if signedIn(t, b) {
		t.Error("a session from before the reset still works")
	}
}
