package integration

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestGateRequireMFA: a gate route with `require mfa` sends a browser
// with a password-only session through step-up (here: enrolment, since
// alice has no factor yet) and then admits it; an API token without MFA
// gets 401 insufficient_user_authentication with acr_values (RFC 9470),
// one with MFA passes; X-Gatehouse-Amr reaches the upstream, and a
// client's own X-Gatehouse-Amr never does.
func TestGateRequireMFA(t *testing.T) {
	echo := newEcho(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(),
		extraGatehouse: []string{"mfa optional"},
		edit: func(cf string) string {
			// Two gates that each admit must not both run on one request
			// (the first removes the gate's cookie from what follows):
			// the plain gate skips the MFA routes.
			return strings.Replace(cf, "\tauthgate\n", "\tauthgate /mfa/* {\n\t\trequire mfa\n\t}\n\tauthgate /fresh/* {\n\t\trequire max_age 1s\n\t}\n\t@plain not path /mfa/* /fresh/*\n\tauthgate @plain\n", 1)
		}})

	// A token from a password-only sign-in (alice has no factor yet).
	_, pwdAuth := in.gateToken(t, demoCLI)

	// The browser: the plain route admits a password session...
	b := in.newBrowser()
	p := b.get(in.gate + "/plain")
	if strings.HasSuffix(p.url.Path, "/login") {
		p = b.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	}
	if got := decodeEcho(t, p).Headers.Get("X-Gatehouse-Amr"); got != "pwd" {
		t.Errorf("plain route: X-Gatehouse-Amr = %q, want pwd", got)
	}
	// ...the MFA route steps up: alice, without a factor, sets one up.
	p = b.get(in.gate + "/mfa/report")
	if !strings.Contains(p.body, "requires two-step verification") {
		t.Fatalf("the MFA route did not step up to enrolment (%d %s):\n%s", p.status, p.url, p.body)
	}
	secret := totpSecret(t, p)
	p = b.submit(p, map[string]string{"code": totpAt(t, secret, time.Now())}, "action", "confirm")
	if n := len(mfaRecoveryRE.FindAllString(p.body, -1)); n != 10 {
		t.Fatalf("recovery codes after the step-up enrolment: %d\n%s", n, p.body)
	}
	p = b.submit(p, nil, "action", "continue")
	got := decodeEcho(t, p)
	if got.Path != "/mfa/report" || got.Headers.Get("X-Gatehouse-Amr") != "pwd otp mfa" {
		t.Errorf("after step-up: path %q, X-Gatehouse-Amr %q", got.Path, got.Headers.Get("X-Gatehouse-Amr"))
	}

	// API: the password-only token is refused on the MFA route with RFC
	// 9470's challenge, and accepted elsewhere; a forged amr header is
	// stripped.
	resp := in.request(t, http.MethodGet, in.gate+"/mfa/report", nil, pwdAuth)
	body, _ := io.ReadAll(resp.Body)
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `error="insufficient_user_authentication"`) ||
		!strings.Contains(wa, `acr_values="urn:gatehouse:acr:mfa"`) || !strings.Contains(string(body), "insufficient_user_authentication") {
		t.Errorf("password-only token on the MFA route: %d %q %s", resp.StatusCode, wa, body)
	}
	// require max_age: the password-only token's sign-in is over a
	// second old (RFC 9470: max_age in the challenge).
	time.Sleep(1100 * time.Millisecond)
	resp = in.request(t, http.MethodGet, in.gate+"/fresh/x", nil, pwdAuth)
	if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, `max_age="1"`) || strings.Contains(wa, "acr_values") {
		t.Errorf("an old sign-in on the max_age route: %d %q", resp.StatusCode, wa)
	}
	forged := map[string]string{"Authorization": pwdAuth["Authorization"], "Accept": "application/json", "X-Gatehouse-Amr": "pwd otp mfa"}
	hits := echo.count()
	if resp := in.request(t, http.MethodGet, in.gate+"/mfa/report", nil, forged); resp.StatusCode != http.StatusUnauthorized || echo.count() != hits {
		t.Errorf("a forged X-Gatehouse-Amr let the token through: %d", resp.StatusCode)
	}
	resp = in.request(t, http.MethodGet, in.gate+"/api", nil, forged)
	if resp.StatusCode != http.StatusOK || echo.last.Get("X-Gatehouse-Amr") != "pwd" {
		t.Errorf("plain route with a forged header: %d, upstream saw X-Gatehouse-Amr %q", resp.StatusCode, echo.last.Get("X-Gatehouse-Amr"))
	}

	// An MFA token (the next step's code; the confirming one is used).
	cfg := in2oauth(in, demoCLI.id, demoCLI.secret)
	v := oauth2.GenerateVerifier()
	ab := in.newBrowser()
	p = ab.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", in.gate)))
	p = ab.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	if !isFactorPage(p) {
		t.Fatalf("no second-factor page for the API sign-in (%d):\n%s", p.status, p.body)
	}
	p = ab.submit(p, map[string]string{"code": totpAt(t, secret, time.Now().Add(30*time.Second))}, "action", "verify")
	cb, err := url.Parse(p.location)
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("no code after the second factor: %d %s", p.status, p.location)
	}
	tok, err := cfg.Exchange(in.ctx(), cb.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	resp = in.request(t, http.MethodGet, in.gate+"/mfa/report", nil, map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"})
	if resp.StatusCode != http.StatusOK || echo.last.Get("X-Gatehouse-Amr") != "pwd otp mfa" {
		t.Errorf("MFA token on the MFA route: %d, X-Gatehouse-Amr %q", resp.StatusCode, echo.last.Get("X-Gatehouse-Amr"))
	}
}

// TestGateStepUpFallsShort: when the issuer cannot reach the class a
// route requires (here MFA is off), the step-up login comes back no
// stronger and the gate answers 403 with a page, not another login round;
// also when the callback is served by the site's other gate, whose own
// policy requires nothing (the requirement travels with the login).
func TestGateStepUpFallsShort(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"one gate": func(cf string) string {
			return strings.Replace(cf, "\tauthgate\n", "\tauthgate {\n\t\trequire mfa\n\t}\n", 1)
		},
		"callback at another gate": func(cf string) string {
			return strings.Replace(cf, "\tauthgate\n", "\tauthgate /report* {\n\t\trequire mfa\n\t}\n\t@plain not path /report*\n\tauthgate @plain\n", 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			echo := newEcho(t)
			in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(), edit: edit})
			b := in.newBrowser()
			p := b.get(in.gate + "/report")
			if strings.HasSuffix(p.url.Path, "/login") {
				b.submit(p, map[string]string{"username": "alice", "password": alicePassword})
				// The redirects after a POST carry no Accept: navigate again.
				p = b.get(in.gate + "/report")
			}
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "Two-step verification needed") || echo.count() != 0 {
				t.Fatalf("a step-up that cannot succeed: %d %s (upstream hits %d)\n%s", p.status, p.url, echo.count(), p.body)
			}
		})
	}
}
