package integration

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/factor"
)

// startMFALab runs Caddy with mfa optional, two configured users and
// three first-party apps: app-web follows the server's policy, app-strict
// requires a second factor, app-lax asks for none.
func startMFALab(t *testing.T) *adminInstance {
	t.Helper()
	dir, port, adminPort := t.TempDir(), freePort(t), freePort(t)
	preamble := globalPreamble(preambleOptions{dir: dir, adminPort: adminPort})
	cf := fmt.Sprintf(`{
%s	gatehouse {
		issuer https://localhost:%[2]d
		audit_retention 1h
		mfa optional
		user alice {
			password_hash %[3]s
		}
		user bob {
			password_hash %[3]s
		}
		client app-web {
			type first_party
			secret_hash %[4]s
			redirect_uris http://127.0.0.1:49152/callback
		}
		client app-strict {
			type first_party
			secret_hash %[4]s
			redirect_uris http://127.0.0.1:49152/callback
			mfa required
		}
		client app-lax {
			type first_party
			secret_hash %[4]s
			redirect_uris http://127.0.0.1:49152/callback
			mfa off
		}
	}
}

https://localhost:%[2]d {
	tls internal
	authserver
}
`, preamble, port, cheapHash(t, alicePassword), sha256Secret("mfa-secret"))
	in := startCaddy(t, dir, cf, fmt.Sprintf("https://localhost:%d", port))
	addr := fmt.Sprintf("127.0.0.1:%d", adminPort)
	return &adminInstance{instance: in, admin: "http://" + addr, addr: addr}
}

var (
	mfaManualKeyRE = regexp.MustCompile(`id="manual-key">([A-Z2-7 ]+)<`)
	mfaRecoveryRE  = regexp.MustCompile(`<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>`)
)

// totpSecret reads the secret off an enrolment page, as a person typing
// the manual key into an app would.
func totpSecret(t *testing.T, p *page) []byte {
	t.Helper()
	m := mfaManualKeyRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("not an enrolment page with a QR code and a key (%d):\n%s", p.status, p.body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func totpAt(t *testing.T, secret []byte, at time.Time) string {
	t.Helper()
	c, err := factor.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mfaFlow is one authorization request of an app through the pages.
type mfaFlow struct {
	in       *adminInstance
	b        *browser
	app      demoApp
	verifier string
	nonce    string
}

func (in *adminInstance) startFlow(t *testing.T, b *browser, app demoApp, extra ...string) (*mfaFlow, *page) {
	t.Helper()
	f := &mfaFlow{in: in, b: b, app: app, verifier: oauth2.GenerateVerifier(), nonce: "n-" + app.id}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}
	for i := 0; i+1 < len(extra); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(extra[i], extra[i+1]))
	}
	p := b.get(in.oauthConfig(app, "openid").AuthCodeURL("s", opts...))
	if p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login") && strings.Contains(p.body, `name="password"`) {
		user := "alice"
		if b.username != "" {
			user = b.username
		}
		p = b.submit(p, map[string]string{"username": user, "password": alicePassword})
	}
	return f, p
}

// idToken redeems the code the page redirected to and verifies the ID
// token with go-oidc.
func (f *mfaFlow) idToken(t *testing.T, p *page) *oidc.IDToken {
	t.Helper()
	u, err := url.Parse(p.location)
	if err != nil || p.location == "" || u.Query().Get("code") == "" {
		t.Fatalf("no code for %s (%d): %s\n%s", f.app.id, p.status, p.location, p.body)
	}
	tj, st := f.in.postToken(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:49152/callback"}, "code_verifier": {f.verifier},
		"client_id": {f.app.id}, "client_secret": {f.app.secret}})
	if st != http.StatusOK {
		t.Fatalf("token request: %d %+v", st, tj)
	}
	ctx := f.in.ctx()
	provider, err := oidc.NewProvider(ctx, f.in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: f.app.id}).Verify(ctx, tj.IDToken)
	if err != nil || idt.Nonce != f.nonce {
		t.Fatalf("ID token: %v (nonce %q)", err, idt.Nonce)
	}
	return idt
}

type authClaims struct {
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
}

