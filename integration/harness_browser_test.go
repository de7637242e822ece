package integration

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// The harness: a cookie-keeping browser without JavaScript. Pages and
// forms; the authorization flow as alice; a browser recording every hop;
// the login form and its throttle; gate sign-out and cookies; checks that
// several test files make of pages.

// browser is a cookie-keeping user agent that fills in forms.
type browser struct {
	// username and password sign in at the login page; alice's when empty.
	username, password string

	t      testing.TB
	in     *instance
	client *http.Client
}

func (in *instance) newBrowser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		in.t.Fatal(err)
	}
	return &browser{t: in.t, in: in, client: in.httpClient(jar)}
}

// page is a fetched HTML page (or a redirect to a client).
type page struct {
	status   int
	url      *url.URL
	location string // set when the response redirected to a client
	header   http.Header
	body     string
	forms    []form
}

type form struct {
	action string
	fields url.Values
	// buttons are submit buttons: name -> values.
	buttons map[string][]string
}

func (b *browser) get(rawURL string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	// What a browser sends on navigation, so a gate sees a person.
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", rawURL, err)
	}
	return b.read(resp)
}

func (b *browser) post(rawURL string, v url.Values) *page {
	b.t.Helper()
	resp, err := b.client.PostForm(rawURL, v)
	if err != nil {
		b.t.Fatalf("POST %s: %v", rawURL, err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) *page {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.location = resp.Header.Get("Location")
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.forms = parseForms(b.t, p.body)
	}
	return p
}

// submit fills the page's only form with values and posts it, pressing
// the submit button with the given name/value when button is non-empty.
func (b *browser) submit(p *page, values map[string]string, button ...string) *page {
	b.t.Helper()
	if len(p.forms) != 1 {
		b.t.Fatalf("want one form on %s, found %d; page:\n%s", p.url, len(p.forms), p.body)
	}
	f := p.forms[0]
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	if len(button) == 2 {
		if !slices.Contains(f.buttons[button[0]], button[1]) {
			b.t.Fatalf("no button %s=%s on %s", button[0], button[1], p.url)
		}
		v.Set(button[0], button[1])
	}
	action, err := p.url.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.post(action.String(), v)
}

func parseForms(t testing.TB, body string) []form {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var forms []form
	var cur *form
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				forms = append(forms, form{action: attr("action"), fields: url.Values{}, buttons: map[string][]string{}})
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr("name") != "" && attr("type") != "submit" {
					cur.fields.Add(attr("name"), attr("value"))
				}
			case "button":
				if cur != nil && attr("name") != "" {
					cur.buttons[attr("name")] = append(cur.buttons[attr("name")], attr("value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}

// authorizeResult is where the browser ended: a redirect to the app's
// callback (code or error), or a page.
type authorizeResult struct {
	callback   *url.URL
	sawLogin   bool
	sawConsent bool
	last       *page
}

// authorize drives the browser from authURL through login (as alice, or
// b.username) and
// consent (pressing decision) to the app's callback.
func (b *browser) authorize(authURL, decision string) authorizeResult {
	b.t.Helper()
	var res authorizeResult
	p := b.get(authURL)
	for range 5 {
		res.last = p
		if p.location != "" {
			u, err := url.Parse(p.location)
			if err != nil {
				b.t.Fatal(err)
			}
			res.callback = u
			return res
		}
		switch {
		case p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login"):
			res.sawLogin = true
			user, pw := "alice", alicePassword
			if b.username != "" {
				user, pw = b.username, b.password
			}
			p = b.submit(p, map[string]string{"username": user, "password": pw})
		case p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/consent"):
			res.sawConsent = true
			if decision == "" {
				return res
			}
			p = b.submit(p, nil, "decision", decision)
		default:
			return res
		}
	}
	b.t.Fatalf("the authorization flow did not end; last page %s (%d)", p.url, p.status)
	return res
}

func mustCode(t *testing.T, res authorizeResult, state string) string {
	t.Helper()
	if res.callback == nil {
		t.Fatalf("no redirect to the callback; last page %s (%d):\n%s", res.last.url, res.last.status, res.last.body)
	}
	q := res.callback.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("authorization failed: %s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	return q.Get("code")
}

// recorder wraps a transport and keeps what every response said: the
// method that asked, the status, and the Set-Cookie headers.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	hops []hop
}

type hop struct {
	method, url string
	status      int
	location    string
	setCookies  []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.hops = append(r.hops, hop{method: req.Method, url: req.URL.String(), status: resp.StatusCode,
			location: resp.Header.Get("Location"), setCookies: resp.Header.Values("Set-Cookie")})
		r.mu.Unlock()
	}
	return resp, err
}

// recordingBrowser is a browser whose responses are all recorded, and
// which stops before following a redirect whose path has stopAt as its
// suffix (when stopAt is not empty).
func (in *instance) recordingBrowser(stopAt string) (*browser, *recorder) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		in.t.Fatal(err)
	}
	c := in.httpClient(jar)
	rec := &recorder{next: c.Transport}
	c.Transport = rec
	follow := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if stopAt != "" && strings.HasSuffix(req.URL.Path, stopAt) {
			return http.ErrUseLastResponse
		}
		return follow(req, via)
	}
	return &browser{t: in.t, in: in, client: c}, rec
}

// loginPage opens a fresh login form of demo-internal (no consent) in b.
func (in *instance) loginPage(t *testing.T, b *browser) *page {
	t.Helper()
	cfg := in.oauthConfig(demoInternal)
	p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/login") {
		t.Fatalf("not on the login page: %d %s", p.status, p.url)
	}
	return p
}

