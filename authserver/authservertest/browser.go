package authservertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// maxRedirects bounds Follow.
const maxRedirects = 10

// Browser is a user's browser at the issuer: it keeps cookies, follows
// the issuer's own redirects, fills in the login page with its user's
// credentials and submits forms with their CSRF tokens. It stops at any
// redirect that leaves the issuer, which is how an app gets its answer.
type Browser struct {
	// Username and Password are typed on the login page; Alice's by
	// default.
	Username, Password string

	t   testing.TB
	f   *Fixture
	jar map[string]*http.Cookie
}

// NewBrowser returns a browser without cookies whose user is Alice.
func (f *Fixture) NewBrowser(t testing.TB) *Browser {
	return &Browser{Username: Alice, Password: Password, t: t, f: f, jar: map[string]*http.Cookie{}}
}

// For returns the same browser, sharing its cookies, reporting failures
// to t: for a browser made by a test and used in its subtests.
func (b *Browser) For(t testing.TB) *Browser {
	c := *b
	c.t = t
	return &c
}

// Cookie returns the browser's cookie with that name, "__Host-" prefix
// or not, or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	if c := b.jar[name]; c != nil {
		return c
	}
	return b.jar["__Host-"+name]
}

// SetCookie stores c as if the server had set it; an empty value deletes
// the cookie of that name.
func (b *Browser) SetCookie(c *http.Cookie) {
	if c.Value == "" {
		delete(b.jar, c.Name)
		return
	}
	b.jar[c.Name] = c
}

// Do sends r with the browser's cookies and keeps those the answer sets.
func (b *Browser) Do(r *http.Request) *Response {
	b.t.Helper()
	for _, c := range b.jar {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res := record(b.t, b.f.Server, r)
	for _, c := range res.cookies {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.jar, c.Name)
			continue
		}
		b.jar[c.Name] = c
	}
	return res
}

// Get loads path (with its query) at the issuer: relative to the
// issuer URL, so "/authorize" whatever the issuer's own path.
func (b *Browser) Get(path string) *Response {
	b.t.Helper()
	return b.Do(b.f.NewRequest(http.MethodGet, path, nil))
}

// Post posts form to path (relative to the issuer URL, like Get).
func (b *Browser) Post(path string, form url.Values) *Response {
	b.t.Helper()
	return b.Do(b.f.NewRequest(http.MethodPost, path, form))
}

// Submit posts the page's form whose action is action, with its fields
// (the CSRF token and sealed request among them) changed by fields as
// Edit does, and follows the issuer's redirects.
func (b *Browser) Submit(page *Response, action string, fields url.Values) *Response {
	b.t.Helper()
	form := page.Form(b.f.Path(action))
	return b.Follow(b.Post(b.f.relative(form.Action), Edit(form.Values, fields)))
}

// issuerPath returns the path (relative to the issuer URL) and query of
// target when it is a location at the issuer, else "".
func (b *Browser) issuerPath(target *url.URL) string {
	iss := b.f.issuer
	switch {
	case target.Scheme == "" && target.Host == "" && strings.HasPrefix(target.Path, "/"):
	case target.Scheme == iss.Scheme && target.Host == iss.Host:
	default:
		return ""
	}
	if !strings.HasPrefix(target.Path, iss.Path+"/") && target.Path != iss.Path {
		return ""
	}
	return b.f.relative(target.RequestURI())
}

// Follow follows the issuer's own redirects from res and returns the first
// answer that is not one: a page, or a redirect that leaves the issuer.
func (b *Browser) Follow(res *Response) *Response {
	b.t.Helper()
	for range maxRedirects {
		loc := res.Location()
		if res.Code/100 != 3 || loc == nil {
			return res
		}
		path := b.issuerPath(loc)
		if path == "" {
			return res
		}
		res = b.Get(path)
	}
	b.t.Fatalf("more than %d redirects; last %s", maxRedirects, res)
	return nil
}

// Authorize makes the authorization request q and follows the issuer's
// redirects: the answer is the login or consent page, an error page, or
// the redirect to the app.
func (b *Browser) Authorize(q url.Values) *Response {
	b.t.Helper()
	return b.Follow(b.Get("/authorize?" + q.Encode()))
}

// Login submits the login page with the browser's username and password
// and follows the issuer's redirects.
func (b *Browser) Login(page *Response) *Response {
	b.t.Helper()
	return b.Submit(page, "/login", url.Values{"username": {b.Username}, "password": {b.Password}})
}

// Consent answers the consent page: decision is "allow" or "deny".
func (b *Browser) Consent(page *Response, decision string) *Response {
	b.t.Helper()
	return b.Submit(page, "/consent", url.Values{"decision": {decision}})
}

// OnPage reports whether res is the page with the form posting to action
// ("/login", "/consent", "/logout").
func (b *Browser) OnPage(res *Response, action string) bool {
	if res.Code/100 == 3 {
		return false
	}
	for _, f := range res.Forms() {
		if f.Action == b.f.Path(action) {
			return true
		}
	}
	return false
}

// SignIn signs the browser's user in through the account page's login
// and fails the test unless it ends on the account page.
func (b *Browser) SignIn() {
	b.t.Helper()
	page := b.Follow(b.Get("/account/apps"))
	if !b.OnPage(page, "/login") {
		b.t.Fatalf("the account page did not ask for a login: %s", page)
	}
	if res := b.Login(page); res.Code != http.StatusOK || b.OnPage(res, "/login") {
		b.t.Fatalf("signing in as %s: %s", b.Username, res)
	}
}

// Code runs the authorization request q to its end, signing in and
// allowing consent when asked, and returns the code the app receives;
// the test fails unless the browser is sent to q's redirect URI with a
// code, the request's state and the issuer.
func (b *Browser) Code(q url.Values) string {
	b.t.Helper()
	res := b.Authorize(q)
	if b.OnPage(res, "/login") {
		res = b.Login(res)
	}
	if b.OnPage(res, "/consent") {
		res = b.Consent(res, "allow")
	}
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil {
		b.t.Fatalf("authorization did not end with a redirect to the app: %s", res)
	}
	got := *loc
	got.RawQuery = ""
	want := q.Get("redirect_uri")
	if want == "" {
		want = b.f.RedirectURI(q.Get("client_id"))
	}
	if got.String() != want {
		b.t.Fatalf("redirected to %q, want %q", got.String(), want)
	}
	v := loc.Query()
	if v.Get("code") == "" || v.Get("state") != q.Get("state") || v.Get("iss") != b.f.Server.Issuer() {
		b.t.Fatalf("authorization response %q lacks the code, state %q or iss", loc, q.Get("state"))
	}
	return v.Get("code")
}
