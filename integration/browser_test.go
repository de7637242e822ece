package integration

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"golang.org/x/oauth2"
)

// TestBrowser drives the sign-in, consent, error, sign-out and account
// pages and the gated demo app in headless Chromium, as a person would:
// typing, clicking, and with the keyboard only. One Caddy (the demo
// configuration) and one Chromium serve every subtest; each subtest has
// its own browser context, so cookies never leak between them.
func TestBrowser(t *testing.T) {
	s := startBrowserSuite(t)

	t.Run("sign in, consent, back at the app", func(t *testing.T) {
		b := s.newTab(t, desktopLight)
		resp := b.open(s.authorizeURL(demoWeb, "s-consent", "nonce", "n-1"))
		if resp.Status != 200 || !strings.HasSuffix(mustParse(t, resp.URL).Path, "/login") {
			t.Fatalf("authorize: want the login page, got %d %s", resp.Status, resp.URL)
		}
		checkPageHeaders(t, "login", devtoolsHeaders(resp))
		if got := js[string](b, `document.documentElement.lang`); got != "en" {
			t.Errorf("lang = %q", got)
		}
		b.wantFocus("#username") // on load (autofocus)
		for sel, want := range map[string]string{"#username": "username", "#password": "current-password"} {
			if got := js[string](b, fmt.Sprintf(`document.querySelector(%q).autocomplete`, sel)); got != want {
				t.Errorf("%s autocomplete = %q, want %q", sel, got, want)
			}
		}
		if got := b.text(".gh-subtitle"); got != "to continue to Demo Web App" {
			t.Errorf("login subtitle = %q", got)
		}
		b.shot("login")

		b.fill("#username", "alice")
		b.fill("#password", alicePassword)
		resp = b.click("button[type=submit]")
		if resp.Status != 200 || !strings.HasSuffix(mustParse(t, resp.URL).Path, "/consent") {
			t.Fatalf("after login: want the consent page, got %d %s", resp.Status, resp.URL)
		}
		checkPageHeaders(t, "consent", devtoolsHeaders(resp))
		if got := b.text("h1"); got != "Allow Demo Web App to access your account?" {
			t.Errorf("consent heading = %q", got)
		}
		// The logo is loaded (allowed by the CSP) and described.
		if !js[bool](b, `(() => { const i = document.querySelector("img.gh-app-logo"); return !!i && i.complete && i.naturalWidth > 0 && i.alt === "Demo Web App logo"; })()`) {
			t.Error("the app's logo did not load, or has no alt text")
		}
		if got := b.text(".gh-badge"); got != "Third-party app" {
			t.Errorf("badge = %q", got)
		}
		scopes := js[[]string](b, `[...document.querySelectorAll(".gh-scopes li")].map(li => li.innerText)`)
		if want := []string{"Confirm your identity", "See your name and username", "See your email address"}; !slices.Equal(scopes, want) {
			t.Errorf("scopes = %q, want %q", scopes, want)
		}
		if got := b.text(".gh-account-name") + " / " + b.text(".gh-account-detail"); got != "Alice Example / alice@example.com" {
			t.Errorf("account = %q", got)
		}
		notYou := js[string](b, `document.querySelector("a.gh-account-switch").href`)
		if u := mustParse(t, notYou); u.Path != "/login" || u.Query().Get("ar") == "" {
			t.Errorf("Not you? link = %q", notYou)
		}
		legal := js[[]string](b, `[...document.querySelectorAll(".gh-legal a")].map(a => a.innerText.trim() + " " + a.getAttribute("href"))`)
		if want := []string{
			"Demo Web App privacy policy " + s.in.issuer + "/demo/privacy",
			"Demo Web App terms of service " + s.in.issuer + "/demo/terms",
		}; !slices.Equal(legal, want) {
			t.Errorf("policy and terms links = %q, want %q", legal, want)
		}
		b.shot("consent")

		resp = b.click("button[value=allow]")
		q := s.callbackResult(t, b, "s-consent")
		if q.Get("code") == "" || q.Get("iss") != s.in.issuer || q.Get("error") != "" {
			t.Fatalf("callback query: %v", q)
		}
		if resp.Status != 200 || !strings.HasPrefix(resp.URL, s.callback.redirectURI()) {
			t.Errorf("allow: landed on %d %s", resp.Status, resp.URL)
		}
		b.shot("callback")
		// The code is real: the app redeems it.
		cfg := s.in.oauthConfig(demoWeb)
		cfg.RedirectURL = s.callback.redirectURI()
		tok, err := cfg.Exchange(s.in.ctx(), q.Get("code"))
		if err != nil {
			t.Fatalf("redeeming the code: %v", err)
		}
		if idt, _ := tok.Extra("id_token").(string); idt == "" {
			t.Error("no ID token")
		}
	})

	t.Run("deny consent", func(t *testing.T) {
		b := s.newTab(t, desktopLight)
		b.open(s.authorizeURL(demoWeb, "s-deny", "prompt", "consent"))
		b.signIn()
		if !b.has("button[value=deny]") {
			t.Fatalf("no consent page at %s", b.location())
		}
		b.click("button[value=deny]")
		q := s.callbackResult(t, b, "s-deny")
		if q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("iss") != s.in.issuer {
			t.Fatalf("callback query after deny: %v", q)
		}
		b.shot("denied")
	})

	t.Run("wrong password", func(t *testing.T) {
		b := s.newTab(t, desktopLight)
		b.open(s.authorizeURL(demoSPA, "s-wrong", "code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()),
			"code_challenge_method", "S256"))
		b.fill("#username", "alice")
		b.fill("#password", "not-the-password")
		resp := b.click("button[type=submit]")
		if resp.Status != 401 {
			t.Errorf("wrong password: status %d, want 401", resp.Status)
		}
		if got := b.text("[role=alert]"); got != "The username or password is incorrect." {
			t.Errorf("alert = %q", got)
		}
		if got := js[string](b, `document.querySelector("#username").value + "|" + document.querySelector("#password").value`); got != "alice|" {
			t.Errorf("fields after a failure = %q, want the username kept and the password empty", got)
		}
		b.wantFocus("#password")
		if got := js[string](b, `document.activeElement.id + " " + document.activeElement.getAttribute("aria-invalid") + " " + document.activeElement.getAttribute("aria-describedby")`); got != "password true login-error" {
			t.Errorf("focused field = %q, want the password, invalid, described by the alert", got)
		}
		b.shot("wrong-password")
		b.fill("#password", alicePassword)
		b.click("button[type=submit]")
		if !b.has("button[value=allow]") {
			t.Errorf("the right password did not lead to the consent page: %s", b.location())
		}
	})

	t.Run("keyboard only", func(t *testing.T) {
		b := s.newTab(t, desktopLight)
		b.open(s.authorizeURL(demoWeb, "s-keys", "prompt", "consent"))
		// The username field has the focus on load; Tab reaches the
		// password, Enter submits. No clicks.
		b.wantFocus("#username")
		b.keys("alice")
		b.keys("\t")
		b.wantFocus("#password")
		b.keys(alicePassword)
		resp := b.keysAndWait("\r")
		if !strings.HasSuffix(mustParse(t, resp.URL).Path, "/consent") {
			t.Fatalf("Enter on the login form led to %s", resp.URL)
		}
		// Tab through the consent page to Allow; every stop shows where
		// the focus is.
		var stops []string
		for range 20 {
			b.keys("\t")
			stop := js[string](b, `(() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.value ? "=" + e.value : "") + " " + (e.innerText || "").trim(); })()`)
			stops = append(stops, stop)
			b.wantVisibleFocus(stop)
			if strings.HasPrefix(stop, "button=allow") {
				break
			}
		}
		if !strings.HasPrefix(stops[len(stops)-1], "button=allow") {
			t.Fatalf("Tab never reached Allow; stops: %q", stops)
		}
		if !slices.ContainsFunc(stops, func(s string) bool { return strings.HasPrefix(s, "a Not you?") }) ||
			!slices.ContainsFunc(stops, func(s string) bool { return strings.HasPrefix(s, "button=deny") }) {
			t.Errorf("Tab skipped Not you? or Deny: %q", stops)
		}
		b.shot("focus-on-allow")
		b.keysAndWait("\r")
		q := s.callbackResult(t, b, "s-keys")
		if q.Get("code") == "" {
			t.Fatalf("keyboard consent: callback query %v", q)
		}
	})

	t.Run("gated demo app", func(t *testing.T) {
		b := s.newTab(t, desktopLight)
		gate := mustParse(t, s.in.gate)
		resp := b.open(s.in.gate + "/")
		if u := mustParse(t, resp.URL); u.Host == gate.Host || u.Path != "/login" {
			t.Fatalf("the gate did not send the browser to the issuer's login: %s", resp.URL)
		}
		if got, want := b.text(".gh-subtitle"), "to continue to "+gate.Host; got != want {
			t.Errorf("gate login subtitle = %q, want %q", got, want)
		}
		b.shot("gate-login")
		resp = b.signIn()
		if resp.URL != s.in.gate+"/" || resp.Status != 200 {
			t.Fatalf("after login: %d %s, want the demo app", resp.Status, resp.URL)
		}
		if got := b.text("h1"); got != "Hello, Alice Example" {
			t.Errorf("demo app heading = %q", got)
		}
		rows := js[map[string]string](b, `Object.fromEntries([...document.querySelectorAll("tr")].map(r => [r.querySelector("th").innerText, r.querySelector("td").innerText]))`)
		for h, want := range map[string]string{"X-Gatehouse-Email": "alice@example.com", "X-Gatehouse-User": "alice", "X-Gatehouse-Auth-Source": "session"} {
			if rows[h] != want {
				t.Errorf("demo app shows %s = %q, want %q (all: %v)", h, rows[h], want, rows)
			}
		}
		b.shot("demo-app")

		// A page alice may not see: the 403 page offers to sign out.
		resp = b.open(s.in.gate + gatePolicyPath)
		if resp.Status != 403 || !strings.Contains(b.text("h1"), "have access") {
			t.Fatalf("policy: %d %q", resp.Status, b.text("h1"))
		}
		checkPageHeaders(t, "gate 403", devtoolsHeaders(resp))
		b.shot("forbidden")
		resp = b.click("a.gh-button")
		if resp.Status != 200 || !strings.Contains(b.text("h1"), "Sign out") {
			t.Fatalf("sign out from the 403 page: %d %q, want the confirmation page", resp.Status, b.text("h1"))
		}
		checkPageHeaders(t, "gate sign-out confirmation", devtoolsHeaders(resp))
		resp = b.click("button.gh-button-primary")
		if resp.Status != 200 || b.text("h1") != "You're signed out" {
			t.Fatalf("confirming the sign-out: %d %q", resp.Status, b.text("h1"))
		}
		b.shot("signed-out")
		// Signed out of the issuer too: signing in again asks for the password.
		resp = b.click("a.gh-button")
		if u := mustParse(t, resp.URL); u.Path != "/login" {
			t.Errorf("Sign in again led to %s, want the login page", resp.URL)
		}
	})

	t.Run("pages", func(t *testing.T) {
		// Every page, in both themes, on a desktop and a 360 px phone:
		// axe-core finds no serious or critical accessibility problem, no
		// page scrolls sideways or hides a control, the browser logs no
		// CSP violation or failed resource, and the theme follows
		// prefers-color-scheme.
		docs := ""
		if os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" {
			docs = filepath.Join("..", "docs", "screenshots")
			if err := os.MkdirAll(docs, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range []view{desktopLight, desktopDark, phoneLight, phoneDark} {
			t.Run(v.name, func(t *testing.T) {
				b := s.newTab(t, v)
				visit := func(page string) {
					t.Helper()
					b.checkLayout(page)
					b.checkAccessibility(page)
					b.checkTheme(page, v.dark)
					for _, l := range b.browserLog() {
						t.Errorf("%s: browser log: %s", page, l)
					}
					b.screenshot(s.shotDir, page+"-"+v.name)
					if docs != "" {
						b.saveCompact(filepath.Join(docs, page+"-"+v.name+".png"))
					}
				}
				state := "s-pages-" + v.name
				b.open(s.authorizeURL(demoWeb, state, "prompt", "consent"))
				visit("login")
				b.fill("#username", "alice")
				b.fill("#password", "wrong")
				b.click("button[type=submit]")
				visit("login-error")
				b.fill("#password", alicePassword)
				b.click("button[type=submit]")
				visit("consent")
				b.click("button[value=allow]")
				// The app redeems its code, so the account page shows a use.
				cfg := s.in.oauthConfig(demoWeb)
				cfg.RedirectURL = s.callback.redirectURI()
				if _, err := cfg.Exchange(s.in.ctx(), s.callbackResult(t, b, state).Get("code")); err != nil {
					t.Fatal(err)
				}
				b.open(s.in.issuer + "/account/apps")
				visit("account")
				b.open(s.in.issuer + "/logout?client_id=demo-web")
				visit("logout")
				b.open(s.in.gate + gatePolicyPath)
				visit("gate-forbidden")
				b.open(s.in.issuer + "/authorize?client_id=unknown-app&response_type=code")
				visit("error")
				b.open(s.in.issuer + "/")
				visit("home")
				b.open(s.in.issuer + "/no-such-page")
				visit("not-found")
				b.open(s.in.issuer + "/logout?client_id=demo-web")
				b.click("button[type=submit]")
				visit("signed-out")
			})
		}
	})
}

// callbackResult waits until the browser is at the app's callback and
// returns what the callback received for state.
func (s *browserSuite) callbackResult(t *testing.T, b *tab, state string) url.Values {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if q, ok := s.callback.result(state); ok {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app's callback got nothing for state %q; the browser is at %s", state, b.location())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signIn fills the login page as alice and submits it.
func (b *tab) signIn() *network.Response {
	b.t.Helper()
	if !b.has("#username") {
		b.t.Fatalf("no login form at %s", b.location())
	}
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	return b.click("button[type=submit]")
}

// wantFocus checks that the element sel has the keyboard focus.
func (b *tab) wantFocus(sel string) {
	b.t.Helper()
	// autofocus is applied by the browser after load, on its own
	// schedule, so give it a moment before calling focus lost.
	check := fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, sel)
	for deadline := time.Now().Add(2 * time.Second); !js[bool](b, check); {
		if time.Now().After(deadline) {
			b.t.Fatalf("focus is on %s, want %s", js[string](b, `document.activeElement.outerHTML.slice(0, 100)`), sel)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantVisibleFocus checks that the focused element draws a focus ring
// (an outline of at least 2 px, not the page's background color).
func (b *tab) wantVisibleFocus(what string) {
	b.t.Helper()
	ring := js[string](b, `(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor; })()`)
	f := strings.Fields(ring)
	if len(f) < 2 || f[0] == "none" || f[1] == "0px" || f[1] == "1px" {
		b.t.Errorf("no visible focus ring on %q: outline %q", what, ring)
	}
}

// checkTheme checks that the page follows prefers-color-scheme: a dark
// background with light text in the dark theme, and the reverse.
func (b *tab) checkTheme(page string, dark bool) {
	b.t.Helper()
	lum := js[[]float64](b, `(() => {
		const l = c => { const [r, g, b] = c.match(/\d+(\.\d+)?/g).map(Number); return (0.2126*r + 0.7152*g + 0.0722*b) / 255; };
		const card = document.querySelector(".gh-card") || document.body;
		return [l(getComputedStyle(document.body).backgroundColor), l(getComputedStyle(card).backgroundColor), l(getComputedStyle(card).color)];
	})()`)
	bg, card, text := lum[0], lum[1], lum[2]
	if dark && (bg > 0.2 || card > 0.2 || text < 0.7) || !dark && (bg < 0.8 || card < 0.8 || text > 0.3) {
		b.t.Errorf("%s: theme (dark=%v) not applied: page %.2f, card %.2f, text %.2f (luma)", page, dark, bg, card, text)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
