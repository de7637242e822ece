package authserver_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// TestLoginPage: the login page of an authorization request, its
// headers and cookies.
func TestLoginPage(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	page := b.Authorize(ast.Edit(f.AuthorizeQuery(ast.ThirdParty, "openid"), query("login_hint", "alice@example.com")))
	if !b.OnPage(page, "/login") {
		t.Fatalf("want the login page, got %s", page)
	}
	wantPageHeaders(t, page)
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://third.example;") {
		t.Errorf("the login page's form-action does not allow the redirect to the app: %q", csp)
	}
	form := page.Form("/login")
	if form.Values.Get("username") != "alice@example.com" || form.Values.Get("ar") == "" || form.Values.Get("csrf") == "" {
		t.Errorf("login form %v: want the login_hint, the sealed request and a CSRF token", form.Values)
	}
	if !strings.Contains(pageText(page), "Third App") {
		t.Errorf("the login page does not name the app")
	}
	csrf := b.Cookie("gatehouse_csrf")
	if csrf == nil || csrf.Name != "__Host-gatehouse_csrf" || !csrf.Secure || !csrf.HttpOnly {
		t.Errorf("CSRF cookie %+v", csrf)
	}

	res := b.Login(page)
	if !b.OnPage(res, "/consent") {
		t.Fatalf("after the login: %s, want the consent page", res)
	}
	sess := b.Cookie("gatehouse_session")
	if sess == nil || sess.Name != "__Host-gatehouse_session" || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode ||
		sess.MaxAge != int((24*time.Hour)/time.Second) {
		t.Errorf("session cookie %+v", sess)
	}

	t.Run("gate", func(t *testing.T) {
		q := f.AuthorizeQuery("gatehouse-gate", "openid")
		page := f.NewBrowser(t).Authorize(q)
		if !strings.Contains(pageText(page), "gated.example") {
			t.Errorf("the gate's login page does not name the gated site: %s", page)
		}
	})
	t.Run("account", func(t *testing.T) {
		b := f.NewBrowser(t)
		res := b.Get("/account/apps")
		wantLoginRedirect(t, res)
		res = b.Login(b.Follow(res))
		if res.Code != http.StatusOK || !strings.Contains(pageText(res), "Alice Liddell") {
			t.Errorf("the login of the account page does not return to it: %s", res)
		}
	})
}