func claimsOf(t *testing.T, idt *oidc.IDToken) authClaims {
	t.Helper()
	var c authClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func isFactorPage(p *page) bool {
	return p.location == "" && strings.Contains(p.body, "Enter the 6-digit code")
}

// TestMFAThroughCaddy: TOTP enrolment on the account page and sign-in
// with codes computed from the shown key; a replayed code and a code two
// windows old are refused; recovery codes work once; acr_values step-up
// is reflected in the ID token (checked with go-oidc); one client
// requiring MFA leads a user without a factor through enrolment for it
// only; an admin resets factors through the API and the CLI, audited.
func TestMFAThroughCaddy(t *testing.T) {
	ai := startMFALab(t)
	web, strict, lax := demoApp{"app-web", "mfa-secret"}, demoApp{"app-strict", "mfa-secret"}, demoApp{"app-lax", "mfa-secret"}

	var disc struct {
		ACRValues []string `json:"acr_values_supported"`
	}
	if err := json.Unmarshal([]byte(ai.getBody("/.well-known/openid-configuration")), &disc); err != nil ||
		!slices.Equal(disc.ACRValues, []string{"urn:gatehouse:acr:pwd", "urn:gatehouse:acr:mfa"}) {
		t.Fatalf("acr_values_supported = %v (%v)", disc.ACRValues, err)
	}

	// Alice enrols on her account page.
	alice := ai.newBrowser()
	account := alice.get(ai.issuer + "/account")
	if strings.HasSuffix(account.url.Path, "/login") {
		alice.submit(account, map[string]string{"username": "alice", "password": alicePassword})
		account = alice.get(ai.issuer + "/account")
	}
	var start *form
	for i := range account.forms {
		if strings.HasSuffix(account.forms[i].action, "/account/two-step") {
			start = &account.forms[i]
		}
	}
	if start == nil {
		t.Fatalf("no two-step form on the account page:\n%s", account.body)
	}
	enrol := alice.post(ai.issuer+"/account/two-step", url.Values{"csrf": start.fields["csrf"], "action": {"start"}})
	secret := totpSecret(t, enrol)
	done := alice.submit(enrol, map[string]string{"code": totpAt(t, secret, time.Now())}, "action", "confirm")
	codes := mfaRecoveryRE.FindAllStringSubmatch(done.body, -1)
	if len(codes) != factor.RecoveryCodeCount {
		t.Fatalf("recovery codes shown: %d\n%s", len(codes), done.body)
	}

	// Sign-in to app-web asks for a code. The confirming code's step is
	// used: the next step's code (within the ±1 window) signs in.
	b := ai.newBrowser()
	flow, p := ai.startFlow(t, b, web)
	if !isFactorPage(p) {
		t.Fatalf("no second-factor page after the password (%d):\n%s", p.status, p.body)
	}
	next := totpAt(t, secret, time.Now().Add(30*time.Second))
	got := claimsOf(t, flow.idToken(t, b.submit(p, map[string]string{"code": next}, "action", "verify")))
	if got.ACR != "urn:gatehouse:acr:mfa" || !slices.Equal(got.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("ID token after TOTP: %+v", got)
	}
	// The same code again (another browser, same window): refused; a code
	// from two windows ago: refused.
	other := ai.newBrowser()
	_, p = ai.startFlow(t, other, web)
	for name, code := range map[string]string{"replayed": next, "two windows ago": totpAt(t, secret, time.Now().Add(-60*time.Second))} {
		res := other.submit(p, map[string]string{"code": code}, "action", "verify")
		if res.status != http.StatusUnauthorized || !isFactorPage(res) {
			t.Errorf("%s code: %d %s", name, res.status, alertText(res.body))
		}
		if want := map[string]string{"replayed": "already used", "two windows ago": "not right"}[name]; !strings.Contains(res.body, want) {
			t.Errorf("%s code: the page does not say %q", name, want)
		}
		p = res
	}
	// Codes are throttled like passwords: after the second failure the
	// next attempt waits (a second, doubling), unchecked.
	res := other.submit(p, map[string]string{"code": codes[0][1]}, "action", "verify")
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Errorf("a third code right after two wrong ones: %d %s", res.status, alertText(res.body))
	}
	time.Sleep(1100 * time.Millisecond)
	// A recovery code signs in once.
	res = other.submit(res, map[string]string{"code": codes[0][1]}, "action", "verify")
	if res.location == "" {
		t.Fatalf("recovery code refused: %d %s", res.status, alertText(res.body))
	}
	third := ai.newBrowser()
	_, p = ai.startFlow(t, third, web)
	if res := third.submit(p, map[string]string{"code": codes[0][1]}, "action", "verify"); res.status != http.StatusUnauthorized {
		t.Errorf("a used recovery code: %d", res.status)
	}

	// Step-up: app-lax asks for no second factor, until acr_values does.
	lb := ai.newBrowser()
	lf, p := ai.startFlow(t, lb, lax)
	first := lf.idToken(t, p)
	if c := claimsOf(t, first); c.ACR != "urn:gatehouse:acr:pwd" || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("app-lax ID token: %+v", c)
	}
	time.Sleep(1100 * time.Millisecond) // auth_time has whole seconds
	lf, p = ai.startFlow(t, lb, lax, "acr_values", "urn:gatehouse:acr:mfa")
	if !isFactorPage(p) {
		t.Fatalf("acr_values=mfa did not ask for a second factor (%d):\n%s", p.status, p.body)
	}
	stepped := lf.idToken(t, lb.submit(p, map[string]string{"code": codes[1][1]}, "action", "verify"))
	if c := claimsOf(t, stepped); c.ACR != "urn:gatehouse:acr:mfa" || !slices.Contains(c.AMR, "mfa") || c.AuthTime <= claimsOf(t, first).AuthTime {
		t.Errorf("stepped-up ID token: %+v, first auth_time %d", c, claimsOf(t, first).AuthTime)
	}

	// Bob has no factor: app-web lets him in with his password, app-strict
	// leads him through enrolment first.
	bob := ai.newBrowser()
	bob.username, bob.password = "bob", alicePassword
	bf, p := ai.startFlow(t, bob, web)
	if c := claimsOf(t, bf.idToken(t, p)); c.ACR != "urn:gatehouse:acr:pwd" {
		t.Errorf("bob at app-web: %+v", c)
	}
	sf, p := ai.startFlow(t, bob, strict)
	if !strings.Contains(p.body, "requires two-step verification") {
		t.Fatalf("app-strict did not lead bob to enrolment (%d):\n%s", p.status, p.body)
	}
	bobSecret := totpSecret(t, p)
	p = bob.submit(p, map[string]string{"code": totpAt(t, bobSecret, time.Now())}, "action", "confirm")
	if n := len(mfaRecoveryRE.FindAllString(p.body, -1)); n != factor.RecoveryCodeCount {
		t.Fatalf("bob's recovery codes: %d\n%s", n, p.body)
	}
	if c := claimsOf(t, sf.idToken(t, bob.submit(p, nil, "action", "continue"))); c.ACR != "urn:gatehouse:acr:mfa" {
		t.Errorf("bob at app-strict: %+v", c)
	}

	// An admin resets alice's factors (API) and bob's (CLI).
	r := ai.api(t, http.MethodPost, "/gatehouse/users/alice/factors/reset", nil)
	var deleted map[string]int
	mustJSONBody(t, r, &deleted)
	if r.status != http.StatusOK || deleted["factors_deleted"] != 1 {
		t.Errorf("factors/reset: %d %s", r.status, r.body)
	}
	if r := ai.api(t, http.MethodPost, "/gatehouse/users/nobody/factors/reset", nil); r.status != http.StatusNotFound {
		t.Errorf("factors/reset of an unknown user: %d %s", r.status, r.body)
	}
	if out := mustCLI(t, "users", "reset-factors", "bob", "--address="+ai.addr); !strings.Contains(out, "Deleted 1 second factors") {
		t.Errorf("reset-factors:\n%s", out)
	}
	// Alice signs in to app-web with her password alone now.
	af, p := ai.startFlow(t, ai.newBrowser(), web)
	if c := claimsOf(t, af.idToken(t, p)); c.ACR != "urn:gatehouse:acr:pwd" {
		t.Errorf("alice after the reset: %+v", c)
	}
	// Both resets are in the audit trail (a bounded wait: records are
	// written in batches).
	for i := 0; ; i++ {
		recs := ai.audit(t, url.Values{"type": {"user"}})
		n := 0
		for _, rec := range recs.Records {
			if rec.Result == "factors_reset" {
				n++
			}
		}
		if n == 2 {
			break
		}
		if i == 100 {
			t.Fatalf("factors_reset audit records: %d of 2 in %+v", n, recs.Records)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
