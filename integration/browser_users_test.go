package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestBrowserInvitedUser drives an invited user end to end through real
// Caddy and Chromium: the administrator creates and invites them with the
// CLI; they open the link, choose a password, sign in to the demo web app
// through its consent page and reach the gated demo app on two devices;
// then they change their password on the account page, and the gate stops
// admitting the other device within the revocation poll interval while
// the device that made the change stays in.
func TestBrowserInvitedUser(t *testing.T) {
	adminPort := freePort(t)
	relay := ast.NewSMTPServer(t)
	s := startBrowserSuiteWith(t, exampleSetup{adminPort: adminPort, extraGatehouse: []string{"revocation_poll_interval 1s",
		fmt.Sprintf("smtp {\n\t\t\thost %s\n\t\t\tport %d\n\t\t\tfrom \"Gatehouse Demo <auth@localhost>\"\n\t\t}", relay.Host, relay.Port)}})
	addr := fmt.Sprintf("--address=127.0.0.1:%d", adminPort)
	const first, second = "nora-first-passphrase-4", "nora-second-passphrase-8"

	mustCLI(t, "users", "create", "nora", "--email", "nora@example.com", "--name", "Nora Invited", "--group", "staff", addr)
	out := mustCLI(t, "users", "invite", "nora", addr)
	link := regexp.MustCompile(`https://\S+/account/choose-password\?token=gh_inv_\S+`).FindString(out)
	if link == "" {
		t.Fatalf("no link in the invite output:\n%s", out)
	}

	b := s.newTab(t, desktopLight)
	resp := b.open(link)
	if resp.Status != 200 || b.text("h1") != "Welcome! Choose a password" || !strings.Contains(b.text(".gh-subtitle"), "nora") {
		t.Fatalf("the invitation page: %d %q", resp.Status, b.text("h1"))
	}
	checkPageHeaders(t, "choose-password", devtoolsHeaders(resp))
	b.wantFocus("#password")
	b.checkLayout("choose-password")
	b.checkAccessibility("choose-password")
	b.shot("choose-password")
	b.fill("#password", first)
	b.fill("#confirm", first+"x")
	b.click("button[type=submit]")
	if got := b.text("[role=alert]"); got != "The two passwords do not match." {
		t.Errorf("mismatched passwords: alert %q", got)
	}
	b.checkAccessibility("choose-password-error")
	b.fill("#password", first)
	b.fill("#confirm", first)
	if resp := b.click("button[type=submit]"); resp.Status != 200 || b.text("h1") != "Your password is set" {
		t.Fatalf("choosing the password: %d %q", resp.Status, b.text("h1"))
	}
	b.checkAccessibility("password-set")

	// Sign in to the demo web app, through its consent page.
	resp = b.open(s.authorizeURL(demoWeb, "s-invited"))
	if !strings.HasSuffix(mustParse(t, resp.URL).Path, "/login") {
		t.Fatalf("authorize: want the login page, got %s", resp.URL)
	}
	b.fill("#username", "nora")
	b.fill("#password", first)
	if resp = b.click("button[type=submit]"); !strings.HasSuffix(mustParse(t, resp.URL).Path, "/consent") {
		t.Fatalf("after login: want the consent page, got %d %s", resp.Status, resp.URL)
	}
	b.click("button[value=allow]")
	cfg := s.in.oauthConfig(demoWeb)
	cfg.RedirectURL = s.callback.redirectURI()
	tok, err := cfg.Exchange(s.in.ctx(), s.callbackResult(t, b, "s-invited").Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if claims := jwtClaims(t, idToken); claims["email"] != "nora@example.com" || !strings.HasPrefix(fmt.Sprint(claims["sub"]), "usr_") {
		t.Errorf("ID token claims %v", claims)
	}

	// The gated app, on this device and on another one.
	atGate := func(b *tab) bool {
		t.Helper()
		resp := b.open(s.in.gate + "/")
		u := mustParse(t, resp.URL)
		return u.Host == mustParse(t, s.in.gate).Host && resp.Status == 200 && b.text("h1") == "Hello, Nora Invited"
	}
	if !atGate(b) {
		t.Fatalf("nora is not let through the gate: %s %q", b.location(), b.text("h1"))
	}
	other := s.newTab(t, phoneDark)
	other.open(s.in.gate + "/")
	other.fill("#username", "nora")
	other.fill("#password", first)
	if resp := other.click("button[type=submit]"); resp.URL != s.in.gate+"/" || other.text("h1") != "Hello, Nora Invited" {
		t.Fatalf("the other device at the gate: %d %s", resp.Status, resp.URL)
	}

	// The account page: both devices listed; change the password.
	b.open(s.in.issuer + "/account")
	if n := js[int](b, `document.querySelectorAll(".gh-apps li").length`); n != 2 {
		t.Errorf("the account page lists %d devices, want 2", n)
	}
	b.checkLayout("account-settings")
	b.checkAccessibility("account-settings")
	b.shot("account-settings")
	b.fill("#current", first)
	b.fill("#password", second)
	b.fill("#confirm", second)
	if resp := b.click("button[value=password]"); resp.Status != 200 || !strings.Contains(b.text("[role=status]"), "Your password is changed.") {
		t.Fatalf("changing the password: %d %q", resp.Status, b.text("main"))
	}
	if n := js[int](b, `document.querySelectorAll(".gh-apps li").length`); n != 1 {
		t.Errorf("after the change the account page lists %d devices, want 1", n)
	}
	changedAt := time.Now()

	// The other device's gate session ends within the poll interval (1s,
	// plus a margin for the poll to land); this one's stays.
	for {
		other.open(s.in.gate + "/")
		if u := mustParse(t, other.location()); u.Path == "/login" {
			t.Logf("the gate sent the other device to sign in %v after the change", time.Since(changedAt).Round(time.Millisecond))
			break
		}
		if time.Since(changedAt) > 5*time.Second {
			t.Fatalf("the other device still reaches the gated app %v after the password change", time.Since(changedAt))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !atGate(b) {
		t.Errorf("the device that changed the password lost the gated app: %s", b.location())
	}
	// The old password no longer signs in; the new one does.
	other.fill("#username", "nora")
	other.fill("#password", first)
	other.click("button[type=submit]")
	if got := other.text("[role=alert]"); got != "The username or password is incorrect." {
		t.Errorf("the old password: alert %q", got)
	}
	other.fill("#password", second)
	if resp := other.click("button[type=submit]"); resp.URL != s.in.gate+"/" {
		t.Errorf("the new password: %d %s", resp.Status, resp.URL)
	}

	// The new pages in every view, as TestBrowser checks the others:
	// axe-core, layout, theme, a clean browser log; the gallery in
	// docs/screenshots with GATEHOUSE_UPDATE_SCREENSHOTS=1.
	docs := ""
	if os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" {
		docs = filepath.Join("..", "docs", "screenshots")
	}
	for i, v := range []view{desktopLight, desktopDark, phoneLight, phoneDark} {
		t.Run("pages/"+v.name, func(t *testing.T) {
			p := s.newTab(t, v)
			visit := func(page string) {
				t.Helper()
				p.checkLayout(page)
				p.checkAccessibility(page)
				p.checkTheme(page, v.dark)
				for _, l := range p.browserLog() {
					t.Errorf("%s: browser log: %s", page, l)
				}
				p.screenshot(s.shotDir, page+"-"+v.name)
				if docs != "" {
					p.saveCompact(filepath.Join(docs, page+"-"+v.name+".png"))
				}
			}
			name := fmt.Sprintf("viewer%d", i)
			mustCLI(t, "users", "create", name, "--email", name+"@example.com", "--name", "Viewer Example", addr)
			link := regexp.MustCompile(`https://\S+token=gh_inv_\S+`).FindString(mustCLI(t, "users", "invite", name, addr))
			p.open(link)
			visit("choose-password")
			p.fill("#password", first)
			p.fill("#confirm", first)
			p.click("button[type=submit]")
			visit("password-set")
			p.open(s.in.issuer + "/account")
			p.fill("#username", name)
			p.fill("#password", first)
			p.click("button[type=submit]")
			p.open(s.in.issuer + "/account")
			visit("account-settings")
			p.open(s.in.issuer + "/account/forgot-password")
			visit("forgot-password")
			p.fill("#email", name+"@example.com")
			p.click("button[type=submit]")
			visit("forgot-password-sent")
		})
	}
}