// TestLoginPost: what the login form answers, and that a failure changes
// nothing.
func TestLoginPost(t *testing.T) {
	nopass := &identity.User{ID: "user-nopass", Username: "nopass"}
	f := ast.New(t, ast.Options{Users: []*identity.User{nopass}})
	tests := []struct {
		name   string
		fields url.Values
		header map[string]string
		status int
		shows  string // on the page
	}{
		{"wrong password", query("username", ast.Alice, "password", "wrong"), nil, 401, "incorrect"},
		{"unknown user", query("username", "mallory", "password", ast.Password), nil, 401, "incorrect"},
		{"user without a password", query("username", "nopass", "password", ""), nil, 400, "Enter your username"},
		{"user without a password, any password", query("username", "nopass", "password", "x"), nil, 401, "incorrect"},
		{"no password", query("username", ast.Alice, "password", ""), nil, 400, "Enter your username"},
		{"no username", query("username", "", "password", ast.Password), nil, 400, "Enter your username"},
		{"username too long", query("username", strings.Repeat("a", 257), "password", ast.Password), nil, 400, "Enter your username"},
		{"password too long", query("username", ast.Alice, "password", strings.Repeat("p", 1025)), nil, 400, "Enter your username"},
		{"bad CSRF token", query("username", ast.Alice, "password", ast.Password, "csrf", "forged"), nil, 403, "expired"},
		{"email as username", query("username", "ALICE@example.com", "password", ast.Password), nil, 200, "Third App"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := f.NewBrowser(t)
			page := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid"))
			res := b.Submit(page, "/login", tc.fields)
			if res.Code != tc.status || !strings.Contains(pageText(res), tc.shows) {
				t.Errorf("got %s, want %d showing %q", res, tc.status, tc.shows)
			}
			if loggedIn := b.Cookie("gatehouse_session") != nil; loggedIn != (tc.status == 200) {
				t.Errorf("session cookie set: %v", loggedIn)
			}
			if tc.status == 401 && res.Form("/login").Values.Get("username") != tc.fields.Get("username") {
				t.Errorf("the username typed is not kept")
			}
		})
	}

	page := f.NewBrowser(t).Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid"))
	ar, csrf := page.Form("/login").Values.Get("ar"), page.Form("/login").Values.Get("csrf")
	raw := func(body, contentType string, cookie bool) *http.Request {
		r := f.NewRequest(http.MethodPost, "/login", nil)
		r.Body = nopCloser(body)
		r.Header.Set("Content-Type", contentType)
		if cookie {
			for _, c := range page.Cookies() {
				r.AddCookie(c)
			}
		}
		return r
	}
	const form = "application/x-www-form-urlencoded"
	good := url.Values{"ar": {ar}, "csrf": {csrf}, "username": {ast.Alice}, "password": {ast.Password}}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"no CSRF cookie", raw(good.Encode(), form, false), 403, ""},
		{"repeated field", raw(good.Encode()+"&password=x", form, true), 403, "invalid_request"},
		{"not a form", raw(`{"username":"alice"}`, "application/json", true), 400, "invalid_request"},
		{"too large", raw(good.Encode()+"&pad="+strings.Repeat("x", 70<<10), form, true), 413, "invalid_request"},
		{"no sealed request", raw(url.Values{"csrf": {csrf}}.Encode(), form, true), 400, "invalid_request"},
		{"tampered sealed request", raw(ast.Edit(good, query("ar", ar[:len(ar)-4]+"AAAA")).Encode(), form, true), 400, "invalid_request"},
		{"account login sealed as a request", raw(ast.Edit(good, query("ar", "x")).Encode(), form, true), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Serve(t, tc.req)
			if tc.code == "" {
				if res.Code != tc.status {
					t.Errorf("got %s, want %d", res, tc.status)
				}
				return
			}
			wantErrorPage(t, res, tc.status, tc.code)
		})
	}
	t.Run("GET without a sealed request", func(t *testing.T) {
		wantErrorPage(t, f.Get(t, "/login"), http.StatusBadRequest, "invalid_request")
	})
}

// TestLoginNewSession: every login starts a new session and ends the one
// the browser had (no session fixation).
func TestLoginNewSession(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	b.SignIn()
	first := *b.Cookie("gatehouse_session")
	f.Clock.Advance(time.Second)
	res := b.Login(b.Authorize(ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), query("prompt", "login"))))
	if res.RedirectQuery().Get("code") == "" {
		t.Fatalf("login: %s", res)
	}
	second := b.Cookie("gatehouse_session")
	if second == nil || second.Value == first.Value {
		t.Fatal("the login kept the session cookie")
	}
	b.SetCookie(&first)
	if signedIn(t, b) {
		t.Error("the session before the login still works")
	}
}

// TestLoginThrottle: repeated failures lock the account (429 with
// Retry-After, the password unchecked), except in a browser where its
// user signed in before (device cookie), and the lock ends with time.
func TestLoginThrottle(t *testing.T) {
	f := ast.New(t, ast.Options{LoginThrottle: &throttle.Policy{MaxFailures: 3, Lockout: 5 * time.Minute, Backoff: -1}})
	trusted := f.NewBrowser(t)
	trusted.SignIn()
	if trusted.Cookie("gatehouse_device") == nil {
		t.Fatal("no device cookie after a successful login")
	}
	attacker := f.NewBrowser(t)
	attacker.Password = "guess"
	page := attacker.Follow(attacker.Get("/account/apps"))
	for i := range 3 {
		if res := attacker.Login(page); res.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i+1, res)
		}
	}
	attacker.Password = ast.Password
	res := attacker.Login(page)
	if res.Code != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(pageText(res), "Too many") {
		t.Fatalf("a locked account: %s, want 429 with Retry-After", res)
	}
	if attacker.Cookie("gatehouse_session") != nil {
		t.Fatal("a locked account signed in")
	}
	trusted.SetCookie(&http.Cookie{Name: "__Host-gatehouse_session"})
	if res := trusted.Login(trusted.Follow(trusted.Get("/account/apps"))); res.Code != http.StatusOK {
		t.Errorf("the user's own browser cannot sign in during the lock: %s", res)
	}
	f.Clock.Advance(5 * time.Minute)
	if res := attacker.Login(page); res.Code != http.StatusOK {
		t.Errorf("after the lockout: %s", res)
	}
}

