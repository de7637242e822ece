package integration

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// TestBrowserTwoStep drives the two-step verification pages in Chromium
// through real Caddy: alice sets up an authenticator app on her account
// page (QR code, key, first code), sees her recovery codes once, then
// signs in to the demo web app with a code. Each page is checked for
// layout, focus and accessibility (axe-core) like the other pages.
func TestBrowserTwoStep(t *testing.T) {
	s := startBrowserSuiteWith(t, exampleSetup{extraGatehouse: []string{"mfa optional"}})
	b := s.newTab(t, desktopLight)
	b.open(s.in.issuer + "/account")
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	b.click("button[type=submit]")
	b.open(s.in.issuer + "/account")
	b.checkAccessibility("account-two-step-off")
	if !b.has("button[value=start]") {
		t.Fatal("the account page has no button to set up two-step verification")
	}
	b.click("button[value=start]")
	if b.text("h1") != "Set up an authenticator app" || !b.has("img.gh-qr") {
		t.Fatalf("enrolment page: h1 %q", b.text("h1"))
	}
	b.wantFocus("#code")
	b.checkLayout("enrol-factor")
	b.checkAccessibility("enrol-factor")
	b.shot("enrol-factor")
	if w := js[float64](b, `document.querySelector("img.gh-qr").naturalWidth`); w != 200 {
		t.Errorf("the QR code image did not load: naturalWidth %v", w)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(b.text("#manual-key"), " ", ""))
	if err != nil {
		t.Fatalf("manual key %q: %v", b.text("#manual-key"), err)
	}
	b.fill("#code", "000000")
	b.click("button[value=confirm]")
	if !strings.Contains(b.text("[role=alert]"), "not right") {
		t.Errorf("a wrong first code: alert %q", b.text("[role=alert]"))
	}
	b.checkAccessibility("enrol-factor-error")
	b.fill("#code", totpAt(t, secret, time.Now()))
	b.click("button[value=confirm]")
	if b.text("h1") != "Your recovery codes" || js[float64](b, `document.querySelectorAll(".gh-recovery-codes li").length`) != 10 {
		t.Fatalf("recovery codes page: h1 %q", b.text("h1"))
	}
	b.checkLayout("recovery-codes")
	b.checkAccessibility("recovery-codes")
	b.shot("recovery-codes")

	// A new browser signs in to the demo web app: password, then a code.
	c := s.newTab(t, phoneDark)
	c.open(s.authorizeURL(demoWeb, "s-two-step"))
	c.fill("#username", "alice")
	c.fill("#password", alicePassword)
	c.click("button[type=submit]")
	if c.text("h1") != "Two-step verification" {
		t.Fatalf("after the password: h1 %q", c.text("h1"))
	}
	c.wantFocus("#code")
	c.checkLayout("second-factor")
	c.checkAccessibility("second-factor")
	c.shot("second-factor")
	c.fill("#code", totpAt(t, secret, time.Now().Add(30*time.Second)))
	c.click("button[value=verify]")
	if !c.has("button[value=allow]") {
		t.Fatalf("after the code: want the consent page, h1 %q", c.text("h1"))
	}
	c.click("button[value=allow]")
	if code := s.callbackResult(t, c, "s-two-step").Get("code"); code == "" {
		t.Fatal("no code after the second factor")
	}
}
