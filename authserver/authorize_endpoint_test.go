package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// TestAuthorizeNotRedirected: errors about the client or its redirect URI
// are shown as a page and never sent anywhere (RFC 6749 §4.1.2.1), nor are
// requests whose parameters cannot be read at all.
func TestAuthorizeNotRedirected(t *testing.T) {
	f := ast.New(t, ast.Options{})
	base := f.AuthorizeQuery(ast.ThirdParty, "openid")
	tests := []struct {
		name  string
		query string // raw query of a GET
	}{
		{"no client_id", ast.Edit(base, del("client_id")).Encode()},
		{"unknown client", ast.Edit(base, query("client_id", "nobody")).Encode()},
		{"unregistered redirect_uri", ast.Edit(base, query("redirect_uri", "https://evil.example/cb")).Encode()},
		{"redirect_uri differing in the path", ast.Edit(base, query("redirect_uri", ast.ThirdPartyRedirect+"/")).Encode()},
		{"redirect_uri differing in the query", ast.Edit(base, query("redirect_uri", ast.ThirdPartyRedirect+"?x=1")).Encode()},
		{"no redirect_uri, two registered", ast.Edit(base, del("redirect_uri")).Encode()},
		{"repeated client_id", base.Encode() + "&client_id=" + ast.FirstParty},
		{"repeated redirect_uri", base.Encode() + "&redirect_uri=" + url.QueryEscape(ast.ThirdPartyRedirect2)},
		{"malformed query", base.Encode() + "&x=%zz"},
		{"loopback port on a non-loopback URI", ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"),
			query("redirect_uri", "https://first.example:8443/cb")).Encode()},
		{"another port for a named loopback host", ast.Edit(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"),
			query("redirect_uri", "http://localhost:9999/callback")).Encode()},
		{"error with a bad redirect_uri", ast.Edit(base, query("redirect_uri", "https://evil.example/cb", "response_type", "token")).Encode()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Get(t, "/authorize?"+tc.query)
			wantErrorPage(t, res, http.StatusBadRequest, "invalid_request")
		})
	}

	t.Run("POST that is not a form", func(t *testing.T) {
		r := f.NewRequest(http.MethodPost, "/authorize", nil)
		r.Body = http.NoBody
		r.Header.Set("Content-Type", "application/json")
		wantErrorPage(t, f.Serve(t, r), http.StatusBadRequest, "invalid_request")
	})
	t.Run("POST too large", func(t *testing.T) {
		form := ast.Edit(base, query("state", strings.Repeat("s", 70<<10)))
		wantErrorPage(t, f.Serve(t, f.NewRequest(http.MethodPost, "/authorize", form)), http.StatusBadRequest, "invalid_request")
	})
}

