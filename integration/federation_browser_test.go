package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestFederationInChromium: in a real browser, the login page shows the
// providers' buttons (accessible, no CSP violation); dana picks Corp SSO,
// signs in on the upstream Gatehouse's own login page and lands on the
// gated page she asked for, admitted by the provider's group.
func TestFederationInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the browser tests run in the full suite")
	}
	axe := axeSource(t)
	l := startFedLab(t)
	s := &browserSuite{in: l.instance, browser: startChromium(t, l.instance), axe: axe, shotDir: t.TempDir()}
	b := s.newTab(t, desktopLight)

	b.open(l.gate + "/hello")
	if !strings.HasSuffix(strings.SplitN(b.location(), "?", 2)[0], "/login") || !b.has(`a.gh-provider[href*="/federation/corp/start"]`) {
		t.Fatalf("not the login page with the providers: %s", b.location())
	}
	if txt := b.text(`a.gh-provider[href*="/federation/corp/start"]`); !strings.Contains(txt, "Sign in with Corp SSO") {
		t.Errorf("button text %q", txt)
	}
	b.checkAccessibility("login page with providers")
	b.shot("login-with-providers")
	if l := b.browserLog(); len(l) > 0 {
		t.Errorf("browser log on the login page: %v", l)
	}

	b.click(`a.gh-provider[href*="/federation/corp/start"]`)
	if loc := b.location(); !strings.HasPrefix(loc, "http://localhost:") || !b.has("#username") {
		t.Fatalf("not the provider's login page: %s", loc)
	}
	b.fill("#username", "dana")
	b.fill("#password", labPassword)
	b.click(`button[type="submit"]`)
	// The sign-in ends on a page that moves on by itself (meta refresh):
	// wait, boundedly, for the gated page.
	for i := 0; i < 100 && !strings.HasPrefix(b.location(), l.gate+"/hello"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if loc := b.location(); !strings.HasPrefix(loc, l.gate+"/hello") {
		b.shot("after-upstream-login")
		t.Fatalf("did not land on the gated page: %s\n%s\nlog: %v", loc, b.text("body"), b.browserLog())
	}
	var got echoed
	if err := json.Unmarshal([]byte(b.text("body")), &got); err != nil {
		t.Fatalf("not the upstream's answer: %v\n%s", err, b.text("body"))
	}
	if got.Headers.Get("X-Gatehouse-Idp") != "corp" || got.Headers.Get("X-Gatehouse-Groups") != "eng,oncall" {
		t.Errorf("identity headers: %v", got.Headers)
	}
	if l := b.browserLog(); len(l) > 0 {
		t.Errorf("browser log during the sign-in: %v", l)
	}
}
