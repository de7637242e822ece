package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestGateBrowserFlow: an anonymous browser is sent to log in and back to
// the page it asked for; the upstream sees the verified identity and never
// the gate's cookie.
func TestGateBrowserFlow(t *testing.T) {
	in, echo := startGatedExample(t)
	b := in.newBrowser()
	res := b.authorize(in.gate+"/reports/q3?year=2026&x=a%20b", "")
	if !res.sawLogin || res.sawConsent {
		t.Errorf("login shown = %v, consent shown = %v; want a login and no consent (the gate is first-party)", res.sawLogin, res.sawConsent)
	}
	got := decodeEcho(t, res.last)
	if got.Path != "/reports/q3" || got.Query != "year=2026&x=a%20b" {
		t.Errorf("landed on %s?%s, want the page first asked for", got.Path, got.Query)
	}
	want := map[string]string{
		"X-Gatehouse-User-Id":        "alice",
		"X-Gatehouse-User":           "alice",
		"X-Gatehouse-Email":          "alice@example.com",
		"X-Gatehouse-Email-Verified": "true",
		"X-Gatehouse-Name":           "Alice Example",
		"X-Gatehouse-Groups":         "staff,admins",
		"X-Gatehouse-Auth-Source":    "session",
	}
	for h, v := range want {
		if g := got.Headers.Get(h); g != v {
			t.Errorf("upstream %s = %q, want %q", h, g, v)
		}
	}
	for _, h := range []string{"X-Gatehouse-Client-Id", "X-Gatehouse-Scopes", "Authorization"} {
		if vs := got.Headers.Values(h); len(vs) > 0 {
			t.Errorf("upstream got %s = %q, want none for a browser session", h, vs)
		}
	}
	if c := got.Headers.Get("Cookie"); strings.Contains(c, "gatehouse") {
		t.Errorf("the gate's cookie reached the upstream: %q", c)
	}

	// Signed in: the next request goes straight through.
	hits := echo.count()
	p := b.get(in.gate + "/again")
	if decodeEcho(t, p).Path != "/again" || echo.count() != hits+1 {
		t.Fatalf("second request did not go straight to the upstream: %d %s", p.status, p.url)
	}

	// An API client (no HTML accepted, no token) gets a 401 challenge
	// that points at the resource metadata (RFC 9728 §5.1).
	resp := in.request(t, http.MethodGet, in.gate+"/api/data", nil, map[string]string{"Accept": "application/json"})
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `resource_metadata="`+in.gate+`/.well-known/oauth-protected-resource"`) {
		t.Errorf("API without a token: %d, WWW-Authenticate %q", resp.StatusCode, wa)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(in.fetch(t, in.gate+"/.well-known/oauth-protected-resource")), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["resource"] != in.gate || fmt.Sprint(meta["authorization_servers"]) != "["+in.issuer+"]" ||
		fmt.Sprint(meta["bearer_methods_supported"]) != "[header]" {
		t.Errorf("protected resource metadata = %v", meta)
	}
	// A POST from a browser is an API call too: no redirect to a login.
	resp = in.request(t, http.MethodPost, in.gate+"/form", strings.NewReader("a=b"), map[string]string{"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d, want 401", resp.StatusCode)
	}
}