// TestAuthorizeRedirectedErrors: once the client and redirect URI are
// verified, every other error goes back to the app with state and iss.
func TestAuthorizeRedirectedErrors(t *testing.T) {
	f := ast.New(t, ast.Options{})
	long := strings.Repeat("x", 1025)
	tests := []struct {
		name   string
		client string
		edit   url.Values
		extra  string // appended to the raw query
		code   string
		state  string // state echoed; default ast.State
	}{
		{"no response_type", ast.ThirdParty, del("response_type"), "", "invalid_request", ""},
		{"response_type token", ast.ThirdParty, query("response_type", "token"), "", "unsupported_response_type", ""},
		{"response_type code id_token", ast.ThirdParty, query("response_type", "code id_token"), "", "unsupported_response_type", ""},
		{"response_mode fragment", ast.ThirdParty, query("response_mode", "fragment"), "", "invalid_request", ""},
		{"request object", ast.ThirdParty, query("request", "eyJhbGciOiJub25lIn0.e30."), "", "request_not_supported", ""},
		{"request_uri", ast.ThirdParty, query("request_uri", "https://third.example/req"), "", "request_uri_not_supported", ""},
		{"repeated scope", ast.ThirdParty, nil, "&scope=email", "invalid_request", ""},
		{"malformed scope", ast.ThirdParty, query("scope", `openid "email"`), "", "invalid_scope", ""},
		{"unknown scope", ast.ThirdParty, query("scope", "openid admin"), "", "invalid_scope", ""},
		{"scope not allowed for the client", ast.ThirdPartyPublic, query("scope", "openid phone"), "", "invalid_scope", ""},
		{"public client without PKCE", ast.ThirdPartyPublic, del("code_challenge", "code_challenge_method"), "", "invalid_request", ""},
		{"first-party public client without PKCE", ast.FirstPartyPublic, del("code_challenge", "code_challenge_method"), "", "invalid_request", ""},
		{"public client, method but no challenge", ast.ThirdPartyPublic, del("code_challenge"), "", "invalid_request", ""},
		{"PKCE plain", ast.ThirdPartyPublic, query("code_challenge_method", "plain"), "", "invalid_request", ""},
		{"PKCE without a method", ast.ThirdParty, del("code_challenge_method"), "", "invalid_request", ""},
		{"challenge too short", ast.ThirdParty, query("code_challenge", "abc"), "", "invalid_request", ""},
		{"challenge not base64url", ast.ThirdParty, query("code_challenge", strings.Repeat("+", 43)), "", "invalid_request", ""},
		{"unknown prompt", ast.ThirdParty, query("prompt", "none bogus"), "", "invalid_request", ""},
		{"prompt none with login", ast.ThirdParty, query("prompt", "none login"), "", "invalid_request", ""},
		{"negative max_age", ast.ThirdParty, query("max_age", "-1"), "", "invalid_request", ""},
		{"max_age not a number", ast.ThirdParty, query("max_age", "1h"), "", "invalid_request", ""},
		{"nonce too long", ast.ThirdParty, query("nonce", long), "", "invalid_request", ""},
		{"login_hint with a control character", ast.ThirdParty, query("login_hint", "alice\x00"), "", "invalid_request", ""},
		{"relative resource", ast.ThirdParty, query("resource", "/api"), "", "invalid_target", ""},
		{"resource with a fragment", ast.ThirdParty, query("resource", "https://api.example/#x"), "", "invalid_target", ""},
		{"nine resources", ast.ThirdParty, url.Values{"resource": strings.Fields(
			"https://a.example/ https://b.example/ https://c.example/ https://d.example/ https://e.example/ " +
				"https://f.example/ https://g.example/ https://h.example/ https://i.example/")}, "", "invalid_target", ""},
		// A state that cannot be echoed unchanged is not echoed at all.
		{"state too long", ast.ThirdParty, query("state", long), "", "invalid_request", "-"},
		{"state not UTF-8", ast.ThirdParty, query("state", "\xff"), "", "invalid_request", "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := ast.Edit(f.AuthorizeQuery(tc.client, "openid"), tc.edit)
			res := f.Get(t, "/authorize?"+q.Encode()+tc.extra)
			state := ast.State
			if tc.state == "-" {
				state = ""
			}
			wantRedirectError(t, res, f.RedirectURI(tc.client), tc.code, state)
		})
	}
}

// TestAuthorizeAccepted: a valid request, by GET or POST, goes to the
// login page; the redirect URI may be omitted when only one is
// registered, and a loopback IP literal matches any port (RFC 8252 §7.3).
func TestAuthorizeAccepted(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tests := []struct {
		name   string
		client string
		edit   url.Values
		post   bool
	}{
		{"third party", ast.ThirdParty, nil, false},
		{"by POST", ast.ThirdParty, nil, true},
		{"confidential client without PKCE", ast.FirstParty, del("code_challenge", "code_challenge_method"), false},
		{"only redirect URI omitted", ast.FirstParty, del("redirect_uri"), false},
		{"loopback on another port", ast.ThirdPartyPublic, query("redirect_uri", "http://127.0.0.1:53111/callback"), false},
		{"no scope", ast.ThirdParty, del("scope"), false},
		{"resources", ast.ThirdParty, url.Values{"resource": {"https://api.example/", "https://api.example/"}}, false},
		{"every prompt but none", ast.ThirdParty, query("prompt", "login consent select_account"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := ast.Edit(f.AuthorizeQuery(tc.client, "openid"), tc.edit)
			var res *ast.Response
			if tc.post {
				res = f.Serve(t, f.NewRequest(http.MethodPost, "/authorize", q))
			} else {
				res = f.Get(t, "/authorize?"+q.Encode())
			}
			wantLoginRedirect(t, res)
			if want := map[bool]int{true: http.StatusSeeOther, false: http.StatusFound}[tc.post]; res.Code != want {
				t.Errorf("status %d, want %d", res.Code, want)
			}
		})
	}
}

