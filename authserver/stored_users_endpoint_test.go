package authserver_test

import (
	"net/http"
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
