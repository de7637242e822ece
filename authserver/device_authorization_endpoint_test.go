package authserver_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Clients of the device flow tests.
const (
	tvApp          = "tv-app" // third_party_public
	tvAppName      = "Living Room TV"
	tvService      = "tv-service" // first_party, confidential
	tvServiceSecet = "tv-service-secret-0123456789abcdef"
)

func deviceFixture(t *testing.T, enabled bool) *ast.Fixture {
	t.Helper()
	grants := []string{clients.GrantDeviceCode, clients.GrantRefreshToken}
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{
			{ID: tvApp, Metadata: clients.Metadata{Name: tvAppName, Type: clients.ThirdPartyPublic, GrantTypes: grants,
				Scopes: []string{"openid", "profile", "offline_access"}}},
			{ID: tvService, SecretHashes: []string{clients.HashSecret(tvServiceSecet)}, Metadata: clients.Metadata{
				Name: "TV Service", Type: clients.FirstParty, GrantTypes: grants}},
		},
		Secrets:   map[string]string{tvService: tvServiceSecet},
		Configure: func(c *authserver.Config) { c.DeviceAuthorization = enabled },
	})
}

type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

var userCodeForm = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func startDevice(t *testing.T, f *ast.Fixture, client string, form url.Values) deviceAuthorization {
	t.Helper()
	res := f.ClientPost(t, "/device_authorization", client, form)
	if res.Code != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("device authorization: %s", res)
	}
	var d deviceAuthorization
	res.JSON(&d)
	return d
}

func poll(t *testing.T, f *ast.Fixture, client, deviceCode string) *ast.Response {
	t.Helper()
	return f.ClientPost(t, "/token", client, url.Values{"grant_type": {clients.GrantDeviceCode}, "device_code": {deviceCode}})
}

// approve answers the device request with code in browser b: the page
// must ask "Is this your code?" naming the app before anything happens.
func approve(t *testing.T, b *ast.Browser, code, decision string) *ast.Response {
	t.Helper()
	page := b.Follow(b.Get("/device?" + url.Values{"user_code": {strings.ToLower(code)}}.Encode()))
	text := pageText(page)
	if page.Code != http.StatusOK || !strings.Contains(text, "Is this your code?") || !strings.Contains(text, code) {
		t.Fatalf("no confirmation page for %s: %s", code, page)
	}
	res := b.Submit(page, "/device", url.Values{"decision": {decision}})
	if res.Code != http.StatusOK {
		t.Fatalf("answering %s: %s", decision, res)
	}
	wantPageHeaders(t, res)
	return res
}

// TestDeviceFlow: RFC 8628 from start to tokens. The device polls too
// early (authorization_pending), too fast (slow_down, and the interval
// grows by 5 s), the user signs in, confirms the code and allows; the
// device gets tokens once.
func TestDeviceFlow(t *testing.T) {
	f := deviceFixture(t, true)
	d := startDevice(t, f, tvApp, query("scope", "openid profile offline_access"))
	if !userCodeForm.MatchString(d.UserCode) || d.VerificationURI != ast.Issuer+"/device" || d.ExpiresIn != 600 || d.Interval != 5 ||
		d.VerificationURIComplete != ast.Issuer+"/device?user_code="+d.UserCode || !strings.HasPrefix(d.DeviceCode, "gh_dc_") {
		t.Fatalf("device authorization response %+v", d)
	}
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "authorization_pending")
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "slow_down")
	f.Clock.Advance(6 * time.Second)
	// The interval is 10 s now: 6 s is still too fast.
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "slow_down")
	f.Clock.Advance(16 * time.Second)
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "authorization_pending")
	// A second's jitter on the interval is forgiven.
	f.Clock.Advance(15*time.Second + 100*time.Millisecond)
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "authorization_pending")

	b := f.NewBrowser(t)
	// Not signed in: the login comes first, then back to the code.
	login := b.Follow(b.Get("/device?user_code=" + d.UserCode))
	if !b.OnPage(login, "/login") {
		t.Fatalf("/device without a session did not ask for a login: %s", login)
	}
	confirm := b.Login(login)
	if text := pageText(confirm); !strings.Contains(text, "Is this your code?") || !strings.Contains(text, d.UserCode) || !strings.Contains(text, tvAppName) {
		t.Fatalf("after the login, no confirmation of the code: %s", confirm)
	}
	done := b.Submit(confirm, "/device", url.Values{"decision": {"allow"}})
	if !strings.Contains(pageText(done), "Device connected") {
		t.Fatalf("allowing: %s", done)
	}
	f.Clock.Advance(20 * time.Second)
	tok := tokensOf(t, poll(t, f, tvApp, d.DeviceCode))
	if tok.RefreshToken == "" || tok.IDToken == "" || tok.Scope != "openid profile offline_access" {
		t.Errorf("tokens %+v", tok)
	}
	if c := ast.Claims(t, tok.AccessToken); c["sub"] != ast.AliceID || c["client_id"] != tvApp {
		t.Errorf("access token claims %v", c)
	}
	if _, err := f.Store.GetConsent(t.Context(), ast.AliceID, tvApp); err != nil {
		t.Errorf("allowing a third-party app recorded no consent: %v", err)
	}
	f.Clock.Advance(20 * time.Second)
	wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "invalid_grant")
	// The refresh token works like any other.
	if next := f.Refresh(t, tvApp, tok.RefreshToken); next.AccessToken == "" {
		t.Error("refresh failed")
	}
}

