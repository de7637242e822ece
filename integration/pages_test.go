package integration

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// wantPage checks that p is one of our HTML pages with the given status,
// the security headers every page carries, and an <h1> containing
// heading. It returns the heading.
func wantPage(t *testing.T, what string, p *page, status int, heading string) string {
	t.Helper()
	if p.status != status {
		t.Errorf("%s: status %d, want %d", what, p.status, status)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
		return ""
	}
	checkPageHeaders(t, what, p.header.Get)
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	var h1 string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.H1 && h1 == "" {
			var sb strings.Builder
			var text func(*html.Node)
			text = func(n *html.Node) {
				if n.Type == html.TextNode {
					sb.WriteString(n.Data)
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					text(c)
				}
			}
			text(n)
			h1 = strings.TrimSpace(sb.String())
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if h1 == "" || !strings.Contains(h1, heading) {
		t.Errorf("%s: heading %q, want it to contain %q", what, h1, heading)
	}
	for _, leak := range []string{"goroutine ", "panic", "runtime error", ".go:"} {
		if strings.Contains(p.body, leak) {
			t.Errorf("%s: page shows %q", what, leak)
		}
	}
	return h1
}

// rotateCSRFCookie gives the browser a different anti-CSRF cookie, as
// when its forms were served to another browser session: every form it
// holds is now stale.
func rotateCSRFCookie(t *testing.T, b *browser, site string) {
	t.Helper()
	u, err := url.Parse(site)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	found := false
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "gatehouse_csrf") {
			found = true
			b.client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: base64.RawURLEncoding.EncodeToString(raw), Path: "/", Secure: true}})
		}
	}
	if !found {
		t.Fatal("the browser has no anti-CSRF cookie")
	}
}

// TestPageSecurityHeaders: every page of the issuer and of the gate, for
// success and failure alike, carries a strict CSP (no inline script or
// style, no framing), nosniff, no Referer and no caching.
func TestPageSecurityHeaders(t *testing.T) {
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), edit: withGatePolicy})
	authURL := in.issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"demo-web"}, "redirect_uri": {"http://127.0.0.1:5555/callback"},
		"scope": {"openid email"}, "state": {"st"},
	}.Encode()

	b := in.newBrowser()
	login := b.get(authURL)
	wantPage(t, "login", login, http.StatusOK, "Sign in")
	wrong := b.submit(login, map[string]string{"username": "alice", "password": "wrong"})
	wantPage(t, "login, wrong password", wrong, http.StatusUnauthorized, "Sign in")
	if !strings.Contains(wrong.body, "The username or password is incorrect.") {
		t.Error("no wrong-password message")
	}
	consent := b.submit(wrong, map[string]string{"username": "alice", "password": alicePassword})
	wantPage(t, "consent", consent, http.StatusOK, "Allow Demo Web App")
	wantPage(t, "account", b.get(in.issuer+"/account/apps"), http.StatusOK, "Connected apps")
	wantPage(t, "logout confirmation", b.get(in.issuer+"/logout?client_id=demo-web"), http.StatusOK, "Sign out")
	wantPage(t, "gate 403", b.get(in.gate+gatePolicyPath), http.StatusForbidden, "have access")
	gateConfirm := b.get(in.gate + "/.gatehouse/logout")
	wantPage(t, "gate sign-out confirmation", gateConfirm, http.StatusOK, "Sign out")
	wantPage(t, "gate signed out", b.submit(gateConfirm, nil), http.StatusOK, "signed out")
	wantPage(t, "signed out", b.get(in.issuer+"/logout"), http.StatusOK, "signed out")

	anon := in.newBrowser()
	for _, tc := range []struct {
		name, url string
		status    int
		heading   string
	}{
		{"unknown client", in.issuer + "/authorize?response_type=code&client_id=nope", 400, "not recognized"},
		{"unregistered redirect URI", in.issuer + "/authorize?response_type=code&client_id=demo-web&redirect_uri=https://evil.example/cb", 400, "not safe"},
		{"missing client_id", in.issuer + "/authorize?response_type=code", 400, "not valid"},
		{"expired sign-in request", in.issuer + "/login?ar=expired", 400, "expired"},
		{"expired consent request", in.issuer + "/consent?ar=expired", 400, "expired"},
		{"bad sign-out request", in.issuer + "/logout?client_id=nope", 400, "not valid"},
		{"gate callback without a login", in.gate + "/.gatehouse/callback?state=x&code=y", 400, "expired"},
	} {
		wantPage(t, tc.name, anon.get(tc.url), tc.status, tc.heading)
	}

	// The stylesheet, on both sites, is never sniffed as anything else.
	for _, site := range []string{in.issuer + "/assets/gatehouse.css", in.gate + "/.gatehouse/gatehouse.css"} {
		resp, err := in.client.Get(site)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q nosniff=%q", site, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
}