// TestLoginHashingBusy: when password hashing is saturated (here: its
// only slot cooling down for far longer than the test, after one hash),
// a login is refused with 503, Retry-After and "try again" before its
// password is hashed, and the refusal does not count as a failure: many
// of them never lock the account. Client authentication with a chosen
// secret is refused the same way (503 temporarily_unavailable).
func TestLoginHashingBusy(t *testing.T) {
	phc, err := identity.HashPassword("chosen-secret", identity.Argon2idParams{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	hasher := identity.NewHasherWithLimits(identity.HasherLimits{Concurrency: 1, CPUShare: 1e-9, QueueWait: time.Millisecond, MaxQueue: 1})
	f := ast.New(t, ast.Options{
		LoginThrottle:  &throttle.Policy{MaxFailures: 2, Lockout: 5 * time.Minute, Backoff: -1},
		ClientThrottle: &throttle.Policy{MaxFailures: 2, Lockout: 5 * time.Minute},
		Clients: []*clients.Client{{ID: "chosen", SecretHashes: []string{phc},
			Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{"https://chosen.example/cb"}}}},
		Configure: func(c *authserver.Config) { c.Hasher = hasher },
	})
	b := f.NewBrowser(t)
	b.Password = "guess"
	page := b.Follow(b.Get("/account/apps"))
	if res := b.Login(page); res.Code != http.StatusUnauthorized {
		t.Fatalf("the first attempt, hashed: %s", res)
	}
	// The slot now cools down for a billion times the hash.
	b.Password = ast.Password
	for i := range 5 {
		res := b.Login(page)
		if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || !strings.Contains(pageText(res), "try again") {
			t.Fatalf("attempt %d while hashing is busy: %s, want 503 with Retry-After and the form", i+2, res)
		}
		if b.Cookie("gatehouse_session") != nil {
			t.Fatal("signed in without a hash")
		}
	}
	for i := range 3 {
		r := f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token", "refresh_token", "gh_rt_x"))
		r.SetBasicAuth("chosen", "chosen-secret")
		res := f.Serve(t, r)
		wantJSONError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable")
		if res.Header.Get("Retry-After") != "1" {
			t.Fatalf("client authentication %d while hashing is busy: no Retry-After: %s", i+1, res)
		}
	}
}

// TestConsentPage: the consent page shows the app and the user, records
// an allow (adding to earlier consents), sends a deny back as
// access_denied, and refuses forged or incomplete forms.
func TestConsentPage(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	b.SignIn()
	page := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid profile"))
	if !b.OnPage(page, "/consent") {
		t.Fatalf("want the consent page: %s", page)
	}
	wantPageHeaders(t, page)
	text := pageText(page)
	for _, want := range []string{"Third App", "Alice Liddell", "https://third.example/privacy", "https://third.example/terms"} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent page does not show %q", want)
		}
	}

	tests := []struct {
		name   string
		fields url.Values
		status int
		code   string
	}{
		{"no decision", nil, 400, "invalid_request"},
		{"unknown decision", query("decision", "maybe"), 400, "invalid_request"},
		{"bad CSRF token", query("decision", "allow", "csrf", "forged"), 403, "invalid_request"},
		{"tampered request", query("decision", "allow", "ar", "x"), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErrorPage(t, b.For(t).Submit(page, "/consent", tc.fields), tc.status, tc.code)
		})
	}
	wantRedirectError(t, b.Consent(page, "deny"), ast.ThirdPartyRedirect, "access_denied", ast.State)
	if res := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid")); !b.OnPage(res, "/consent") {
		t.Fatalf("a denial was recorded as consent: %s", res)
	}
	if res := b.Consent(page, "allow"); res.RedirectQuery().Get("code") == "" {
		t.Fatalf("allow: %s", res)
	}
	// A second consent adds its scopes to the first.
	b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid email"))
	if res := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "email profile openid")); res.RedirectQuery().Get("code") == "" {
		t.Errorf("consent to openid profile, then openid email, does not cover all three: %s", res)
	}

	t.Run("signed out meanwhile", func(t *testing.T) {
		b := f.NewBrowser(t)
		b.SignIn()
		page := b.Authorize(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
		b.SetCookie(&http.Cookie{Name: "__Host-gatehouse_session"})
		res := b.Submit(page, "/consent", query("decision", "allow"))
		if !b.OnPage(res, "/login") {
			t.Errorf("want the login page, got %s", res)
		}
	})
	t.Run("switch account", func(t *testing.T) {
		b := f.NewBrowser(t)
		b.SignIn()
		page := b.Authorize(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
		m := regexp.MustCompile(`href="(/login\?ar=[^"]+)"`).FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("the consent page has no link to switch accounts: %s", page)
		}
		f.Clock.Advance(time.Second)
		b.Username = ast.Bob
		res := b.Login(b.Get(html.UnescapeString(m[1])))
		if !b.OnPage(res, "/consent") || !strings.Contains(pageText(res), ast.Bob) {
			t.Fatalf("after switching: %s, want Bob's consent page", res)
		}
		code := b.Consent(res, "allow").RedirectQuery().Get("code")
		if sub := ast.Claims(t, f.Exchange(t, ast.ThirdPartyPublic, code).IDToken)["sub"]; sub != ast.BobID {
			t.Errorf("sub %v, want Bob", sub)
		}
	})
}