// TestAuthorizeCodeDelivery: the code goes to the redirect URI of the
// request, keeping its query and port, with state and iss; without a
// scope the default scopes are granted.
func TestAuthorizeCodeDelivery(t *testing.T) {
	const withQuery = "https://tenant.example/cb?tenant=7"
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "tenant", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{withQuery}}}}})
	b := f.NewBrowser(t)
	b.SignIn()

	res := b.Authorize(f.AuthorizeQuery("tenant", "openid"))
	loc := res.Location()
	if loc == nil || loc.Host != "tenant.example" || loc.Query().Get("tenant") != "7" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s, want the registered URI with its query and a code", res)
	}

	q := ast.Edit(f.AuthorizeQuery(ast.ThirdPartyPublic, ""), query("redirect_uri", "http://127.0.0.1:53111/callback"))
	res = b.Authorize(q)
	if !b.OnPage(res, "/consent") {
		t.Fatalf("want the consent page, got %s", res)
	}
	res = b.Consent(res, "allow")
	if loc := res.Location(); loc == nil || loc.Host != "127.0.0.1:53111" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s, want the port of the request", res)
	}
	code := res.RedirectQuery().Get("code")
	res = f.ExchangeRequest(t, ast.ThirdPartyPublic, code, query("redirect_uri", "http://127.0.0.1:53111/callback"))
	var tok ast.Tokens
	res.JSON(&tok)
	if res.Code != http.StatusOK || tok.Scope != "openid email profile" {
		t.Fatalf("token response %s, want the default scopes", res)
	}
}

// TestAuthorizeSession: what an existing session needs before a code is
// issued: prompt=none never shows a page, prompt=login and max_age ask for
// a fresh login, third-party apps ask for consent once per scope set and
// always for offline_access.
func TestAuthorizeSession(t *testing.T) {
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "bypass", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://bypass.example/cb"}, BypassConsentForOfflineAccess: true}}}})
	signedIn := f.NewBrowser(t)
	signedIn.SignIn()
	// Consent given once to the third-party app for openid profile.
	signedIn.Code(f.AuthorizeQuery(ast.ThirdParty, "openid profile"))
	f.Clock.Advance(10 * time.Minute)

	type outcome int
	const (
		code outcome = iota
		login
		consent
		redirectError
	)
	tests := []struct {
		name     string
		signedIn bool
		client   string
		scope    string
		edit     url.Values
		want     outcome
		err      string
	}{
		{"prompt none, signed out", false, ast.FirstParty, "openid", query("prompt", "none"), redirectError, "login_required"},
		{"prompt none, consent needed", true, ast.ThirdParty, "openid email", query("prompt", "none"), redirectError, "consent_required"},
		{"prompt none, consent given", true, ast.ThirdParty, "openid", query("prompt", "none"), code, ""},
		{"prompt none, first party", true, ast.FirstParty, "openid email", query("prompt", "none"), code, ""},
		{"signed out", false, ast.FirstParty, "openid", nil, login, ""},
		{"first party", true, ast.FirstParty, "openid email phone groups", nil, code, ""},
		{"first party, prompt consent", true, ast.FirstPartyPublic, "openid", query("prompt", "consent"), code, ""},
		{"first party, offline_access", true, ast.FirstParty, "openid offline_access", nil, consent, ""},
		{"first party bypassing consent, offline_access", true, "bypass", "openid offline_access", nil, code, ""},
		{"third party, scopes consented", true, ast.ThirdParty, "profile openid", nil, code, ""},
		{"third party, a new scope", true, ast.ThirdParty, "openid email", nil, consent, ""},
		{"third party, prompt consent", true, ast.ThirdParty, "openid", query("prompt", "consent"), consent, ""},
		{"third party, offline_access", true, ast.ThirdParty, "openid offline_access", nil, consent, ""},
		{"third party, other client", true, ast.ThirdPartyPublic, "openid", nil, consent, ""},
		{"prompt login", true, ast.FirstParty, "openid", query("prompt", "login"), login, ""},
		{"prompt select_account", true, ast.FirstParty, "openid", query("prompt", "select_account"), login, ""},
		{"max_age older than the login", true, ast.FirstParty, "openid", query("max_age", "60"), login, ""},
		{"max_age 0", true, ast.FirstParty, "openid", query("max_age", "0"), login, ""},
		{"max_age covering the login", true, ast.FirstParty, "openid", query("max_age", "3600"), code, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := signedIn.For(t)
			if !tc.signedIn {
				b = f.NewBrowser(t)
			}
			q := ast.Edit(f.AuthorizeQuery(tc.client, tc.scope), tc.edit)
			res := b.Authorize(q)
			switch tc.want {
			case code:
				if loc := res.Location(); loc == nil || loc.Query().Get("code") == "" {
					t.Fatalf("want a code, got %s", res)
				}
			case login:
				if !b.OnPage(res, "/login") {
					t.Fatalf("want the login page, got %s", res)
				}
			case consent:
				if !b.OnPage(res, "/consent") {
					t.Fatalf("want the consent page, got %s", res)
				}
			case redirectError:
				wantRedirectError(t, res, f.RedirectURI(tc.client), tc.err, ast.State)
			}
		})
	}
}