// TestGateStripsSpoofedHeaders: identity headers sent by the client never
// reach the upstream, for anonymous and for authenticated requests.
func TestGateStripsSpoofedHeaders(t *testing.T) {
	in, echo := startGatedExample(t)
	spoof := map[string]string{
		"X-Gatehouse-User-Id":     "mallory",
		"x-gatehouse-user":        "mallory",
		"X-GATEHOUSE-GROUPS":      "root",
		"X-Gatehouse-Client-Id":   "evil-app",
		"X-Gatehouse-Scopes":      "admin",
		"X-Gatehouse-Auth-Source": "bearer",
		"X-Gatehouse-Idp":         "corp",
		"Accept":                  "application/json",
	}
	hits := echo.count()
	resp := in.request(t, http.MethodGet, in.gate+"/anything", nil, spoof)
	if resp.StatusCode != http.StatusUnauthorized || echo.count() != hits {
		t.Fatalf("anonymous spoofed request: %d, upstream hits %d -> %d", resp.StatusCode, hits, echo.count())
	}

	b := in.newBrowser()
	decodeEcho(t, b.authorize(in.gate+"/", "").last)
	req, _ := http.NewRequest(http.MethodGet, in.gate+"/whoami", nil)
	for k, v := range spoof {
		req.Header.Set(k, v)
	}
	req.Header.Add("X-Gatehouse-Groups", "second-copy")
	r, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeEcho(t, b.read(r))
	for h, want := range map[string][]string{
		"X-Gatehouse-User-Id":     {"alice"},
		"X-Gatehouse-User":        {"alice"},
		"X-Gatehouse-Groups":      {"staff,admins"},
		"X-Gatehouse-Client-Id":   nil,
		"X-Gatehouse-Scopes":      nil,
		"X-Gatehouse-Auth-Source": {"session"},
		"X-Gatehouse-Idp":         nil, // alice signed in with her password
	} {
		if g := got.Headers.Values(h); fmt.Sprint(g) != fmt.Sprint(want) && !(len(g) == 0 && len(want) == 0) {
			t.Errorf("upstream %s = %q, want %q", h, g, want)
		}
	}
}

// TestGateCookieTampering: a modified or foreign session cookie is not a
// session.
func TestGateCookieTampering(t *testing.T) {
	in, _ := startGatedExample(t)
	b := in.newBrowser()
	decodeEcho(t, b.authorize(in.gate+"/", "").last)
	gateURL, _ := url.Parse(in.gate)
	var cookie *http.Cookie
	for _, c := range b.client.Jar.Cookies(gateURL) {
		if c.Name == "__Host-gatehouse_gate" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no __Host-gatehouse_gate cookie after login")
	}
	// flip changes the top bit of the base64url digit at i: always a
	// data bit (the last digit's low bits may be unused padding, which a
	// lenient decoder ignores, so flipping those changes nothing).
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	flip := func(s string, i int) string {
		c := byte('A')
		if d := strings.IndexByte(digits, s[i]); d >= 0 {
			c = digits[d^32]
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for name, value := range map[string]string{
		"flipped early":  flip(cookie.Value, 5),
		"flipped middle": flip(cookie.Value, len(cookie.Value)/2),
		"flipped last":   flip(cookie.Value, len(cookie.Value)-2),
		"truncated":      cookie.Value[:len(cookie.Value)-10],
		"garbage":        "not-a-cookie",
	} {
		resp := in.request(t, http.MethodGet, in.gate+"/", nil, map[string]string{
			"Accept": "application/json", "Cookie": "__Host-gatehouse_gate=" + value,
		})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s cookie: %d, want 401", name, resp.StatusCode)
		}
	}
	resp := in.request(t, http.MethodGet, in.gate+"/", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_gate=" + cookie.Value})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the genuine cookie: %d, want 200", resp.StatusCode)
	}
}

