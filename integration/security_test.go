package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The OAuth 2.0 Security BCP (RFC 9700 §4) and OpenID Connect Core §16,
// one test per defence that other files do not already prove. SECURITY.md
// maps each attack to its test.

// fetchHeaders GETs rawURL in b (keeping its cookies) and returns the
// response headers and status.
func (b *browser) fetchHeaders(rawURL string) (http.Header, int) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header, resp.StatusCode
}

// TestTokenResponsesNotCached: every JSON answer about tokens, errors
// included, carries Cache-Control: no-store (RFC 6749 §5.1), so no cache
// or history keeps a credential (RFC 9700 §4.3). Pages: TestPageSecurityHeaders.
func TestTokenResponsesNotCached(t *testing.T) {
	in := startExample(t)
	for _, path := range []string{"/token", "/introspect", "/revoke", "/userinfo"} {
		resp := in.request(t, http.MethodPost, in.issuer+path, strings.NewReader("token=x"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
		}
	}
	tok := in.tokensFor(t, in.newBrowser(), demoWeb, "openid", "offline_access")
	for name, do := range map[string]func() *http.Response{
		"token": func() *http.Response {
			return in.request(t, http.MethodPost, in.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {tok.RefreshToken}, "client_id": {demoWeb.id}, "client_secret": {demoWeb.secret}}.Encode()),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		},
		"userinfo": func() *http.Response {
			return in.request(t, http.MethodGet, in.issuer+"/userinfo", nil, map[string]string{"Authorization": "Bearer " + tok.AccessToken})
		},
	} {
		if resp := do(); resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("successful %s: %d, Cache-Control %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestMixUpDefence: authorization responses, successful or not, name
// their issuer (RFC 9207, RFC 9700 §4.4.2), discovery says so, and the
// gate refuses a response that names another issuer.
func TestMixUpDefence(t *testing.T) {
	in, _ := startGatedExample(t)
	var meta map[string]any
	if err := json.Unmarshal([]byte(in.getBody("/.well-known/openid-configuration")), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["authorization_response_iss_parameter_supported"] != true {
		t.Error("discovery does not advertise the iss parameter")
	}
	cfg := in.oauthConfig(demoInternal)
	ok := in.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "")
	denied := in.newBrowser().authorize(in.oauthConfig(demoWeb).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "deny")
	for name, res := range map[string]authorizeResult{"code": ok, "error": denied} {
		if res.callback == nil || res.callback.Query().Get("iss") != in.issuer {
			t.Errorf("%s response: iss missing or wrong: %v", name, res.callback)
		}
	}

	// The gate: a login in progress, answered by "another issuer".
	b, _ := in.recordingBrowser("/authorize")
	state := gateLoginState(t, b, in.gate+"/private")
	p := b.get(in.gate + "/.gatehouse/callback?" + url.Values{"state": {state}, "code": {"gh_ac_from_elsewhere"}, "iss": {"https://evil.example"}}.Encode())
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "unexpected identity provider") {
		t.Errorf("callback with a foreign iss: %d", p.status)
	}
	if h, st := b.fetchHeaders(in.gate + "/private"); st != http.StatusFound || !strings.Contains(h.Get("Location"), "/authorize?") {
		t.Errorf("after the refused callback the gate let the browser in: %d", st)
	}
}

// gateLoginState starts a gate login in b (which must stop at the
// authorization endpoint) and returns the state the gate sent.
func gateLoginState(t *testing.T, b *browser, page string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, page, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("the gate did not start a login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("state")
}

// TestCodeInjection: a stolen or foreign authorization code cannot be
// injected into another client session (RFC 9700 §4.5): PKCE binds the
// code to the verifier of the session that asked for it, at the token
// endpoint and at the gate.
func TestCodeInjection(t *testing.T) {
	in, echo := startGatedExample(t)
	cfg := in.oauthConfig(demoSPA)
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	attackerVerifier, victimVerifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(attackerVerifier)), "allow"), "s")
	// The victim's client redeems the injected code with its own verifier.
	if _, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(victimVerifier)); err == nil {
		t.Fatal("an injected code was redeemed with another session's verifier")
	}

	// At the gate: the attacker's browser gets a code for the gate's
	// callback, and the victim's browser is made to deliver it along
	// with the victim's own state (the strongest attacker: one who knows
	// it). The gate redeems it with the victim's verifier, which fails.
	attacker, _ := in.recordingBrowser("/.gatehouse/callback")
	res := attacker.authorize(in.gate+"/", "")
	if res.callback == nil || res.callback.Query().Get("code") == "" {
		t.Fatalf("the attacker got no gate code: %+v", res.last)
	}
	stolen := res.callback.Query().Get("code")
	victim, _ := in.recordingBrowser("/authorize")
	state := gateLoginState(t, victim, in.gate+"/")
	hits := echo.count()
	p := victim.get(in.gate + "/.gatehouse/callback?" + url.Values{"state": {state}, "code": {stolen}, "iss": {in.issuer}}.Encode())
	if p.status < 400 || echo.count() != hits {
		t.Fatalf("the injected code signed the victim in: %d", p.status)
	}
	if _, st := victim.fetchHeaders(in.gate + "/"); st != http.StatusFound {
		t.Errorf("the victim has a gate session after the injection: %d", st)
	}
	// And without the victim's state the code is not even tried.
	p = victim.get(in.gate + "/.gatehouse/callback?" + url.Values{"state": {res.callback.Query().Get("state")}, "code": {stolen}}.Encode())
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "expired") {
		t.Errorf("a callback with the attacker's state: %d", p.status)
	}
}

