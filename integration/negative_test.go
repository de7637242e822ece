package integration

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestAuthorizeRejects: every malformed or hostile authorization request
// gets the exact outcome: an error page (never a redirect) when the client
// or redirect URI cannot be trusted, otherwise a redirect of the error to
// the registered redirect URI with state and iss. No code is ever issued.
func TestAuthorizeRejects(t *testing.T) {
	in := startExample(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	good := func() url.Values {
		return url.Values{
			"response_type":         {"code"},
			"client_id":             {"demo-spa"},
			"redirect_uri":          {"http://127.0.0.1:5555/callback"},
			"scope":                 {"openid email"},
			"state":                 {"xyz"},
			"code_challenge":        {challenge},
			"code_challenge_method": {"S256"},
		}
	}
	// cliRedirect makes the request demo-cli's (first-party public, a
	// loopback redirect URI on any port) with the given redirect_uri.
	cliRedirect := func(uri string) func(url.Values) {
		return func(v url.Values) { v.Set("client_id", "demo-cli"); v.Set("redirect_uri", uri) }
	}
	tests := []struct {
		name   string
		change func(v url.Values)
		// wantPage: an error page with status 400 and no redirect.
		wantPage bool
		// wantError: the error code redirected to the client.
		wantError string
		wantState string // defaults to "xyz"
	}{
		{name: "missing client_id", change: func(v url.Values) { v.Del("client_id") }, wantPage: true},
		{name: "unknown client_id", change: func(v url.Values) { v.Set("client_id", "nope") }, wantPage: true},
		{name: "unregistered redirect_uri", change: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/callback") }, wantPage: true},
		{name: "loopback other path", change: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:5555/other") }, wantPage: true},
		{name: "loopback prefix trick", change: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:5555/callback/../evil") }, wantPage: true},
		{name: "localhost name is not the IP", change: func(v url.Values) { v.Set("redirect_uri", "http://localhost:5555/callback") }, wantPage: true},
		{name: "redirect_uri with fragment", change: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:5555/callback#x") }, wantPage: true},
		{name: "redirect_uri with userinfo", change: func(v url.Values) { v.Set("redirect_uri", "http://evil@127.0.0.1:5555/callback") }, wantPage: true},
		{name: "https instead of http", change: func(v url.Values) { v.Set("redirect_uri", "https://127.0.0.1:5555/callback") }, wantPage: true},
		// "Any port" on loopback means a real port: 1-65535, no leading
		// zeros (RFC 8252 §7.3; RFC 3986 §3.2.3).
		{name: "loopback port 0", change: cliRedirect("http://127.0.0.1:0/callback"), wantPage: true},
		{name: "loopback port 99999", change: cliRedirect("http://127.0.0.1:99999/callback"), wantPage: true},
		{name: "loopback port 00080", change: cliRedirect("http://127.0.0.1:00080/callback"), wantPage: true},
		{name: "loopback port 65536", change: cliRedirect("http://127.0.0.1:65536/callback"), wantPage: true},
		{name: "duplicate client_id", change: func(v url.Values) { v.Add("client_id", "demo-web") }, wantPage: true},
		{name: "duplicate redirect_uri", change: func(v url.Values) { v.Add("redirect_uri", "http://127.0.0.1:1/callback") }, wantPage: true},
		{name: "duplicate state", change: func(v url.Values) { v.Add("state", "other") }, wantError: "invalid_request"},
		{name: "duplicate scope", change: func(v url.Values) { v.Add("scope", "openid") }, wantError: "invalid_request"},
		{name: "missing response_type", change: func(v url.Values) { v.Del("response_type") }, wantError: "invalid_request"},
		{name: "implicit flow", change: func(v url.Values) { v.Set("response_type", "token") }, wantError: "unsupported_response_type"},
		{name: "hybrid flow", change: func(v url.Values) { v.Set("response_type", "code id_token") }, wantError: "unsupported_response_type"},
		{name: "unknown scope", change: func(v url.Values) { v.Set("scope", "openid admin") }, wantError: "invalid_scope"},
		{name: "malformed scope", change: func(v url.Values) { v.Set("scope", "openid \"x\"") }, wantError: "invalid_scope"},
		{name: "public client without PKCE", change: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantError: "invalid_request"},
		{name: "plain PKCE", change: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantError: "invalid_request"},
		{name: "PKCE method defaults to plain", change: func(v url.Values) { v.Del("code_challenge_method") }, wantError: "invalid_request"},
		{name: "short code_challenge", change: func(v url.Values) { v.Set("code_challenge", "abc") }, wantError: "invalid_request"},
		{name: "prompt none with login", change: func(v url.Values) { v.Set("prompt", "none login") }, wantError: "invalid_request"},
		{name: "unknown prompt", change: func(v url.Values) { v.Set("prompt", "bogus") }, wantError: "invalid_request"},
		{name: "negative max_age", change: func(v url.Values) { v.Set("max_age", "-1") }, wantError: "invalid_request"},
		{name: "non-numeric max_age", change: func(v url.Values) { v.Set("max_age", "soon") }, wantError: "invalid_request"},
		{name: "huge state", change: func(v url.Values) { v.Set("state", strings.Repeat("s", 5000)) }, wantError: "invalid_request", wantState: "-"},
		{name: "huge nonce", change: func(v url.Values) { v.Set("nonce", strings.Repeat("n", 5000)) }, wantError: "invalid_request"},
		{name: "state not UTF-8", change: func(v url.Values) { v.Set("state", "s\x9d") }, wantError: "invalid_request", wantState: "-"},
		{name: "nonce with a control character", change: func(v url.Values) { v.Set("nonce", "n\x00") }, wantError: "invalid_request"},
		{name: "request object", change: func(v url.Values) { v.Set("request", "eyJhbGciOiJub25lIn0.e30.") }, wantError: "request_not_supported"},
		{name: "request_uri", change: func(v url.Values) { v.Set("request_uri", "https://evil.example/r") }, wantError: "request_uri_not_supported"},
		{name: "fragment response_mode", change: func(v url.Values) { v.Set("response_mode", "fragment") }, wantError: "invalid_request"},
		{name: "relative resource", change: func(v url.Values) { v.Set("resource", "/api") }, wantError: "invalid_target"},
		{name: "resource with fragment", change: func(v url.Values) { v.Set("resource", "https://api.example/#x") }, wantError: "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := good()
			tc.change(v)
			b := in.newBrowser()
			p := b.get(in.issuer + "/authorize?" + v.Encode())
			if tc.wantPage {
				if p.status != http.StatusBadRequest || p.location != "" {
					t.Fatalf("status %d, location %q; want an error page with 400", p.status, p.location)
				}
				if !strings.Contains(p.body, "<html") {
					t.Errorf("not an HTML page: %s", p.body)
				}
				return
			}
			if p.location == "" {
				t.Fatalf("status %d, no redirect; body: %s", p.status, p.body)
			}
			u, err := url.Parse(p.location)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Host != "127.0.0.1:5555" || u.Path != "/callback" {
				t.Errorf("redirected to %s, want the registered callback", u)
			}
			if q.Get("error") != tc.wantError {
				t.Errorf("error = %q (%s), want %q", q.Get("error"), q.Get("error_description"), tc.wantError)
			}
			wantState := tc.wantState
			if wantState == "" {
				wantState = "xyz"
			}
			if wantState == "-" {
				wantState = ""
			}
			if q.Get("state") != wantState {
				t.Errorf("state = %q, want %q", q.Get("state"), wantState)
			}
			if q.Get("iss") != in.issuer || q.Has("code") {
				t.Errorf("iss = %q, code present = %v", q.Get("iss"), q.Has("code"))
			}
		})
	}

	t.Run("POST with a JSON body", func(t *testing.T) {
		resp, err := in.client.Post(in.issuer+"/authorize", "application/json", strings.NewReader(`{"client_id":"demo-spa"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("POST with an oversized body", func(t *testing.T) {
		body := good().Encode() + "&pad=" + strings.Repeat("a", 100<<10)
		resp, err := in.client.Post(in.issuer+"/authorize", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("POST works like GET", func(t *testing.T) {
		noFollow := *in.client
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noFollow.PostForm(in.issuer+"/authorize", good())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/login?ar=") {
			t.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestTokenRejects: each bad token request gets the exact status and error
// code, and afterwards the code it did not legitimately use is still
// redeemable; a replayed code fails and revokes what it issued.
func TestTokenRejects(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoWeb)
	verifier := oauth2.GenerateVerifier()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "allow"), "s")

	good := func() url.Values {
		return url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"redirect_uri":  {cfg.RedirectURL},
			"code_verifier": {verifier},
		}
	}
	type req struct {
		method      string
		contentType string
		auth        string
		body        string
	}
	build := func(change func(v url.Values)) req {
		v := good()
		if change != nil {
			change(v)
		}
		return req{method: http.MethodPost, contentType: "application/x-www-form-urlencoded", auth: basicAuth("demo-web", "demo-web-secret"), body: v.Encode()}
	}
	withAuth := func(r req, auth string) req { r.auth = auth; return r }

	tests := []struct {
		name       string
		req        req
		wantStatus int
		wantError  string
	}{
		{"GET", req{method: http.MethodGet}, http.StatusMethodNotAllowed, ""},
		{"JSON body", func() req { r := build(nil); r.contentType = "application/json"; return r }(), 400, "invalid_request"},
		{"oversized body", func() req { r := build(nil); r.body += "&pad=" + strings.Repeat("a", 100<<10); return r }(), 413, "invalid_request"},
		{"no client authentication", withAuth(build(nil), ""), 401, "invalid_client"},
		{"wrong secret (basic)", withAuth(build(nil), basicAuth("demo-web", "wrong")), 401, "invalid_client"},
		{"wrong secret (post)", withAuth(build(func(v url.Values) { v.Set("client_id", "demo-web"); v.Set("client_secret", "wrong") }), ""), 401, "invalid_client"},
		{"unknown client", withAuth(build(nil), basicAuth("nobody", "x")), 401, "invalid_client"},
		{"malformed basic header", withAuth(build(nil), "Basic !!!"), 401, "invalid_client"},
		{"two auth methods", build(func(v url.Values) { v.Set("client_secret", "demo-web-secret") }), 400, "invalid_request"},
		{"public client with a secret", withAuth(build(nil), basicAuth("demo-spa", "x")), 401, "invalid_client"},
		{"missing grant_type", build(func(v url.Values) { v.Del("grant_type") }), 400, "invalid_request"},
		{"password grant", build(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type"},
		{"client_credentials grant", build(func(v url.Values) { v.Set("grant_type", "client_credentials") }), 400, "unsupported_grant_type"},
		{"duplicate code", build(func(v url.Values) { v.Add("code", "x") }), 400, "invalid_request"},
		{"missing code", build(func(v url.Values) { v.Del("code") }), 400, "invalid_request"},
		{"unknown code", build(func(v url.Values) { v.Set("code", "gh_ac_nope") }), 400, "invalid_grant"},
		{"wrong redirect_uri", build(func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:1/other") }), 400, "invalid_grant"},
		{"redirect_uri on another port", build(func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:1/callback") }), 400, "invalid_grant"},
		{"missing redirect_uri", build(func(v url.Values) { v.Del("redirect_uri") }), 400, "invalid_grant"},
		{"missing code_verifier", build(func(v url.Values) { v.Del("code_verifier") }), 400, "invalid_grant"},
		{"wrong code_verifier", build(func(v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) }), 400, "invalid_grant"},
		{"malformed code_verifier", build(func(v url.Values) { v.Set("code_verifier", "short") }), 400, "invalid_grant"},
		{"code of another client", withAuth(build(nil), basicAuth("demo-internal", "demo-internal-secret")), 400, "invalid_grant"},
		{"refresh grant without token", build(func(v url.Values) { v.Set("grant_type", "refresh_token") }), 400, "invalid_request"},
		{"resource not authorized", build(func(v url.Values) { v.Set("resource", "https://api.example/") }), 400, "invalid_target"},
	}
	do := func(r req) (*http.Response, tokenJSON) {
		t.Helper()
		resp, raw := in.send(t, r.method, "/token", r.contentType, r.auth, r.body)
		var tj tokenJSON
		_ = json.Unmarshal(raw, &tj)
		return resp, tj
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, tj := do(tc.req)
			if resp.StatusCode != tc.wantStatus || tj.Error != tc.wantError {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, tj.Error, tj.Description, tc.wantStatus, tc.wantError)
			}
			if tc.wantError != "" && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error without Cache-Control: no-store")
			}
			if tc.wantError == "invalid_client" && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("invalid_client without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// None of the failures consumed the code: it still works, once.
	resp, first := do(build(nil))
	if resp.StatusCode != 200 || first.AccessToken == "" {
		t.Fatalf("the code no longer works after the failed attempts: %d %+v", resp.StatusCode, first)
	}
	if st := in.userinfoStatus(first.AccessToken); st != 200 {
		t.Fatalf("userinfo: %d", st)
	}
	resp, replay := do(build(nil))
	if resp.StatusCode != 400 || replay.Error != "invalid_grant" {
		t.Fatalf("replayed code: %d %+v", resp.StatusCode, replay)
	}
	// RFC 6749 §4.1.2: the replay revoked the tokens the code issued.
	if st := in.userinfoStatus(first.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo after code replay: %d, want 401", st)
	}
}

// TestExpiredCode: a code past its lifetime is refused.
func TestExpiredCode(t *testing.T) {
	in := startExample(t, "authorization_code_lifetime 1s")
	b := in.newBrowser()
	cfg := in.oauthConfig(demoInternal)
	v := oauth2.GenerateVerifier()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), ""), "s")
	time.Sleep(1500 * time.Millisecond)
	_, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	var re *oauth2.RetrieveError
	if err == nil || !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("expired code: %v", err)
	}
}

// TestUserinfoRejects: RFC 6750 challenges for missing and bad tokens.
func TestUserinfoRejects(t *testing.T) {
	in := startExample(t)
	tests := []struct {
		name       string
		auth       string
		query      string
		wantStatus int
		wantError  string
	}{
		{"no token", "", "", 401, ""},
		{"garbage token", "Bearer abc.def.ghi", "", 401, "invalid_token"},
		{"wrong scheme", "Basic YTpi", "", 400, "invalid_request"},
		{"token in query", "", "access_token=x", 400, "invalid_request"},
		{"alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhbGljZSJ9.", "", 401, "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, in.issuer+"/userinfo?"+tc.query, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := in.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wa := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != tc.wantStatus || !strings.HasPrefix(wa, "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, wa)
			}
			if tc.wantError == "" && strings.Contains(wa, "error=") {
				t.Errorf("a request without a token must get no error code (RFC 6750 §3.1): %q", wa)
			}
			if tc.wantError != "" && !strings.Contains(wa, `error="`+tc.wantError+`"`) {
				t.Errorf("WWW-Authenticate %q lacks error %q", wa, tc.wantError)
			}
		})
	}
}