// TestGateBearer: access tokens are verified strictly: signature with an
// allowed asymmetric algorithm, typ at+jwt, iss, aud = this resource,
// expiry.
func TestGateBearer(t *testing.T) {
	in, echo := startGatedExample(t)
	ctx := in.ctx()
	// A real token for the gated resource (RFC 8707).
	cfg := in.oauthConfig(demoWeb, "openid", "email")
	v := oauth2.GenerateVerifier()
	b := in.newBrowser()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", in.gate)), "allow"), "s")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	// With openid the issuer (its userinfo) is an audience too.
	if aud := fmt.Sprint(jwtClaims(t, tok.AccessToken)["aud"]); aud != "["+in.gate+" "+in.issuer+"]" {
		t.Fatalf("access token aud = %v, want %s and the issuer", aud, in.gate)
	}
	// A token for the issuer itself (no resource) is not for the gate.
	code = mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
	otherAud, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}

	mint := in.minter(t)
	now := time.Now()
	claims := func(edit func(*token.AccessTokenClaims)) token.AccessTokenClaims {
		c := token.AccessTokenClaims{
			Issuer: in.issuer, Subject: "alice", Audience: token.Audience{in.gate}, ClientID: "demo-web",
			Scope: "openid email", Expiry: token.NewNumericDate(now.Add(5 * time.Minute)),
			IssuedAt: token.NewNumericDate(now), JWTID: "jti-" + fmt.Sprint(now.UnixNano()),
		}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	sign := func(typ string, c token.AccessTokenClaims) string {
		raw, err := mint.Sign("ES256", typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	tests := []struct {
		name       string
		header     string
		wantStatus int
		wantError  string
	}{
		{"issued by the token endpoint", "Bearer " + tok.AccessToken, 200, ""},
		{"minted with the real key", "Bearer " + sign("at+jwt", claims(nil)), 200, ""},
		{"lowercase scheme", "bearer " + tok.AccessToken, 200, ""},
		{"wrong audience", "Bearer " + otherAud.AccessToken, 401, "invalid_token"},
		{"wrong issuer", "Bearer " + sign("at+jwt", claims(func(c *token.AccessTokenClaims) { c.Issuer = "https://evil.example" })), 401, "invalid_token"},
		{"expired", "Bearer " + sign("at+jwt", claims(func(c *token.AccessTokenClaims) { c.Expiry = token.NewNumericDate(now.Add(-10 * time.Minute)) })), 401, "invalid_token"},
		{"not yet valid", "Bearer " + sign("at+jwt", claims(func(c *token.AccessTokenClaims) { c.NotBefore = token.NewNumericDate(now.Add(10 * time.Minute)) })), 401, "invalid_token"},
		{"ID token type", "Bearer " + sign("JWT", claims(nil)), 401, "invalid_token"},
		{"alg none", "Bearer " + unsignedJWT(claims(nil)), 401, "invalid_token"},
		{"HS256 keyed with the public key", "Bearer " + hmacWithPublicKey(t, in, claims(nil)), 401, "invalid_token"},
		{"tampered payload", "Bearer " + tamper(tok.AccessToken), 401, "invalid_token"},
		{"garbage", "Bearer not.a.jwt", 401, "invalid_token"},
		{"Basic credentials", "Basic YWxpY2U6cHc=", 401, "invalid_request"},
		{"empty bearer", "Bearer ", 401, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits := echo.count()
			resp := in.request(t, http.MethodGet, in.gate+"/api", nil, map[string]string{"Authorization": tc.header, "Accept": "application/json"})
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 200 {
				var got echoed
				_ = json.Unmarshal(body, &got)
				if got.Headers.Get("X-Gatehouse-Client-Id") != "demo-web" || got.Headers.Get("X-Gatehouse-Auth-Source") != "bearer" ||
					got.Headers.Get("X-Gatehouse-User-Id") != "alice" || !strings.Contains(got.Headers.Get("X-Gatehouse-Scopes"), "email") {
					t.Errorf("upstream headers = %v", got.Headers)
				}
				if got.Headers.Get("Authorization") != "" {
					t.Error("the Authorization header was forwarded")
				}
				return
			}
			if echo.count() != hits {
				t.Error("a rejected request reached the upstream")
			}
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="`+tc.wantError+`"`) || !strings.Contains(wa, "resource_metadata=") {
				t.Errorf("WWW-Authenticate = %q, want error %q and resource_metadata", wa, tc.wantError)
			}
		})
	}
}

// TestGateLogoutAndRevocation: logging out of the gate ends the issuer
// session too; a session or grant revoked elsewhere (another instance
// sharing the store) stops working within the revocation poll interval.
func TestGateLogoutAndRevocation(t *testing.T) {
	in, _ := startGatedExample(t, "revocation_poll_interval 1s")
	const bound = 1 * time.Second

	t.Run("gate logout ends the issuer session", func(t *testing.T) {
		b := in.newBrowser()
		decodeEcho(t, b.authorize(in.gate+"/", "").last)
		gateSignOut(t, b, in.gate)
		// The gate asks to log in again...
		res := b.authorize(in.gate+"/", "")
		if !res.sawLogin {
			t.Error("after logout the gate let the browser through without a login")
		}
		// ...and so would the issuer for any app.
		b2 := in.newBrowser()
		decodeEcho(t, b2.authorize(in.gate+"/", "").last)
		gateSignOut(t, b2, in.gate)
		cfg := in.oauthConfig(demoInternal)
		r := b2.authorize(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")), "")
		if r.callback == nil || r.callback.Query().Get("error") != "login_required" {
			t.Errorf("the issuer session survived the gate logout: %+v", r.callback)
		}
	})

	t.Run("issuer session revoked by another instance", func(t *testing.T) {
		b := in.newBrowser()
		decodeEcho(t, b.authorize(in.gate+"/", "").last)
		st := in.openStore(t)
		revs, err := st.RevokedSince(context.Background(), time.Now().Add(-time.Hour), time.Now(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		before := len(revs)
		sess := in.latestSession(t, st)
		if err := st.RevokeSession(context.Background(), sess, time.Now()); err != nil {
			t.Fatal(err)
		}
		revokedAt := time.Now()
		deadline := revokedAt.Add(bound + 3*time.Second)
		for {
			resp := in.request(t, http.MethodGet, in.gate+"/", nil, map[string]string{"Accept": "application/json", "Cookie": cookieHeader(b, in.gate)})
			if resp.StatusCode == http.StatusUnauthorized {
				t.Logf("revocation seen after %v (poll interval %v; %d revocations before)", time.Since(revokedAt).Round(time.Millisecond), bound, before)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gate session still works %v after its issuer session was revoked", time.Since(revokedAt))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("access token revoked at /revoke", func(t *testing.T) {
		tok, auth := in.gateToken(t, demoWeb, "openid", "email")
		form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {"demo-web"}, "client_secret": {"demo-web-secret"}}
		resp, err := in.client.PostForm(in.issuer+"/revoke", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/revoke: %d", resp.StatusCode)
		}
		t.Logf("token revocation seen after %v", in.waitRejected(t, in.gate+"/api", auth, bound).Round(time.Millisecond))
	})

	t.Run("bearer token of a revoked grant", func(t *testing.T) {
		tok, auth := in.gateToken(t, demoSPA, "openid", "offline_access")
		// Rotate, then replay the old refresh token: reuse detection
		// revokes the family, and the gate must notice.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"demo-spa"}}
		if _, st := in.postToken(form); st != 200 {
			t.Fatalf("refresh: %d", st)
		}
		if _, st := in.postToken(form); st != 400 {
			t.Fatalf("replayed refresh: %d", st)
		}
		revokedAt := time.Now()
		deadline := revokedAt.Add(bound + 3*time.Second)
		for {
			resp := in.request(t, http.MethodGet, in.gate+"/api", nil, auth)
			if resp.StatusCode == http.StatusUnauthorized {
				t.Logf("grant revocation seen after %v", time.Since(revokedAt).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the access token still works %v after its grant was revoked", time.Since(revokedAt))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// gateToken gets an access token for the gated site (RFC 8707 resource)
// through app, checks that the gate accepts it, and returns it with the
// headers that present it.
func (in *instance) gateToken(t *testing.T, app demoApp, scopes ...string) (*oauth2.Token, map[string]string) {
	t.Helper()
	cfg := in2oauth(in, app.id, app.secret, scopes...)
	v := oauth2.GenerateVerifier()
	code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", in.gate)), "allow"), "s")
	tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"}
	if resp := in.request(t, http.MethodGet, in.gate+"/api", nil, auth); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	return tok, auth
}

// waitRejected polls the gate with headers until it answers 401, failing
// after bound plus a margin; it returns how long that took.
func (in *instance) waitRejected(t *testing.T, url string, headers map[string]string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp := in.request(t, http.MethodGet, url, nil, headers)
		if resp.StatusCode == http.StatusUnauthorized {
			return time.Since(start)
		}
		if time.Since(start) > bound+3*time.Second {
			t.Fatalf("still accepted %v after revocation (bound %v)", time.Since(start), bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// latestSession returns the id hash of the newest issuer session, read
// from the database the way an operator's SQL would.
func (in *instance) latestSession(t *testing.T, _ store.Store) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+in.gatehouseData("gatehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.QueryRow(`SELECT id_hash FROM gatehouse_sessions ORDER BY created_at DESC LIMIT 1`).Scan(&hash); err != nil {
		t.Fatalf("reading the newest session: %v", err)
	}
	return hash
}