// TestDeviceFlowEndings: denied, expired, the code used by another
// client, and a confidential client's own request.
func TestDeviceFlowEndings(t *testing.T) {
	f := deviceFixture(t, true)
	b := f.NewBrowser(t)
	b.SignIn()

	t.Run("denied", func(t *testing.T) {
		d := startDevice(t, f, tvApp, nil)
		res := approve(t, b.For(t), d.UserCode, "deny")
		if !strings.Contains(pageText(res), "Request denied") {
			t.Errorf("denying: %s", res)
		}
		wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "access_denied")
	})
	t.Run("expired", func(t *testing.T) {
		d := startDevice(t, f, tvApp, nil)
		f.Clock.Advance(10*time.Minute + time.Second)
		wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "expired_token")
		page := b.For(t).Get("/device?user_code=" + d.UserCode)
		if page.Code != http.StatusBadRequest || !strings.Contains(pageText(page), "not valid or has expired") {
			t.Errorf("an expired code at /device: %s", page)
		}
	})
	t.Run("another client polls", func(t *testing.T) {
		d := startDevice(t, f, tvApp, nil)
		wantJSONError(t, poll(t, f, tvService, d.DeviceCode), 400, "invalid_grant")
		// The rightful device is unaffected.
		wantJSONError(t, poll(t, f, tvApp, d.DeviceCode), 400, "authorization_pending")
	})
	t.Run("confidential client, first party", func(t *testing.T) {
		d := startDevice(t, f, tvService, query("scope", "openid", "resource", "https://api.example/"))
		approve(t, b.For(t), d.UserCode, "allow")
		tok := tokensOf(t, poll(t, f, tvService, d.DeviceCode))
		if c := ast.Claims(t, tok.AccessToken); c["client_id"] != tvService {
			t.Errorf("claims %v", c)
		}
		if tok.RefreshToken != "" {
			t.Error("a refresh token without offline_access")
		}
		if _, err := f.Store.GetConsent(t.Context(), ast.AliceID, tvService); err == nil {
			t.Error("a first-party app's approval recorded a consent")
		}
	})
	t.Run("a code answered twice", func(t *testing.T) {
		d := startDevice(t, f, tvApp, nil)
		page := b.For(t).Get("/device?user_code=" + d.UserCode)
		approve(t, b.For(t), d.UserCode, "allow")
		// The first confirmation page, submitted again, changes nothing.
		res := b.For(t).Submit(page, "/device", url.Values{"decision": {"deny"}})
		if res.Code != http.StatusBadRequest || !strings.Contains(pageText(res), "already been used") {
			t.Errorf("a second answer: %s", res)
		}
		f.Clock.Advance(time.Minute)
		tokensOf(t, poll(t, f, tvApp, d.DeviceCode))
	})
}

