package authserver_test

import (
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

var (
	manualKeyRE    = regexp.MustCompile(`id="manual-key">([A-Z2-7 ]+)<`)
	recoveryCodeRE = regexp.MustCompile(`<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>`)
)

// secretOf reads the TOTP secret off an enrolment page's manual key, as
// a person typing it into an app would.
func secretOf(t *testing.T, page *ast.Response) []byte {
	t.Helper()
	m := manualKeyRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no manual key on the page: %s", page)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.Body, `src="data:image/png;base64,`) {
		t.Fatal("the enrolment page has no QR code image")
	}
	return secret
}

func codeAt(t *testing.T, secret []byte, at time.Time) string {
	t.Helper()
	c, err := factor.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP turns two-step verification on for the browser's user on the
// account page and returns the secret and the recovery codes shown.
func enrolTOTP(t *testing.T, f *ast.Fixture, b *ast.Browser) ([]byte, []string) {
	t.Helper()
	account := b.Follow(b.Get("/account"))
	if !strings.Contains(account.Body, "Set up an authenticator app") {
		t.Fatalf("the account page offers no enrolment: %s", account)
	}
	page := b.Submit(account, "/account/two-step", url.Values{"action": {"start"}})
	secret := secretOf(t, page)
	done := b.Submit(page, "/account/two-step", url.Values{"action": {"confirm"}, "code": {codeAt(t, secret, f.Clock.Now())}})
	codes := recoveryCodeRE.FindAllStringSubmatch(done.Body, -1)
	if done.Code != http.StatusOK || len(codes) != factor.RecoveryCodeCount {
		t.Fatalf("confirming the enrolment: %d recovery codes in %s", len(codes), done)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	// Codes of this step were used to confirm: later sign-ins use the next.
	f.Clock.Advance(30 * time.Second)
	return secret, out
}

// submitCode answers the second-factor page.
func submitCode(b *ast.Browser, page *ast.Response, code string) *ast.Response {
	return b.Submit(page, "/login/factor", url.Values{"action": {"verify"}, "code": {code}})
}

func amrOf(claims map[string]any) []string {
	var out []string
	list, _ := claims["amr"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// TestPasswordTokensCarryAMR: without MFA, tokens say the user signed in
// with a password (RFC 8176 pwd) at the password class.
func TestPasswordTokensCarryAMR(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	tok := f.Exchange(t, ast.FirstParty, b.Code(f.AuthorizeQuery(ast.FirstParty, "openid offline_access")))
	for name, jws := range map[string]string{"ID token": tok.IDToken, "access token": tok.AccessToken} {
		c := ast.Claims(t, jws)
		if !slices.Equal(amrOf(c), []string{"pwd"}) || c["acr"] != "urn:gatehouse:acr:pwd" {
			t.Errorf("%s: amr %v acr %v, want [pwd] and the password class", name, c["amr"], c["acr"])
		}
	}
	// A refreshed token keeps them (they live on the grant).
	again := f.Refresh(t, ast.FirstParty, tok.RefreshToken)
	if c := ast.Claims(t, again.IDToken); !slices.Equal(amrOf(c), []string{"pwd"}) || c["acr"] != "urn:gatehouse:acr:pwd" {
		t.Errorf("refreshed ID token: amr %v acr %v", c["amr"], c["acr"])
	}
	// Without MFA the second-factor pages do not exist.
	if res := b.Get("/login/factor"); res.Code != http.StatusNotFound {
		t.Errorf("GET /login/factor without MFA: %d", res.Code)
	}
}

// TestTOTPSignIn: enrolment on the account page, then a sign-in asks
// for the code; the tokens say pwd+otp+mfa; a replayed code, a code from
// two steps ago and a wrong code are refused; nothing is signed in
// before the second factor.
func TestTOTPSignIn(t *testing.T) {
	f := ast.New(t, ast.Options{MFA: factor.Optional})
	var disc map[string]any
	f.Get(t, "/.well-known/openid-configuration").JSON(&disc)
	if got, _ := disc["acr_values_supported"].([]any); len(got) != 2 || got[1] != "urn:gatehouse:acr:mfa" {
		t.Errorf("acr_values_supported = %v", disc["acr_values_supported"])
	}
	alice := f.NewBrowser(t)
	alice.SignIn()
	secret, _ := enrolTOTP(t, f, alice)
	if res := alice.Follow(alice.Get("/account")); !strings.Contains(res.Body, "Recovery codes left: 10") {
		t.Errorf("the account page does not show two-step verification on: %s", res)
	}

	b := f.NewBrowser(t)
	page := b.Login(b.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid")))
	if !b.OnPage(page, "/login/factor") {
		t.Fatalf("after the password: %s", page)
	}
	if b.Cookie("gatehouse_session") != nil {
		t.Fatal("a session cookie was set before the second factor")
	}
	now := f.Clock.Now()
	for _, c := range []struct{ name, code, want string }{
		{"two steps ago", codeAt(t, secret, now.Add(-60*time.Second)), "not right"},
		{"two steps ahead", codeAt(t, secret, now.Add(60*time.Second)), "not right"},
		{"garbage", "12345x", "not right"},
		{"oversized", strings.Repeat("1", 100), "Enter the code"},
	} {
		res := submitCode(b, page, c.code)
		if !b.OnPage(res, "/login/factor") || !strings.Contains(res.Body, c.want) || res.Code/100 != 4 {
			t.Fatalf("%s: %s", c.name, res)
		}
		page = res
	}
	code := codeAt(t, secret, now)
	res := submitCode(b, page, code)
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("after the right code: %s", res)
	}
	tok := f.Exchange(t, ast.FirstParty, loc.Query().Get("code"))
	for name, jws := range map[string]string{"ID token": tok.IDToken, "access token": tok.AccessToken} {
		c := ast.Claims(t, jws)
		if !slices.Equal(amrOf(c), []string{"pwd", "otp", "mfa"}) || c["acr"] != "urn:gatehouse:acr:mfa" {
			t.Errorf("%s: amr %v acr %v", name, c["amr"], c["acr"])
		}
	}
	// Introspection says the same (RFC 9470 §6.1).
	if in := introspect(t, f, ast.FirstParty, tok.AccessToken, nil); !in.Active || in.ACR != "urn:gatehouse:acr:mfa" ||
		!slices.Equal(in.AMR, []string{"pwd", "otp", "mfa"}) || in.AuthTime != f.Clock.Now().Unix() {
		t.Errorf("introspection: %+v", in)
	}

	// The same code in another browser, within its window: refused.
	other := f.NewBrowser(t)
	page = other.Login(other.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid")))
	replay := submitCode(other, page, code)
	if !other.OnPage(replay, "/login/factor") || !strings.Contains(replay.Body, "already used") || replay.Code != http.StatusUnauthorized {
		t.Fatalf("replayed code: %s", replay)
	}
	// Nor is the previous step's code (older than the last used one).
	if res := submitCode(other, replay, codeAt(t, secret, now.Add(-30*time.Second))); !strings.Contains(res.Body, "already used") {
		t.Fatalf("older step after a newer one: %s", res)
	}
}

// TestRecoveryCodeSignIn: each recovery code signs in once; regenerating
// them voids the old ones.
func TestRecoveryCodeSignIn(t *testing.T) {
	f := ast.New(t, ast.Options{MFA: factor.Optional})
	alice := f.NewBrowser(t)
	alice.SignIn()
	_, codes := enrolTOTP(t, f, alice)

	signIn := func(code string) *ast.Response {
		b := f.NewBrowser(t)
		page := b.Login(b.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid")))
		return submitCode(b, page, code)
	}
	if res := signIn(strings.ToUpper(codes[3])); res.Code/100 != 3 || res.Location().Query().Get("code") == "" {
		t.Fatalf("a recovery code (typed in capitals): %s", res)
	}
	if res := signIn(codes[3]); res.Code != http.StatusUnauthorized {
		t.Fatalf("the same recovery code again: %s", res)
	}
	if res := alice.Follow(alice.Get("/account")); !strings.Contains(res.Body, "Recovery codes left: 9") {
		t.Errorf("the account page does not count the used code: %s", res)
	}
	// New codes replace the old.
	fresh := alice.Submit(alice.Follow(alice.Get("/account")), "/account/two-step", url.Values{"action": {"recovery"}})
	if n := len(recoveryCodeRE.FindAllString(fresh.Body, -1)); n != factor.RecoveryCodeCount {
		t.Fatalf("new recovery codes: %d shown", n)
	}
	if res := signIn(codes[4]); res.Code != http.StatusUnauthorized {
		t.Fatalf("an old recovery code after regenerating: %s", res)
	}
}

// TestMFARequiredForOneClient: a client that requires MFA leads a user
// without a factor through enrolment, for that client only; the
// enrolment shows recovery codes once and the flow continues with an
// MFA session.
func TestMFARequiredForOneClient(t *testing.T) {
	strict := &clients.Client{ID: "strict", SecretHashes: []string{clients.HashSecret("strict-secret-0123456789abcdef")},
		MFA: factor.Required, Metadata: clients.Metadata{Name: "Strict App", Type: clients.FirstParty,
			RedirectURIs: []string{"https://strict.example/cb"}}}
	f := ast.New(t, ast.Options{MFA: factor.Optional, Clients: []*clients.Client{strict},
		Secrets: map[string]string{"strict": "strict-secret-0123456789abcdef"}})

	// Another client: the password is enough.
	b := f.NewBrowser(t)
	b.Code(f.AuthorizeQuery(ast.FirstParty, "openid"))

	// The strict client, same browser (a password session): enrolment.
	page := b.Authorize(f.AuthorizeQuery("strict", "openid"))
	if !b.OnPage(page, "/login/factor") || !strings.Contains(page.Body, "requires two-step verification") {
		t.Fatalf("the strict client did not lead to enrolment: %s", page)
	}
	secret := secretOf(t, page)
	wrong := b.Submit(page, "/login/factor", url.Values{"action": {"confirm"}, "code": {"000000"}})
	if wrong.Code != http.StatusUnauthorized || secretOf(t, wrong) == nil || string(secretOf(t, wrong)) != string(secret) {
		t.Fatalf("a wrong confirmation code must show the same secret again: %s", wrong)
	}
	codes := b.Submit(wrong, "/login/factor", url.Values{"action": {"confirm"}, "code": {codeAt(t, secret, f.Clock.Now())}})
	if n := len(recoveryCodeRE.FindAllString(codes.Body, -1)); n != factor.RecoveryCodeCount {
		t.Fatalf("recovery codes after enrolment: %d in %s", n, codes)
	}
	res := b.Submit(codes, "/login/factor", url.Values{"action": {"continue"}})
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("continuing after enrolment: %s", res)
	}
	c := ast.Claims(t, f.Exchange(t, "strict", loc.Query().Get("code")).IDToken)
	if c["acr"] != "urn:gatehouse:acr:mfa" {
		t.Errorf("strict client's ID token acr = %v", c["acr"])
	}
	factors, err := f.Store.ListFactors(t.Context(), ast.AliceID)
	if err != nil || len(factors) != 1 || !factors[0].Confirmed() {
		t.Fatalf("stored factors after enrolment: %v, %v", factors, err)
	}
	// The secret is stored sealed, not as the raw key.
	if strings.Contains(string(factors[0].Secret), string(secret)) {
		t.Fatal("the TOTP secret is stored in the clear")
	}

	// prompt=none cannot ask for a second factor: a fresh password-only
	// session gets interaction_required from the strict client.
	bob := f.NewBrowser(t)
	bob.Username = ast.Bob
	bob.Code(f.AuthorizeQuery(ast.FirstParty, "openid"))
	q := f.AuthorizeQuery("strict", "openid")
	q.Set("prompt", "none")
	if got := bob.Authorize(q).RedirectQuery().Get("error"); got != "interaction_required" {
		t.Errorf("prompt=none needing a second factor: error %q", got)
	}
}

// TestACRValuesStepUp: a password session asked for the MFA class
// (acr_values) proves the second factor; the new ID token carries the
// MFA class and the new auth_time. Unknown values are ignored.
func TestACRValuesStepUp(t *testing.T) {
	lax := &clients.Client{ID: "lax", SecretHashes: []string{clients.HashSecret("lax-secret-0123456789abcdef")},
		MFA: factor.Off, Metadata: clients.Metadata{Name: "Lax App", Type: clients.FirstParty,
			RedirectURIs: []string{"https://lax.example/cb"}}}
	f := ast.New(t, ast.Options{MFA: factor.Optional, Clients: []*clients.Client{lax},
		Secrets: map[string]string{"lax": "lax-secret-0123456789abcdef"}})
	alice := f.NewBrowser(t)
	alice.SignIn()
	secret, _ := enrolTOTP(t, f, alice)

	b := f.NewBrowser(t)
	// The lax client asks for no second factor.
	first := ast.Claims(t, f.Exchange(t, "lax", b.Code(f.AuthorizeQuery("lax", "openid"))).IDToken)
	if first["acr"] != "urn:gatehouse:acr:pwd" {
		t.Fatalf("lax sign-in acr = %v", first["acr"])
	}
	f.Clock.Advance(time.Minute)
	// Unknown classes are ignored; the password class is met.
	q := f.AuthorizeQuery("lax", "openid")
	q.Set("acr_values", "urn:example:unknown urn:gatehouse:acr:pwd")
	if res := b.Authorize(q); res.Code/100 != 3 || res.Location().Query().Get("code") == "" {
		t.Fatalf("acr_values met by the session: %s", res)
	}
	q.Set("acr_values", "urn:gatehouse:acr:mfa")
	page := b.Authorize(q)
	if !b.OnPage(page, "/login/factor") {
		t.Fatalf("acr_values=mfa did not step up: %s", page)
	}
	res := submitCode(b, page, codeAt(t, secret, f.Clock.Now()))
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("after the step-up code: %s", res)
	}
	stepped := ast.Claims(t, f.Exchange(t, "lax", loc.Query().Get("code")).IDToken)
	if stepped["acr"] != "urn:gatehouse:acr:mfa" || !slices.Equal(amrOf(stepped), []string{"pwd", "otp", "mfa"}) {
		t.Errorf("stepped-up ID token: acr %v amr %v", stepped["acr"], stepped["amr"])
	}
	if stepped["auth_time"].(float64) <= first["auth_time"].(float64) {
		t.Errorf("auth_time %v not after the first sign-in's %v", stepped["auth_time"], first["auth_time"])
	}
	// The MFA session now meets the request without asking again.
	if res := b.Authorize(q); res.Code/100 != 3 || res.Location().Query().Get("code") == "" {
		t.Fatalf("acr_values=mfa with an MFA session: %s", res)
	}
	// An oversized acr_values is refused.
	q.Set("acr_values", strings.Repeat("a", 2000))
	if got := b.Authorize(q).RedirectQuery().Get("error"); got != "invalid_request" {
		t.Errorf("oversized acr_values: error %q", got)
	}
}

// TestSecondFactorRefusals: the second step's form cannot be replayed
// or forged: an expired or tampered pending sign-in, a missing CSRF
// token, another user's unconfirmed factor.
func TestSecondFactorRefusals(t *testing.T) {
	f := ast.New(t, ast.Options{MFA: factor.Optional})
	alice := f.NewBrowser(t)
	alice.SignIn()
	secret, _ := enrolTOTP(t, f, alice)
	b := f.NewBrowser(t)
	page := b.Login(b.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid")))
	if !b.OnPage(page, "/login/factor") {
		t.Fatalf("after the password: %s", page)
	}
	for _, c := range []struct {
		name   string
		fields url.Values
	}{
		{"tampered pending", url.Values{"action": {"verify"}, "pending": {"x" + page.Form(f.Path("/login/factor")).Values.Get("pending")}}},
		{"no pending", url.Values{"action": {"verify"}, "pending": {""}}},
		{"no csrf", url.Values{"action": {"verify"}, "csrf": {""}}},
		{"no ar", url.Values{"action": {"verify"}, "ar": {""}}},
	} {
		fields := c.fields
		fields.Set("code", codeAt(t, secret, f.Clock.Now()))
		res := b.Submit(page, "/login/factor", fields)
		if res.Code/100 == 3 || b.Cookie("gatehouse_session") != nil {
			t.Fatalf("%s: %s", c.name, res)
		}
	}
	// After the pending sign-in's lifetime, even the right code is refused.
	f.Clock.Advance(11 * time.Minute)
	if res := submitCode(b, page, codeAt(t, secret, f.Clock.Now())); res.Code/100 == 3 {
		t.Fatalf("expired pending sign-in: %s", res)
	}
	// The failed attempts used no code: the right one still works in a
	// new sign-in.
	page = b.Login(b.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid")))
	if res := submitCode(b, page, codeAt(t, secret, f.Clock.Now())); res.Code/100 != 3 {
		t.Fatalf("a fresh sign-in after the refusals: %s", res)
	}
	// Turning two-step verification off removes the factor and codes.
	alice.Submit(alice.Follow(alice.Get("/account")), "/account/two-step", url.Values{"action": {"remove"}})
	if fs, err := f.Store.ListFactors(t.Context(), ast.AliceID); err != nil || len(fs) != 0 {
		t.Fatalf("factors after removal: %v, %v", fs, err)
	}
	if n, _ := f.Store.CountRecoveryCodes(t.Context(), ast.AliceID); n != 0 {
		t.Fatalf("recovery codes after removal: %d", n)
	}
	var _ store.UserFactor
}