// TestPKCEDowngrade: a code issued without a code_challenge cannot be
// redeemed with a code_verifier (RFC 9700 §4.8.2), and one issued with a
// challenge needs the verifier.
func TestPKCEDowngrade(t *testing.T) {
	in := startExample(t)
	cfg := in.oauthConfig(demoWeb)
	verifier := oauth2.GenerateVerifier()
	code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s"), "allow"), "s")
	if _, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code issued without PKCE was redeemed with a code_verifier")
	}
	code = mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "allow"), "s")
	var re *oauth2.RetrieveError
	if _, err := cfg.Exchange(in.ctx(), code); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("a PKCE code without its verifier: %v", err)
	}
	if _, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("the failed attempt burnt the code: %v", err)
	}
}

// TestCSRFDefences: the consent form needs its CSRF token and the
// browser's CSRF cookie (RFC 9700 §4.7 for the authorization server's own
// forms); the gate's callback needs the state of a login this browser
// started (§4.7.1). Login's form: TestLoginFailures.
func TestCSRFDefences(t *testing.T) {
	in, _ := startGatedExample(t)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoWeb)
	login := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	consent := b.submit(login, map[string]string{"username": "alice", "password": alicePassword})
	if len(consent.forms) != 1 || !strings.HasSuffix(consent.url.Path, "/consent") {
		t.Fatalf("not on the consent page: %s", consent.url)
	}
	fields := consent.forms[0].fields
	forged := url.Values{"ar": {fields.Get("ar")}, "decision": {"allow"}}
	if p := b.post(in.issuer+"/consent", forged); p.status != http.StatusForbidden || p.location != "" {
		t.Errorf("consent without the CSRF token: %d %q", p.status, p.location)
	}
	forged.Set("csrf", "AAAA"+fields.Get("csrf")[4:])
	if p := b.post(in.issuer+"/consent", forged); p.status != http.StatusForbidden || p.location != "" {
		t.Errorf("consent with a wrong CSRF token: %d %q", p.status, p.location)
	}
	// The right token from another browser (no CSRF cookie, nor the
	// session) does not work either.
	other := in.newBrowser()
	if p := other.submit(consent, nil, "decision", "allow"); p.location != "" {
		t.Errorf("consent posted from another browser redirected to %q", p.location)
	}
	if p := b.submit(consent, nil, "decision", "allow"); !strings.Contains(p.location, "code=") {
		t.Fatalf("the genuine consent failed: %d %q", p.status, p.location)
	}
	// A gate callback whose state no login of this browser started.
	p := in.newBrowser().get(in.gate + "/.gatehouse/callback?state=" + strings.Repeat("s", 43) + "&code=gh_ac_x")
	if p.status != http.StatusBadRequest {
		t.Errorf("gate callback with a foreign state: %d", p.status)
	}
}