// TestAccountPage: the connected-apps page lists the apps the user
// allowed; removing one revokes its grants and its consent.
func TestAccountPage(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	tok := f.Exchange(t, ast.ThirdParty, b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access")))
	b.Code(f.AuthorizeQuery(ast.FirstParty, "openid")) // first party: no consent, not listed
	page := b.Get("/account/apps")
	wantPageHeaders(t, page)
	text := pageText(page)
	if page.Code != http.StatusOK || !strings.Contains(text, "Third App") || strings.Contains(text, "First App") {
		t.Fatalf("account page: %s", page)
	}

	tests := []struct {
		name   string
		fields url.Values
		status int
	}{
		{"bad CSRF token", query("action", "revoke", "client_id", ast.ThirdParty, "csrf", "forged"), 403},
		{"no app", query("action", "revoke", "client_id", ""), 400},
		{"another action", query("action", "delete", "client_id", ast.ThirdParty), 400},
		{"app id too long", query("action", "revoke", "client_id", strings.Repeat("c", 256)), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.For(t).Submit(page, "/account/apps", tc.fields)
			wantErrorPage(t, res, tc.status, "invalid_request")
		})
	}
	if introspect(t, f, ast.ThirdParty, tok.RefreshToken, nil).Active != true {
		t.Fatal("a refused removal revoked the grant")
	}

	res := b.Submit(page, "/account/apps", query("action", "revoke", "client_id", ast.ThirdParty))
	if res.Code != http.StatusOK || strings.Contains(pageText(res), "Third App") {
		t.Fatalf("after removing the app: %s", res)
	}
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdParty, tok.RefreshToken, nil), 400, "invalid_grant")
	if res := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid")); !b.OnPage(res, "/consent") {
		t.Errorf("the app no longer needs consent after its removal: %s", res)
	}
	// Removing it again (a double submit) is no error.
	if res := b.Submit(page, "/account/apps", query("action", "revoke", "client_id", ast.ThirdParty)); res.Code != http.StatusOK {
		t.Errorf("removing twice: %s", res)
	}

	t.Run("sign out", func(t *testing.T) {
		res := b.For(t).Submit(b.For(t).Get("/account/apps"), "/logout", nil)
		if res.Code != http.StatusOK || signedIn(t, b.For(t)) {
			t.Errorf("the account page's sign-out: %s", res)
		}
	})
	t.Run("malformed query", func(t *testing.T) {
		wantErrorPage(t, f.Get(t, "/account/apps?x=%zz"), http.StatusBadRequest, "invalid_request")
	})
}