// TestFormsStaleAndDoubleSubmit: every form (sign-in, consent, sign-out
// confirmation, the account page's Remove access and Sign out) carries an
// anti-CSRF token. A stale form (its token minted for another CSRF
// cookie) gets a friendly 403 page and changes nothing; submitting a form
// twice (a double click, the back button) gets a sensible answer, never a
// server error.
func TestFormsStaleAndDoubleSubmit(t *testing.T) {
	in := startExample(t)
	authURL := func(state string, extra ...string) string {
		v := url.Values{"response_type": {"code"}, "client_id": {"demo-web"}, "redirect_uri": {"http://127.0.0.1:5555/callback"},
			"scope": {"openid email"}, "state": {state}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return in.issuer + "/authorize?" + v.Encode()
	}
	wantToken := func(what string, p *page) {
		t.Helper()
		if len(p.forms) == 0 {
			t.Fatalf("%s: no form on %s (%d)", what, p.url, p.status)
		}
		for _, f := range p.forms {
			if f.fields.Get("csrf") == "" {
				t.Errorf("%s: a form to %s has no csrf field", what, f.action)
			}
		}
	}
	wantCallback := func(what string, p *page, key, state string) {
		t.Helper()
		u, err := url.Parse(p.location)
		if err != nil || p.location == "" || u.Host != "127.0.0.1:5555" || u.Query().Get(key) == "" || u.Query().Get("state") != state {
			t.Errorf("%s: want a redirect to the app with %s, got %d %q", what, key, p.status, p.location)
		}
	}

	t.Run("sign in", func(t *testing.T) {
		b := in.newBrowser()
		login := b.get(authURL("a", "prompt", "consent"))
		wantToken("login", login)
		creds := map[string]string{"username": "alice", "password": alicePassword}
		// Stale: a friendly 403 login page that asks again, no session.
		rotateCSRFCookie(t, b, in.issuer)
		stale := b.submit(login, creds)
		wantPage(t, "stale login form", stale, http.StatusForbidden, "Sign in")
		if !strings.Contains(stale.body, "Your sign-in form expired. Please try again.") {
			t.Error("stale login form: no explanation")
		}
		if in.signedIn(t, b) {
			t.Fatal("a stale login form signed the user in")
		}
		// The page it returned has a fresh form that works, twice.
		wantToken("login after a stale form", stale)
		first := b.submit(stale, creds)
		second := b.submit(stale, creds)
		wantPage(t, "login", first, http.StatusOK, "Allow")
		wantPage(t, "login submitted twice", second, http.StatusOK, "Allow")
	})

	t.Run("consent", func(t *testing.T) {
		b := in.newBrowser()
		res := b.authorize(authURL("c", "prompt", "consent"), "")
		if !res.sawConsent {
			t.Fatal("no consent page")
		}
		consent := res.last
		wantToken("consent", consent)
		first := b.submit(consent, nil, "decision", "allow")
		wantCallback("allow", first, "code", "c")
		// The same decision again: the user meant it; the app gets a
		// second single-use code, never an error page.
		second := b.submit(consent, nil, "decision", "allow")
		wantCallback("allow twice", second, "code", "c")
		deny := b.submit(consent, nil, "decision", "deny")
		wantCallback("deny after allow", deny, "error", "c")

		rotateCSRFCookie(t, b, in.issuer)
		stale := b.submit(consent, nil, "decision", "allow")
		wantPage(t, "stale consent form", stale, http.StatusForbidden, "expired")
		if stale.location != "" {
			t.Errorf("a stale consent form redirected to %s", stale.location)
		}
	})

	t.Run("sign-out confirmation", func(t *testing.T) {
		b := in.newBrowser()
		b.authorize(authURL("l"), "allow")
		confirm := b.get(in.issuer + "/logout?client_id=demo-web")
		wantToken("sign-out confirmation", confirm)
		rotateCSRFCookie(t, b, in.issuer)
		stale := b.submit(confirm, nil)
		wantPage(t, "stale sign-out form", stale, http.StatusForbidden, "expired")
		if !in.signedIn(t, b) {
			t.Fatal("a stale sign-out form signed the user out")
		}
		confirm = b.get(in.issuer + "/logout?client_id=demo-web")
		wantPage(t, "sign out", b.submit(confirm, nil), http.StatusOK, "signed out")
		wantPage(t, "sign out twice", b.submit(confirm, nil), http.StatusOK, "signed out")
		if in.signedIn(t, b) {
			t.Fatal("still signed in")
		}
	})

	t.Run("account page", func(t *testing.T) {
		b := in.newBrowser()
		b.authorize(authURL("r"), "allow")
		apps := b.get(in.issuer + "/account/apps")
		wantToken("account page", apps)
		f := appForm(apps, "demo-web")
		if f == nil {
			t.Fatal("no Remove access form for demo-web")
		}
		revoke := func() *page {
			v := url.Values{}
			for k, vs := range f.fields {
				v[k] = vs
			}
			v.Set("action", "revoke")
			return b.post(in.issuer+f.action, v)
		}
		rotateCSRFCookie(t, b, in.issuer)
		wantPage(t, "stale Remove access form", revoke(), http.StatusForbidden, "expired")
		if !strings.Contains(b.get(in.issuer+"/account/apps").body, "Demo Web App") {
			t.Fatal("a stale form removed the app")
		}
		apps = b.get(in.issuer + "/account/apps")
		f = appForm(apps, "demo-web")
		for i, what := range []string{"Remove access", "Remove access twice"} {
			p := revoke()
			wantAccountPage(t, p)
			if strings.Contains(p.body, "Demo Web App") {
				t.Errorf("%s (%d): the app is still listed", what, i)
			}
		}
		// Sign out from the account page, twice.
		var signOut form
		for _, fm := range apps.forms {
			if fm.fields.Get("lr") != "" {
				signOut = fm
			}
		}
		if signOut.action == "" {
			t.Fatal("no sign-out form on the account page")
		}
		for _, what := range []string{"sign out", "sign out twice"} {
			wantPage(t, what, b.post(in.issuer+signOut.action, signOut.fields), http.StatusOK, "signed out")
		}
	})
}

// TestPagesHomeAndNotFound: on the issuer's site, the site's own routes
// (the demo's logo and legal pages, and any other handler that answers)
// keep answering; what nothing answers gets the issuer's home page at
// its root and a 404 page elsewhere, instead of Caddy's empty 200.
func TestPagesHomeAndNotFound(t *testing.T) {
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), edit: func(cf string) string {
		return strings.Replace(cf, "\tauthserver\n", "\tauthserver\n\trespond /teapot 418\n\thandle /quiet {\n\t\theader X-Quiet yes\n\t}\n", 1)
	}})
	b := in.newBrowser()
	home := b.get(in.issuer + "/")
	wantPage(t, "home", home, http.StatusOK, "Welcome to Gatehouse")
	for _, link := range []string{`href="/account/apps"`, `href="/.well-known/openid-configuration"`} {
		if !strings.Contains(home.body, link) {
			t.Errorf("home page lacks %s", link)
		}
	}
	wantPage(t, "unknown path", b.get(in.issuer+"/no-such-page"), http.StatusNotFound, "does not exist")
	quiet := b.get(in.issuer + "/quiet")
	wantPage(t, "route that answers nothing", quiet, http.StatusNotFound, "does not exist")
	if quiet.header.Get("X-Quiet") != "yes" {
		t.Error("the route's own header is lost")
	}

	for _, tc := range []struct {
		path        string
		status      int
		contentType string
		body        string
	}{
		{"/demo/logo.svg", 200, "image/svg+xml", "<svg "},
		{"/demo/privacy", 200, "text/plain; charset=utf-8", "Demo Web App is a demonstration"},
		{"/demo/terms", 200, "text/plain; charset=utf-8", "Demo Web App is a demonstration"},
		{"/teapot", 418, "", ""},
	} {
		p := b.get(in.issuer + tc.path)
		if p.status != tc.status || p.header.Get("Content-Type") != tc.contentType || !strings.Contains(p.body, tc.body) {
			t.Errorf("%s: %d %q %.80q, want %d %q with %q", tc.path, p.status, p.header.Get("Content-Type"), p.body, tc.status, tc.contentType, tc.body)
		}
	}
}
