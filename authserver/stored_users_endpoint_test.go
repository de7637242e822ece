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

// TestAccountSettings: a stored user changes their name and password on
// the account page (the current password is required; other sessions
// end), lists the devices signed in and signs one out; a configured
// user sees the page without the forms they cannot use.
func TestAccountSettings(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, id := storedUser(t, f, "hana")
	phone := f.NewBrowser(t)
	phone.Username, phone.Password = "hana", storedPassword
	phone.SignIn()
	b.SignIn()
	tok := f.Exchange(t, ast.ThirdParty, phone.Code(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access")))

	page := b.Get("/account")
	wantPageHeaders(t, page)
	text := pageText(page)
	if page.Code != http.StatusOK || !strings.Contains(text, "Where you're signed in") || strings.Count(text, "Signed in on") != 2 ||
		!strings.Contains(text, "This device") {
		t.Fatalf("account page: %s", page)
	}
	if strings.Contains(page.Body, `name="email"`) {
		t.Error("without a mailer the account page offers to change the email")
	}
	if apps := b.Get("/account/apps"); !strings.Contains(apps.Body, `href="/account"`) {
		t.Error("the connected apps page does not link to the account page")
	}

	res := b.Submit(page, "/account", query("action", "profile", "name", "Hana H."))
	if res.Code != http.StatusOK || !strings.Contains(pageText(res), "Your profile is saved.") {
		t.Fatalf("saving the profile: %s", res)
	}
	if u, _ := f.Accounts.Get(t.Context(), id); u.Name != "Hana H." {
		t.Errorf("name after saving = %q", u.Name)
	}
	refused := []struct {
		name   string
		fields url.Values
		status int
		text   string
	}{
		{"bad name", query("action", "profile", "name", "a\x01b"), 400, "The name must not contain control characters."},
		{"wrong current password", query("action", "password", "current", "not-the-password", "password", storedPassword+"2", "confirm", storedPassword+"2"), 400, "The current password is incorrect."},
		{"mismatch", query("action", "password", "current", storedPassword, "password", storedPassword+"2", "confirm", storedPassword+"3"), 400, "The two passwords do not match."},
		{"weak", query("action", "password", "current", storedPassword, "password", "1qaz2wsx3edc", "confirm", "1qaz2wsx3edc"), 400, "most common passwords"},
		{"forged", query("action", "profile", "name", "X", "csrf", "forged"), 403, "This form has expired"},
		{"unknown action", query("action", "delete"), 400, "This request is not valid"},
		{"someone else's session", query("action", "end_session", "session", "0123"), 400, "This request is not valid"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			res := b.For(t).Submit(page, "/account", tc.fields)
			if res.Code != tc.status || !strings.Contains(pageText(res), tc.text) {
				t.Errorf("%s: %s", tc.name, res)
			}
		})
	}
	if !signedIn(t, phone) {
		t.Fatal("a refused change signed the other device out")
	}

	res = b.Submit(b.Get("/account"), "/account", query("action", "password", "current", storedPassword, "password", storedPassword+"-2", "confirm", storedPassword+"-2"))
	if res.Code != http.StatusOK || !strings.Contains(pageText(res), "Your password is changed.") {
		t.Fatalf("changing the password: %s", res)
	}
	if signedIn(t, phone) {
		t.Error("the other device is still signed in after the password change")
	}
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdParty, tok.RefreshToken, nil), 400, "invalid_grant")
	if !signedIn(t, b) {
		t.Fatal("the device that changed the password was signed out")
	}

	// Sign out one other device from the list.
	phone.Password = storedPassword + "-2"
	phone.SignIn()
	page = b.Get("/account")
	var other string
	for _, form := range page.Forms() {
		if form.Values.Get("session") != "" {
			other = form.Values.Get("session")
		}
	}
	if other == "" {
		t.Fatalf("no sign-out form for the other device: %s", page)
	}
	res = b.Submit(page, "/account", query("action", "end_session", "session", other))
	if res.Code != http.StatusOK || !strings.Contains(pageText(res), "That device is signed out.") || signedIn(t, phone) {
		t.Errorf("signing out the other device: %s", res)
	}

	// A configured user: no profile or password forms, sessions still.
	alice := f.NewBrowser(t)
	alice.SignIn()
	f.NewBrowser(t).SignIn() // a second device: the page then has a form
	page = alice.Get("/account")
	if text := pageText(page); page.Code != http.StatusOK || !strings.Contains(text, "managed by your administrator") || strings.Contains(text, "Change password") {
		t.Errorf("alice's account page: %s", page)
	}
	if res := alice.Submit(page, "/account", query("action", "password", "current", ast.Password, "password", "x", "confirm", "x")); res.Code != http.StatusBadRequest {
		t.Errorf("alice changing her password: %s", res)
	}

	// Another user's real session id is refused, and that session lives.
	phone.SignIn()
	var hanas string
	for _, form := range b.Get("/account").Forms() {
		if v := form.Values.Get("session"); v != "" {
			hanas = v
		}
	}
	if hanas == "" {
		t.Fatal("no sign-out form for hana's other device")
	}
	if res := alice.Submit(page, "/account", query("action", "end_session", "session", hanas)); res.Code != http.StatusBadRequest {
		t.Errorf("alice ending hana's session: %s", res)
	}
	if !signedIn(t, phone) {
		t.Error("alice signed hana's device out")
	}
}