// TestStylesheet: the pages' stylesheet is cached for good under its
// versioned URL, briefly otherwise, and revalidates by ETag.
func TestStylesheet(t *testing.T) {
	f := ast.New(t, ast.Options{})
	page := f.Get(t, "/")
	m := regexp.MustCompile(`href="(/assets/gatehouse\.css\?v=([^"]+))"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no stylesheet link in %s", page)
	}
	res := f.Get(t, m[1])
	if res.Code != http.StatusOK || res.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || res.Body == "" {
		t.Errorf("versioned stylesheet: %d %v", res.Code, res.Header)
	}
	if res := f.Get(t, "/assets/gatehouse.css"); res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("unversioned stylesheet: %v", res.Header)
	}
	r := f.NewRequest(http.MethodGet, "/assets/gatehouse.css", nil)
	r.Header.Set("If-None-Match", `"`+m[2]+`"`)
	if res := f.Serve(t, r); res.Code != http.StatusNotModified || res.Body != "" {
		t.Errorf("revalidation: %s, want 304", res)
	}
}

// TestSealedRequestsFollowTheServerClock: a login or consent page, and a
// sign-out confirmation, stay usable Lifetimes.AuthorizationFlow by the
// server's clock (Config.Now), like everything else it times.
func TestSealedRequestsFollowTheServerClock(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	page := b.Authorize(f.AuthorizeQuery(ast.ThirdParty, "openid"))
	f.Clock.Advance(16 * time.Minute)
	wantErrorPage(t, b.Login(page), http.StatusBadRequest, "invalid_request")
}

// TestSessionLifetime: a browser session ends Lifetimes.Session after the
// login, by the server's clock, and a cookie that does not decode is no
// session.
func TestSessionLifetime(t *testing.T) {
	f := ast.New(t, ast.Options{Lifetimes: authserver.Lifetimes{Session: time.Hour}})
	b := f.NewBrowser(t)
	b.SignIn()
	f.Clock.Advance(time.Hour - time.Second)
	if !signedIn(t, b) {
		t.Fatal("signed out before the session's end")
	}
	f.Clock.Advance(time.Second)
	if signedIn(t, b) {
		t.Error("still signed in at the session's end")
	}

	tampered := f.NewBrowser(t)
	tampered.SignIn()
	c := *tampered.Cookie("gatehouse_session")
	c.Value = c.Value[:len(c.Value)-4] + "AAAA"
	tampered.SetCookie(&c)
	if signedIn(t, tampered) {
		t.Error("a tampered session cookie is a session")
	}
}

// TestPageFormAction: pages that may redirect to the app after a form
// post allow exactly its origin in form-action: the https origin, any
// port of a loopback IP literal (RFC 8252 §7.3), a native app's scheme.
func TestPageFormAction(t *testing.T) {
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "v6", Metadata: clients.Metadata{
		Type: clients.ThirdPartyPublic, RedirectURIs: []string{"http://[::1]/cb"}}}}})
	tests := []struct {
		client string
		want   string
	}{
		{ast.ThirdParty, "form-action 'self' https://third.example;"},
		{ast.ThirdPartyPublic, "form-action 'self' http://127.0.0.1:*;"},
		{"v6", "form-action 'self' http://[::1]:*;"},
		{ast.FirstPartyPublic, "form-action 'self' com.example.first:;"},
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			b := f.NewBrowser(t)
			page := b.Authorize(f.AuthorizeQuery(tc.client, "openid"))
			if csp := page.Header.Get("Content-Security-Policy"); !b.OnPage(page, "/login") || !strings.Contains(csp, tc.want) {
				t.Errorf("Content-Security-Policy %q, want %q", csp, tc.want)
			}
		})
	}
	if csp := f.Get(t, "/").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("a page without an app allows other form targets: %q", csp)
	}
}

// hidingSource is a client source from which the test removes clients,
// as an operator removes them from the configuration.
type hidingSource struct {
	clients.Source
	mu     sync.Mutex
	hidden map[string]bool
}

func (h *hidingSource) hide(id string) { h.mu.Lock(); h.hidden[id] = true; h.mu.Unlock() }

func (h *hidingSource) Client(ctx context.Context, id string) (*clients.Client, error) {
	h.mu.Lock()
	hidden := h.hidden[id]
	h.mu.Unlock()
	if hidden {
		return nil, clients.ErrUnknown
	}
	return h.Source.Client(ctx, id)
}

// TestConnectedApps: the connected apps of a user, including one whose
// client was removed since, and taking them back.
func TestConnectedApps(t *testing.T) {
	src := &hidingSource{hidden: map[string]bool{}}
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { src.Source = c.Clients; c.Clients = src }})
	b := f.NewBrowser(t)
	b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid profile"))
	f.Clock.Advance(time.Minute)
	b.Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"))
	tok := f.Exchange(t, ast.ThirdPartyPublic, b.Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid")))
	src.hide(ast.ThirdParty)

	ctx := context.Background()
	apps, err := f.Server.ConnectedApps(ctx, ast.AliceID)
	if err != nil || len(apps) != 2 {
		t.Fatalf("ConnectedApps: %+v, %v", apps, err)
	}
	if a := apps[0]; a.ClientID != ast.ThirdParty || !a.Removed || a.Name != ast.ThirdParty || strings.Join(a.Scopes, " ") != "openid profile" ||
		!a.GrantedAt.Equal(ast.Epoch()) || !a.LastUsedAt.IsZero() {
		t.Errorf("removed app %+v", a)
	}
	if a := apps[1]; a.ClientID != ast.ThirdPartyPublic || a.Removed || a.Name != "Third SPA" || !a.LastUsedAt.Equal(f.Clock.Now()) {
		t.Errorf("app %+v", a)
	}
	if page := b.Get("/account/apps"); !strings.Contains(pageText(page), ">"+ast.ThirdParty+"<") {
		t.Errorf("the account page does not list the removed app by its id: %s", page)
	}
	if _, err := f.Server.ConnectedApps(ctx, "nobody"); !errors.Is(err, authserver.ErrUnknownUser) {
		t.Errorf("ConnectedApps of an unknown user: %v", err)
	}

	for i, want := range []bool{true, false} {
		found, err := f.Server.RevokeConnectedApp(ctx, ast.AliceID, ast.ThirdPartyPublic)
		if err != nil || found != want {
			t.Errorf("RevokeConnectedApp #%d: %v, %v; want %v", i+1, found, err, want)
		}
	}
	if in := introspect(t, f, ast.ThirdPartyPublic, tok.AccessToken, nil); in.Active {
		t.Error("the access token of a revoked app is active")
	}
}

// TestConsentForm: a consent post that is not a form is refused as one.
func TestConsentForm(t *testing.T) {
	f := ast.New(t, ast.Options{})
	r := f.NewRequest(http.MethodPost, "/consent", nil)
	r.Body = nopCloser(`{"decision":"allow"}`)
	r.Header.Set("Content-Type", "application/json")
	wantErrorPage(t, f.Serve(t, r), http.StatusBadRequest, "invalid_request")
}
