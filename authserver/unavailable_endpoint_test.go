package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestStoreOutage: while the store cannot be reached (here a real SQLite
// store whose database is closed under the server), nobody is signed out
// and no client is told its credentials are bad. A signed-in browser is
// sent back to the app with temporarily_unavailable (RFC 6749 §4.1.2.1),
// never to the password form, and prompt=none says the same instead of
// login_required; a sign-in gets a try-again page; every endpoint answers
// 503 temporarily_unavailable with Retry-After, never a bare 500.
func TestStoreOutage(t *testing.T) {
	f := authservertest.New(t, authservertest.Options{Registration: authserver.RegistrationOpen})
	signedIn := f.NewBrowser(t)
	signedIn.SignIn()
	tokens := f.TokensFor(t, authservertest.ThirdParty, "openid offline_access")
	code := signedIn.Code(f.AuthorizeQuery(authservertest.FirstParty, "openid"))
	// A fresh browser's way to the login form needs no store.
	stranger := f.NewBrowser(t)
	loginPage := stranger.Authorize(f.AuthorizeQuery(authservertest.FirstParty, "openid"))
	if !stranger.OnPage(loginPage, "/login") {
		t.Fatalf("no login page before the outage: %s", loginPage)
	}

	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("authorize with a session", func(t *testing.T) {
		for _, prompt := range []string{"", "none"} {
			q := f.AuthorizeQuery(authservertest.FirstParty, "openid")
			if prompt != "" {
				q.Set("prompt", prompt)
			}
			res := signedIn.Authorize(q)
			loc := res.Location()
			if res.Code/100 != 3 || loc == nil || !strings.HasPrefix(loc.String(), authservertest.FirstPartyRedirect) {
				t.Fatalf("prompt=%q: not redirected to the app: %s", prompt, res)
			}
			if got := res.RedirectQuery().Get("error"); got != "temporarily_unavailable" {
				t.Errorf("prompt=%q: error=%q, want temporarily_unavailable", prompt, got)
			}
		}
	})

	t.Run("sign in", func(t *testing.T) {
		res := stranger.Login(loginPage)
		if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("sign-in during the outage: %s, Retry-After %q", res, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(res.Body, "try again") || !strings.Contains(res.Body, "temporarily_unavailable") {
			t.Errorf("the page does not say to try again: %s", res)
		}
	})

	t.Run("account page", func(t *testing.T) {
		res := signedIn.Get("/account/apps")
		if res.Code != http.StatusServiceUnavailable || signedIn.OnPage(res, "/login") || res.Header.Get("Retry-After") == "" {
			t.Errorf("account page during the outage: %s", res)
		}
	})

	register := func() *authservertest.Response {
		body := `{"redirect_uris":["https://new.example/cb"],"client_name":"New"}`
		r := httptest.NewRequest(http.MethodPost, f.URL("/register"), strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return f.Serve(t, r)
	}
	endpoints := []struct {
		name string
		call func() *authservertest.Response
	}{
		{"code exchange", func() *authservertest.Response {
			return f.ExchangeRequest(t, authservertest.FirstParty, code, nil)
		}},
		{"refresh", func() *authservertest.Response {
			return f.RefreshRequest(t, authservertest.ThirdParty, tokens.RefreshToken, nil)
		}},
		{"introspection", func() *authservertest.Response {
			return f.ClientPost(t, "/introspect", authservertest.ThirdParty, url.Values{"token": {tokens.AccessToken}})
		}},
		{"revocation", func() *authservertest.Response {
			return f.ClientPost(t, "/revoke", authservertest.ThirdParty, url.Values{"token": {tokens.RefreshToken}})
		}},
		{"userinfo", func() *authservertest.Response {
			r := f.NewRequest(http.MethodGet, "/userinfo", nil)
			r.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
			return f.Serve(t, r)
		}},
		{"registration", register},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			res := ep.call()
			if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
				t.Fatalf("%d, Retry-After %q: %s", res.Code, res.Header.Get("Retry-After"), res)
			}
			if got := res.OAuthError(); got != "temporarily_unavailable" {
				t.Errorf("error %q, want temporarily_unavailable", got)
			}
			if wa := res.Header.Get("WWW-Authenticate"); strings.Contains(wa, "invalid") {
				t.Errorf("WWW-Authenticate %q blames the credentials", wa)
			}
		})
	}
}