// TestRedirectsAfterPOSTAre303: no response to a POST is a 307 or 308,
// which would make the browser re-post the credentials to the next hop
// (RFC 9700 §4.12): a POSTed authorization request, login and consent.
func TestRedirectsAfterPOSTAre303(t *testing.T) {
	in := startExample(t)
	b, rec := in.recordingBrowser("")
	cfg := in.oauthConfig(demoWeb)
	authURL, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	// The authorization request itself as a POST (OIDC Core §3.1.2.1),
	// then login and consent.
	p := b.post(in.issuer+"/authorize", authURL.Query())
	if !strings.HasSuffix(p.url.Path, "/login") {
		t.Fatalf("POST /authorize did not lead to the login page: %s", p.url)
	}
	p = b.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	if p = b.submit(p, nil, "decision", "allow"); !strings.Contains(p.location, "code=") {
		t.Fatalf("no code: %d %q", p.status, p.location)
	}
	posts := 0
	for _, h := range rec.hops {
		if h.method != http.MethodPost || h.status < 300 || h.status >= 400 {
			continue
		}
		posts++
		if h.status != http.StatusSeeOther {
			t.Errorf("POST %s answered %d (to %s), want 303", h.url, h.status, h.location)
		}
	}
	if posts < 3 {
		t.Errorf("only %d redirected POSTs seen; the flow did not run as expected", posts)
	}
}

// TestTransportSecurity: every cookie is __Host- prefixed, Secure,
// HttpOnly and SameSite=Lax (Strict for the device cookie, which only the
// issuer's own login form needs; host-only, https-only, RFC 6265bis), and
// the issuer's TLS port serves nothing over plain http (RFC 9700 §4.13,
// §5: TLS everywhere). HSTS: TestHSTS; http issuers: TestProvisionErrors.
func TestTransportSecurity(t *testing.T) {
	in, _ := startGatedExample(t)
	b, rec := in.recordingBrowser("")
	decodeEcho(t, b.authorize(in.gate+"/", "").last)
	mustCode(t, b.authorize(in.oauthConfig(demoWeb).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "allow"), "s")
	seen := map[string]bool{}
	for _, h := range rec.hops {
		for _, sc := range h.setCookies {
			name, _, _ := strings.Cut(sc, "=")
			seen[name] = true
			attrs := strings.ToLower(sc)
			sameSite := "; samesite=lax"
			if name == "__Host-gatehouse_device" {
				sameSite = "; samesite=strict"
			}
			if !strings.HasPrefix(name, "__Host-") || !strings.Contains(attrs, "; secure") || !strings.Contains(attrs, "; httponly") ||
				!strings.Contains(attrs, sameSite) || !strings.Contains(attrs, "; path=/") || strings.Contains(attrs, "domain=") {
				t.Errorf("cookie set without the expected attributes: %s", sc)
			}
		}
	}
	for _, want := range []string{"__Host-gatehouse_session", "__Host-gatehouse_csrf", "__Host-gatehouse_gate", "__Host-gatehouse_device"} {
		if !seen[want] {
			t.Errorf("cookie %s was never set (seen %v)", want, seen)
		}
	}

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", in.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n", in.port)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("plain http to the TLS port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "issuer") {
		t.Errorf("plain http to the TLS port: %d %s", resp.StatusCode, body)
	}
}