// TestDeviceAuthorizationRefused: the endpoint's refusals (RFC 8628
// §3.1 with RFC 6749 §5.2 codes), and the token endpoint's for bad polls.
func TestDeviceAuthorizationRefused(t *testing.T) {
	f := deviceFixture(t, true)
	tests := []struct {
		name   string
		client string
		edit   url.Values
		status int
		code   string
	}{
		{"client without the grant", ast.FirstPartyPublic, nil, 400, "unauthorized_client"},
		{"scope not allowed", tvApp, query("scope", "email"), 400, "invalid_scope"},
		{"malformed scope", tvApp, query("scope", "a\x01"), 400, "invalid_scope"},
		{"relative resource", tvApp, query("resource", "/api"), 400, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantJSONError(t, f.ClientPost(t, "/device_authorization", tc.client, tc.edit), tc.status, tc.code)
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		wantJSONError(t, f.Serve(t, f.NewRequest(http.MethodPost, "/device_authorization", query("client_id", "nobody"))), 401, "invalid_client")
	})
	t.Run("confidential client without its secret", func(t *testing.T) {
		wantJSONError(t, f.Serve(t, f.NewRequest(http.MethodPost, "/device_authorization", query("client_id", tvService))), 401, "invalid_client")
	})
	t.Run("polls", func(t *testing.T) {
		wantJSONError(t, f.ClientPost(t, "/token", tvApp, query("grant_type", clients.GrantDeviceCode)), 400, "invalid_request")
		wantJSONError(t, poll(t, f, tvApp, "gh_dc_unknown"), 400, "invalid_grant")
		wantJSONError(t, poll(t, f, ast.FirstPartyPublic, "gh_dc_unknown"), 400, "unauthorized_client")
	})
}

