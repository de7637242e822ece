package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserDevicePage (issue 17 item 2): the device flow's page in
// headless Chromium. The user opens verification_uri_complete, signs in,
// sees "Is this your code?" with the code and the app's name, allows, and
// the device polling with golang.org/x/oauth2 gets its tokens. The pages
// pass the layout and accessibility checks (axe-core, when installed) on a
// phone, and the code entry page focuses the code field.
func TestBrowserDevicePage(t *testing.T) {
	tv := "client " + tvClientID + " {\n\t\t\tname \"" + tvName + "\"\n\t\t\ttype third_party_public" +
		"\n\t\t\tgrant_types urn:ietf:params:oauth:grant-type:device_code refresh_token\n\t\t\tscopes openid profile offline_access\n\t\t}"
	s := startBrowserSuiteWith(t, exampleSetup{extraGatehouse: []string{"device_authorization", tv}})
	in := s.in
	cfg := tvConfig(in)
	ctx, cancel := context.WithTimeout(in.ctx(), 60*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	polled := make(chan error, 1)
	go func() {
		_, err := cfg.DeviceAccessToken(ctx, da)
		polled <- err
	}()

	b := s.newTab(t, phoneLight)
	resp := b.open(da.VerificationURIComplete)
	if resp.Status != http.StatusOK || !strings.HasSuffix(mustParse(t, resp.URL).Path, "/login") {
		t.Fatalf("want the login page first, got %d %s", resp.Status, resp.URL)
	}
	b.fill("#username", "alice")
	b.fill("#password", alicePassword)
	resp = b.click("button[type=submit]")
	if resp.Status != http.StatusOK || !strings.HasSuffix(mustParse(t, resp.URL).Path, "/device") {
		t.Fatalf("after login: want /device, got %d %s", resp.Status, resp.URL)
	}
	checkPageHeaders(t, "device confirmation", devtoolsHeaders(resp))
	if got := b.text("h1"); got != "Is this your code?" {
		t.Errorf("heading %q", got)
	}
	if got := b.text(".gh-user-code"); got != da.UserCode {
		t.Errorf("code shown %q, want %q", got, da.UserCode)
	}
	if got := b.text(".gh-subtitle"); !strings.Contains(got, tvName) {
		t.Errorf("subtitle %q does not name the app", got)
	}
	b.checkLayout("device confirmation")
	b.checkAccessibility("device confirmation")
	b.shot("device-confirm")
	resp = b.click("button[value=allow]")
	if resp.Status != http.StatusOK || b.text("h1") != "Device connected" {
		t.Fatalf("after allowing: %d %q", resp.Status, b.text("h1"))
	}
	b.checkAccessibility("device connected")
	if err := <-polled; err != nil {
		t.Fatalf("the device got no tokens: %v", err)
	}

	entry := s.newTab(t, desktopLight)
	entry.open(in.issuer + "/account/apps") // signed out in this tab: log in first
	entry.fill("#username", "alice")
	entry.fill("#password", alicePassword)
	entry.click("button[type=submit]")
	resp = entry.open(in.issuer + "/device")
	if resp.Status != http.StatusOK || entry.text("h1") != "Connect a device" {
		t.Fatalf("/device: %d %q", resp.Status, entry.text("h1"))
	}
	entry.wantFocus("#user_code") // on load (autofocus)
	if got := js[string](entry, `document.querySelector("label[for=user_code]").innerText`); got != "Device code" {
		t.Errorf("the code field's label: %q", got)
	}
	entry.checkLayout("device code entry")
	entry.checkAccessibility("device code entry")
	entry.fill("#user_code", "bbbb-bbbb")
	resp = entry.click("button[type=submit]")
	if resp.Status != http.StatusBadRequest || !strings.Contains(entry.text(".gh-alert"), "not valid or has expired") {
		t.Errorf("a wrong code: %d %q", resp.Status, entry.text(".gh-alert"))
	}
	entry.checkAccessibility("device code entry with an error")
}