// TestAccessTokenAudienceRestriction: access tokens are short-lived and
// audience-restricted (RFC 9700 §4.10.1, RFC 9068 §4): aud is the
// requested resource (RFC 8707), and the gate accepts only tokens for its
// own resource, so a token given to one resource server cannot be
// replayed at another. They are not sender-constrained (no DPoP or mTLS),
// and userinfo, as OpenID Connect clients expect, takes any of the
// issuer's access tokens with openid: SECURITY.md.
func TestAccessTokenAudienceRestriction(t *testing.T) {
	in, echo := startGatedExample(t)
	tokenFor := func(resource string) string {
		cfg := in.oauthConfig(demoWeb, "openid", "email")
		v := oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
		if resource != "" {
			opts = append(opts, oauth2.SetAuthURLParam("resource", resource))
		}
		code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s", opts...), "allow"), "s")
		tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	forGate, forAPI, forIssuer := tokenFor(in.gate), tokenFor("https://api.example/"), tokenFor("")
	for name, tc := range map[string]struct {
		token, aud string
		gate       int
	}{
		// With openid the issuer (its userinfo) is an audience beside the
		// resource asked for.
		"for the gate":                 {forGate, "[" + in.gate + " " + in.issuer + "]", http.StatusOK},
		"for another resource":         {forAPI, "[https://api.example " + in.issuer + "]", http.StatusUnauthorized}, // in normal form
		"for the issuer (no resource)": {forIssuer, in.issuer, http.StatusUnauthorized},
	} {
		c := jwtClaims(t, tc.token)
		if fmt.Sprint(c["aud"]) != tc.aud {
			t.Errorf("%s: aud = %v, want %s", name, c["aud"], tc.aud)
		}
		if life := c["exp"].(float64) - c["iat"].(float64); life != 600 {
			t.Errorf("%s: lifetime %vs, want the 10 minute default", name, life)
		}
		hits := echo.count()
		resp := in.request(t, http.MethodGet, in.gate+"/api", nil, map[string]string{"Authorization": "Bearer " + tc.token, "Accept": "application/json"})
		if resp.StatusCode != tc.gate || (tc.gate != http.StatusOK && echo.count() != hits) {
			t.Errorf("%s at the gate: %d, want %d", name, resp.StatusCode, tc.gate)
		}
	}
}

// TestGateReturnIsNotAnOpenRedirect: where the gate sends a browser after
// login comes from the page first asked for, and only ever stays on the
// site (RFC 9700 §4.11).
func TestGateReturnIsNotAnOpenRedirect(t *testing.T) {
	in, _ := startGatedExample(t)
	for _, path := range []string{"//evil.example/x", "/\\evil.example/x", "/%2F%2Fevil.example"} {
		b, rec := in.recordingBrowser("")
		res := b.authorize(in.gate+path, "")
		for _, h := range rec.hops {
			base, _ := url.Parse(h.url)
			loc, err := url.Parse(h.location)
			if h.location == "" {
				continue
			}
			if err != nil || base.ResolveReference(loc).Hostname() != "localhost" {
				t.Errorf("%s: redirected to %q", path, h.location)
			}
		}
		if res.last == nil || res.last.url.Hostname() != "localhost" {
			t.Errorf("%s: ended at %v", path, res.last)
		}
	}
}

// TestNoSilentRedirectToSelfRegisteredClients: anyone may register a
// client under `registration open`, with any https redirect URI; the
// issuer must not become a redirector to it (RFC 9700 §4.18). Errors of
// such clients are shown as a page until the user has seen the consent
// page; operator-registered clients keep the redirect RFC 6749 requires.
func TestNoSilentRedirectToSelfRegisteredClients(t *testing.T) {
	in := startExample(t, "registration open")
	reg := call(t, in.client, http.MethodPost, in.issuer+"/register", map[string]any{
		"client_name": "Totally Legit", "redirect_uris": []string{"https://phish.example/cb"}}, nil)
	var rr struct {
		ClientID string `json:"client_id"`
	}
	mustJSONBody(t, reg, &rr)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	request := func(clientID, redirectURI string, edit func(url.Values)) url.Values {
		v := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "state": {"s"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		if edit != nil {
			edit(v)
		}
		return v
	}
	for name, edit := range map[string]func(url.Values){
		"invalid scope":           func(v url.Values) { v.Set("scope", "openid admin") },
		"implicit flow":           func(v url.Values) { v.Set("response_type", "token") },
		"prompt=none, no session": func(v url.Values) { v.Set("prompt", "none") },
	} {
		p := in.newBrowser().get(in.issuer + "/authorize?" + request(rr.ClientID, "https://phish.example/cb", edit).Encode())
		if p.location != "" || p.status != http.StatusBadRequest || !strings.Contains(p.body, "<html") {
			t.Errorf("self-registered client, %s: %d, Location %q; want the error page", name, p.status, p.location)
		}
		// The same error for an operator's client is redirected.
		q := in.newBrowser().get(in.issuer + "/authorize?" + request("demo-spa", "http://127.0.0.1:9/callback", edit).Encode())
		if !strings.Contains(q.location, "error=") {
			t.Errorf("operator's client, %s: %d, Location %q; want the error redirected", name, q.status, q.location)
		}
	}
	// After the consent page, where the user saw who is asking, a refusal
	// goes back to the client as usual.
	b, _ := in.recordingBrowser("/cb")
	res := b.authorize(in.issuer+"/authorize?"+request(rr.ClientID, "https://phish.example/cb", nil).Encode(), "")
	if !res.sawConsent {
		t.Fatalf("no consent page for the self-registered client: %d %s", res.last.status, res.last.url)
	}
	denied := b.submit(res.last, nil, "decision", "deny")
	if !strings.HasPrefix(denied.location, "https://phish.example/cb?") || !strings.Contains(denied.location, "error=access_denied") {
		t.Errorf("denied consent: Location %q", denied.location)
	}
}