// TestDeviceOff: without the option, nothing of the grant exists.
func TestDeviceOff(t *testing.T) {
	f := deviceFixture(t, false)
	if res := f.ClientPost(t, "/device_authorization", tvApp, nil); res.Code != http.StatusNotFound {
		t.Errorf("/device_authorization: %d", res.Code)
	}
	if res := f.Get(t, "/device"); res.Code != http.StatusNotFound {
		t.Errorf("/device: %d", res.Code)
	}
	wantJSONError(t, poll(t, f, tvApp, "gh_dc_x"), 400, "unsupported_grant_type")
	var m map[string]any
	f.Get(t, "/.well-known/openid-configuration").JSON(&m)
	if _, ok := m["device_authorization_endpoint"]; ok || strings.Contains(ast.Issuer, "device") {
		t.Errorf("discovery advertises the device grant: %v", m["device_authorization_endpoint"])
	}
	on := deviceFixture(t, true)
	on.Get(t, "/.well-known/openid-configuration").JSON(&m)
	if m["device_authorization_endpoint"] != ast.Issuer+"/device_authorization" || !strings.Contains(strings.Join(toStrings(m["grant_types_supported"]), " "), clients.GrantDeviceCode) {
		t.Errorf("discovery with the device grant: %v %v", m["device_authorization_endpoint"], m["grant_types_supported"])
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestDeviceUserCodeEntry: codes are read as people type them, wrong ones
// are throttled per account (RFC 8628 §5.1), and a form without its CSRF
// token is refused.
func TestDeviceUserCodeEntry(t *testing.T) {
	f := deviceFixture(t, true)
	b := f.NewBrowser(t)
	b.SignIn()
	d := startDevice(t, f, tvApp, nil)
	entry := b.Get("/device")
	if !b.OnPage(entry, "/device") || !strings.Contains(pageText(entry), "Device code") {
		t.Fatalf("entry page: %s", entry)
	}
	spaced := strings.ToLower(strings.ReplaceAll(d.UserCode, "-", " "))
	res := b.Submit(entry, "/device", url.Values{"user_code": {spaced}, "decision": {"lookup"}})
	if !strings.Contains(pageText(res), "Is this your code?") || !strings.Contains(pageText(res), d.UserCode) {
		t.Errorf("a code typed in lower case with a space: %s", res)
	}
	if res := b.Submit(entry, "/device", url.Values{"user_code": {"AEIO-UAEI"}, "decision": {"lookup"}}); res.Code != http.StatusBadRequest ||
		!strings.Contains(pageText(res), "8 letters") {
		t.Errorf("a code with vowels: %s", res)
	}
	if res := b.Post("/device", url.Values{"user_code": {d.UserCode}, "decision": {"allow"}}); res.Code != http.StatusForbidden {
		t.Errorf("a post without the CSRF token: %s", res)
	}
	got, err := f.Store.GetDeviceAuthorizationByUserCode(t.Context(), hashOfUserCode(d.UserCode))
	if err != nil || got.Status != store.DevicePending {
		t.Fatalf("the request changed: %+v %v", got, err)
	}
	// Wrong codes: five, then the account waits, even for a right one.
	var last *ast.Response
	for range 6 {
		last = b.Submit(entry, "/device", url.Values{"user_code": {"BBBB-BBBB"}, "decision": {"lookup"}})
		f.Clock.Advance(20 * time.Second)
	}
	if last.Code != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("the sixth wrong code: %s", last)
	}
	if res := b.Submit(entry, "/device", url.Values{"user_code": {d.UserCode}, "decision": {"lookup"}}); res.Code != http.StatusTooManyRequests {
		t.Errorf("a right code while locked: %s", res)
	}
}

func hashOfUserCode(code string) string {
	sum := sha256.Sum256([]byte(strings.ReplaceAll(code, "-", "")))
	return hex.EncodeToString(sum[:])
}

// TestDeviceCrossSiteLink: /device?user_code=... loaded from another site
// only fills the form in, so another site cannot spend the user's wrong
// code allowance (and lock their code entry) through their browser.
func TestDeviceCrossSiteLink(t *testing.T) {
	f := deviceFixture(t, true)
	b := f.NewBrowser(t)
	b.SignIn()
	for range 10 {
		r := f.NewRequest(http.MethodGet, "/device?user_code=BBBB-BBBB", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		res := b.Do(r)
		if res.Code != http.StatusOK || !strings.Contains(pageText(res), "Connect a device") || !strings.Contains(res.Body, `value="BBBB-BBBB"`) {
			t.Fatalf("a cross-site link: %s", res)
		}
	}
	d := startDevice(t, f, tvApp, nil)
	approve(t, b, d.UserCode, "allow") // not throttled: nothing was counted
}

// TestDeviceMFARequired: the device grant honours the app's second-factor
// policy. A password-only session cannot approve a code for an app that
// requires two-step verification (no tokens, nothing recorded); the same
// user signed in with a second factor can.
func TestDeviceMFARequired(t *testing.T) {
	grants := []string{clients.GrantDeviceCode}
	strictTV := &clients.Client{ID: "strict-tv", MFA: factor.Required, Metadata: clients.Metadata{
		Name: "Strict TV", Type: clients.FirstPartyPublic, GrantTypes: grants, Scopes: []string{"openid"}}}
	f := ast.New(t, ast.Options{MFA: factor.Optional, Clients: []*clients.Client{strictTV},
		Configure: func(c *authserver.Config) { c.DeviceAuthorization = true }})

	d := startDevice(t, f, "strict-tv", query("scope", "openid"))
	b := f.NewBrowser(t)
	confirm := b.Login(b.Follow(b.Get("/device?user_code=" + d.UserCode)))
	refused := b.Submit(confirm, "/device", url.Values{"decision": {"allow"}})
	if refused.Code != http.StatusForbidden || !strings.Contains(pageText(refused), "needs two-step verification") {
		t.Fatalf("a password-only session approved a code for an MFA-required app: %s", refused)
	}
	f.Clock.Advance(10 * time.Second)
	wantJSONError(t, poll(t, f, "strict-tv", d.DeviceCode), 400, "authorization_pending")

	// With a second factor: enrol on the account page, sign in again
	// with the code, approve.
	secret, _ := enrolTOTP(t, f, b)
	mfa := f.NewBrowser(t)
	login := mfa.Follow(mfa.Get("/device?user_code=" + d.UserCode))
	step := mfa.Login(login)
	if !mfa.OnPage(step, "/login/factor") {
		t.Fatalf("a user with a factor was not asked for it: %s", step)
	}
	f.Clock.Advance(30 * time.Second)
	confirm = mfa.Follow(submitCode(mfa, step, codeAt(t, secret, f.Clock.Now())))
	if done := mfa.Submit(confirm, "/device", url.Values{"decision": {"allow"}}); !strings.Contains(pageText(done), "Device connected") {
		t.Fatalf("an MFA session could not approve: %s", done)
	}
	f.Clock.Advance(10 * time.Second)
	if tok := tokensOf(t, poll(t, f, "strict-tv", d.DeviceCode)); tok.AccessToken == "" {
		t.Error("no tokens after the MFA approval")
	}
}