// loginAttempt is what one login POST got: its status, Retry-After, the
// message on the page, and the page (to post the next attempt from).
type loginAttempt struct {
	status     int
	retryAfter string
	message    string
	page       *page
}

// tryLogin submits the login form on form with username and password.
func (b *browser) tryLogin(form *page, username, password string) loginAttempt {
	b.t.Helper()
	p := b.submit(form, map[string]string{"username": username, "password": password})
	return loginAttempt{status: p.status, retryAfter: p.header.Get("Retry-After"), message: alertText(p.body), page: p}
}

// alertText is the login page's error message.
func alertText(body string) string {
	for _, m := range []string{"The username or password is incorrect.", "Too many failed sign-in attempts. Try again in "} {
		i := strings.Index(body, m)
		switch {
		case i < 0:
		case strings.HasSuffix(m, "."):
			return m
		default:
			rest := body[i+len(m):]
			return m + rest[:strings.Index(rest, ".")+1]
		}
	}
	return ""
}

// signedIn reports whether b has a live session at the issuer: a
// prompt=none request for a first-party app gets a code, or
// login_required.
func (in *instance) signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	cfg := in.oauthConfig(demoInternal)
	res := b.authorize(cfg.AuthCodeURL("probe", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), "")
	if res.callback == nil {
		t.Fatalf("prompt=none ended on a page: %d %s", res.last.status, res.last.url)
	}
	switch q := res.callback.Query(); {
	case q.Get("code") != "":
		return true
	case q.Get("error") == "login_required":
		return false
	default:
		t.Fatalf("prompt=none: %v", q)
		return false
	}
}

// gateSignOut signs b out of the gate at site the way a person does: the
// sign-out link shows a confirmation page whose form does it.
func gateSignOut(t testing.TB, b *browser, site string) {
	t.Helper()
	confirm := b.get(site + "/.gatehouse/logout")
	if confirm.status != http.StatusOK || len(confirm.forms) != 1 {
		t.Fatalf("gate sign-out confirmation: %d, %d forms\n%s", confirm.status, len(confirm.forms), confirm.body)
	}
	done := b.submit(confirm, nil)
	if done.status != http.StatusOK || !strings.Contains(done.body, "signed out") {
		t.Fatalf("gate sign-out: %d\n%s", done.status, done.body)
	}
}

func cookieHeader(b *browser, rawURL string) string {
	u, _ := url.Parse(rawURL)
	var parts []string
	for _, c := range b.client.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// appForm returns the account page's revoke form for clientID, or nil.
func appForm(p *page, clientID string) *form {
	for i, f := range p.forms {
		if f.fields.Get("client_id") == clientID {
			return &p.forms[i]
		}
	}
	return nil
}

func wantAccountPage(t *testing.T, p *page) {
	t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/account/apps" || !strings.Contains(p.body, "Connected apps") {
		t.Fatalf("want the connected apps page, got %d %s:\n%.500s", p.status, p.url, p.body)
	}
}

// checkPageHeaders checks the security headers every page carries: a
// strict CSP (nothing inline, no scripts at all, no framing), nosniff, no
// Referer (pages carry authorization parameters), and no caching.
func checkPageHeaders(t *testing.T, page string, get func(string) string) {
	t.Helper()
	csp := get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action "} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", page, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q contains %q", page, csp, bad)
		}
	}
	// No wildcard hosts (a loopback redirect URI's any-port source,
	// http://127.0.0.1:*, is fine: RFC 8252 §7.3).
	for _, src := range strings.Fields(strings.ReplaceAll(csp, ";", " ")) {
		if src == "*" || strings.Contains(src, "*.") || strings.HasPrefix(src, "*") {
			t.Errorf("%s: CSP %q allows a wildcard host %q", page, csp, src)
		}
	}
	if got := get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q", page, got)
	}
	if got := get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy = %q", page, got)
	}
	if got := get("Cache-Control"); !strings.Contains(got, "no-store") {
		t.Errorf("%s: Cache-Control = %q", page, got)
	}
}