// TestAuthorizeFreshLogin: after prompt=login (or an exceeded max_age)
// the login page leads to the code, with the new login's auth_time.
func TestAuthorizeFreshLogin(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	b.SignIn()
	f.Clock.Advance(time.Hour)
	for _, edit := range []url.Values{query("prompt", "login"), query("max_age", "10")} {
		res := b.Authorize(ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), edit))
		if !b.OnPage(res, "/login") {
			t.Fatalf("%v: want the login page, got %s", edit, res)
		}
		f.Clock.Advance(time.Second)
		res = b.Login(res)
		code := res.RedirectQuery().Get("code")
		tok := f.Exchange(t, ast.FirstParty, code)
		if got, want := ast.Claims(t, tok.IDToken)["auth_time"], float64(f.Clock.Now().Unix()); got != want {
			t.Errorf("%v: auth_time %v, want the new login's %v", edit, got, want)
		}
		f.Clock.Advance(time.Hour)
	}
}

// TestAuthorizeDynamicClient: a client that registered itself never has
// errors redirected to it, not even those of prompt=none (RFC 9700
// §4.18); it still gets its codes.
func TestAuthorizeDynamicClient(t *testing.T) {
	f := ast.New(t, ast.Options{})
	info, _, _, err := f.Registry.Register(context.Background(), clients.Metadata{
		Name: "Self-registered", Type: clients.ThirdPartyPublic, RedirectURIs: []string{"https://self.example/cb"},
		TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"}})
	if err != nil {
		t.Fatal(err)
	}
	q := f.AuthorizeQuery(info.ID, "openid")
	t.Run("bad scope", func(t *testing.T) {
		wantErrorPage(t, f.Get(t, "/authorize?"+ast.Edit(q, query("scope", "admin")).Encode()), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("prompt none, signed out", func(t *testing.T) {
		wantErrorPage(t, f.Get(t, "/authorize?"+ast.Edit(q, query("prompt", "none")).Encode()), http.StatusBadRequest, "login_required")
	})
	t.Run("consent denied", func(t *testing.T) {
		// After the consent page the user has seen the app: the denial
		// goes back to it.
		b := f.NewBrowser(t)
		res := b.Login(b.Authorize(q))
		wantRedirectError(t, b.Consent(res, "deny"), "https://self.example/cb", "access_denied", ast.State)
	})
	t.Run("code", func(t *testing.T) {
		f.Exchange(t, info.ID, f.NewBrowser(t).Code(q))
	})
}
