package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestAuthorizationCodeFlows runs complete flows for each client type with
// golang.org/x/oauth2 and verifies the ID tokens with go-oidc.
func TestAuthorizationCodeFlows(t *testing.T) {
	in := startExample(t)
	ctx := in.ctx()
	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}

	tests := []struct {
		name        string
		app         demoApp
		wantConsent bool
	}{
		{"third_party confidential", demoWeb, true},
		{"first_party confidential", demoInternal, false},
		{"third_party_public", demoSPA, true},
		{"first_party_public", demoCLI, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := in.oauthConfig(tc.app, oidc.ScopeOpenID, "profile", "email", "groups")
			cfg.Endpoint = provider.Endpoint()
			if tc.app.secret == "" {
				cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			b := in.newBrowser()
			verifier := oauth2.GenerateVerifier()
			state, nonce := "st-"+tc.app.id, "nonce-"+tc.app.id
			res := b.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), "allow")
			if !res.sawLogin {
				t.Error("no login page was shown")
			}
			if res.sawConsent != tc.wantConsent {
				t.Errorf("consent page shown = %v, want %v", res.sawConsent, tc.wantConsent)
			}
			code := mustCode(t, res, state)
			if iss := res.callback.Query().Get("iss"); iss != in.issuer {
				t.Errorf("iss = %q, want %q (RFC 9207)", iss, in.issuer)
			}
			if !strings.HasPrefix(code, "gh_ac_") {
				t.Errorf("code %q lacks the gh_ac_ prefix", code)
			}

			tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.RefreshToken != "" {
				t.Error("a refresh token was issued without offline_access")
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: tc.app.id}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			if idt.Nonce != nonce {
				t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			if alg := jwtHeader(t, rawID)["alg"]; alg != "RS256" {
				t.Errorf("ID token alg = %v, want RS256", alg)
			}
			var claims struct {
				Email         string   `json:"email"`
				EmailVerified bool     `json:"email_verified"`
				Name          string   `json:"name"`
				Username      string   `json:"preferred_username"`
				Groups        []string `json:"groups"`
				AuthTime      int64    `json:"auth_time"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Email != "alice@example.com" || !claims.EmailVerified || claims.Name != "Alice Example" ||
				claims.Username != "alice" || len(claims.Groups) != 2 || claims.AuthTime == 0 {
				t.Errorf("ID token claims = %+v", claims)
			}
			if idt.Subject != "alice" {
				t.Errorf("sub = %q", idt.Subject)
			}

			// RFC 9068 access token.
			h := jwtHeader(t, tok.AccessToken)
			if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
				t.Errorf("access token header = %v", h)
			}
			at := jwtClaims(t, tok.AccessToken)
			for _, k := range []string{"iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti"} {
				if _, ok := at[k]; !ok {
					t.Errorf("access token lacks %q: %v", k, at)
				}
			}
			if at["client_id"] != tc.app.id || at["iss"] != in.issuer {
				t.Errorf("access token claims = %v", at)
			}

			ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != "alice" || ui.Email != "alice@example.com" {
				t.Errorf("userinfo = %+v", ui)
			}
		})
	}
}

// TestConsentRemembered: consent is asked once per scope set, again for new
// scopes, for prompt=consent and for offline_access.
func TestConsentRemembered(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	run := func(scopes []string, opts ...oauth2.AuthCodeOption) authorizeResult {
		cfg := in.oauthConfig(demoWeb, scopes...)
		v := oauth2.GenerateVerifier()
		res := b.authorize(cfg.AuthCodeURL("s", append(opts, oauth2.S256ChallengeOption(v))...), "allow")
		mustCode(t, res, "s")
		return res
	}
	steps := []struct {
		name        string
		scopes      []string
		opts        []oauth2.AuthCodeOption
		wantConsent bool
	}{
		{"first time", []string{"openid", "email"}, nil, true},
		{"same scopes", []string{"openid", "email"}, nil, false},
		{"subset", []string{"openid"}, nil, false},
		{"new scope", []string{"openid", "email", "profile"}, nil, true},
		{"remembered union", []string{"openid", "profile"}, nil, false},
		{"prompt=consent", []string{"openid"}, []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "consent")}, true},
		{"offline_access always asks", []string{"openid", "offline_access"}, nil, true},
		{"offline_access again", []string{"openid", "offline_access"}, nil, true},
	}
	for _, st := range steps {
		res := run(st.scopes, st.opts...)
		if res.sawConsent != st.wantConsent {
			t.Errorf("%s: consent shown = %v, want %v", st.name, res.sawConsent, st.wantConsent)
		}
	}
}

// TestConsentDenied: Deny redirects access_denied with state and iss.
func TestConsentDenied(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoWeb)
	res := b.authorize(cfg.AuthCodeURL("deny-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "deny")
	if res.callback == nil {
		t.Fatalf("no redirect after deny: %d %s", res.last.status, res.last.body)
	}
	q := res.callback.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "deny-state" || q.Get("iss") != in.issuer || q.Has("code") {
		t.Errorf("callback query = %v", q)
	}
}

// TestRefreshTokens: rotation for public clients with reuse detection, a
// sliding token for confidential clients, narrower scopes.
func TestRefreshTokens(t *testing.T) {
	in := startExample(t)
	ctx := in.ctx()
	get := func(app demoApp) (*oauth2.Config, *oauth2.Token) {
		cfg := in2oauth(in, app.id, app.secret, "openid", "email", "offline_access")
		b := in.newBrowser()
		v := oauth2.GenerateVerifier()
		code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.RefreshToken, "gh_rt_") {
			t.Fatalf("refresh token %q missing or without prefix", tok.RefreshToken)
		}
		return cfg, tok
	}
	refresh := func(cfg *oauth2.Config, rt string, extra url.Values) (*tokenJSON, int) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cfg.ClientID}}
		if cfg.ClientSecret != "" {
			form.Set("client_secret", cfg.ClientSecret)
		}
		for k, v := range extra {
			form[k] = v
		}
		return in.postToken(form)
	}

	t.Run("public client rotates and detects reuse", func(t *testing.T) {
		cfg, tok := get(demoSPA)
		r1, st := refresh(cfg, tok.RefreshToken, nil)
		if st != 200 || r1.RefreshToken == "" || r1.RefreshToken == tok.RefreshToken {
			t.Fatalf("first refresh: %d %+v", st, r1)
		}
		r2, st := refresh(cfg, r1.RefreshToken, nil)
		if st != 200 || r2.RefreshToken == r1.RefreshToken {
			t.Fatalf("second refresh: %d %+v", st, r2)
		}
		// Replaying the first token revokes the family...
		if e, st := refresh(cfg, tok.RefreshToken, nil); st != 400 || e.Error != "invalid_grant" {
			t.Fatalf("replay: %d %+v", st, e)
		}
		// ...so the newest token is dead too, and so are its access tokens.
		if e, st := refresh(cfg, r2.RefreshToken, nil); st != 400 || e.Error != "invalid_grant" {
			t.Fatalf("after reuse detection: %d %+v", st, e)
		}
		if st := in.userinfoStatus(r2.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo with an access token of a revoked family: %d, want 401", st)
		}
	})

	t.Run("confidential client keeps a sliding token", func(t *testing.T) {
		cfg, tok := get(demoWeb)
		for i := range 3 {
			r, st := refresh(cfg, tok.RefreshToken, nil)
			if st != 200 || r.AccessToken == "" {
				t.Fatalf("refresh %d: %d %+v", i, st, r)
			}
			if r.RefreshToken != "" {
				t.Errorf("refresh %d returned a new refresh token for a confidential client", i)
			}
		}
		// x/oauth2's own refresh path works with it.
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
		nt, err := cfg.TokenSource(ctx, expired).Token()
		if err != nil || nt.AccessToken == "" {
			t.Fatalf("x/oauth2 refresh: %v", err)
		}
	})

	t.Run("narrower scope, never wider", func(t *testing.T) {
		cfg, tok := get(demoWeb)
		r, st := refresh(cfg, tok.RefreshToken, url.Values{"scope": {"openid"}})
		if st != 200 || r.Scope != "openid" {
			t.Fatalf("narrow: %d %+v", st, r)
		}
		if r.IDToken == "" {
			t.Error("no ID token on refresh with openid")
		}
		if e, st := refresh(cfg, tok.RefreshToken, url.Values{"scope": {"openid profile"}}); st != 400 || e.Error != "invalid_scope" {
			t.Fatalf("wider: %d %+v", st, e)
		}
	})

	t.Run("another client cannot use it", func(t *testing.T) {
		_, tok := get(demoSPA)
		other := in.oauthConfig(demoCLI)
		if e, st := refresh(other, tok.RefreshToken, nil); st != 400 || e.Error != "invalid_grant" {
			t.Fatalf("other client: %d %+v", st, e)
		}
		// And the failed attempt did not revoke or rotate anything.
		own := in.oauthConfig(demoSPA)
		if r, st := refresh(own, tok.RefreshToken, nil); st != 200 || r.RefreshToken == "" {
			t.Fatalf("owner after the failed attempt: %d %+v", st, r)
		}
	})
}

// TestPromptAndMaxAge covers prompt=none, prompt=login and max_age.
func TestPromptAndMaxAge(t *testing.T) {
	in := startExample(t)
	withParams := func(app demoApp, kv ...string) string {
		cfg := in.oauthConfig(app)
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier())}
		for i := 0; i+1 < len(kv); i += 2 {
			opts = append(opts, oauth2.SetAuthURLParam(kv[i], kv[i+1]))
		}
		return cfg.AuthCodeURL("s", opts...)
	}

	b := in.newBrowser()
	// prompt=none before any login: login_required, no page.
	res := b.authorize(withParams(demoInternal, "prompt", "none"), "")
	if res.callback == nil || res.callback.Query().Get("error") != "login_required" || res.sawLogin {
		t.Fatalf("prompt=none signed out: %+v", res.callback)
	}
	// Sign in through a first-party app.
	mustCode(t, b.authorize(withParams(demoInternal), ""), "s")
	// prompt=none signed in, first party: a code without any page.
	res = b.authorize(withParams(demoInternal, "prompt", "none"), "")
	if mustCode(t, res, "s") == "" || res.sawLogin || res.sawConsent {
		t.Fatalf("prompt=none signed in: %+v", res)
	}
	// prompt=none for a third party never consented to: consent_required.
	res = b.authorize(withParams(demoWeb, "prompt", "none"), "")
	if res.callback == nil || res.callback.Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %+v", res.callback)
	}
	// prompt=login forces the login page even though signed in.
	res = b.authorize(withParams(demoInternal, "prompt", "login"), "")
	if !res.sawLogin || mustCode(t, res, "s") == "" {
		t.Fatalf("prompt=login: %+v", res)
	}
	// A generous max_age is satisfied by the session.
	res = b.authorize(withParams(demoInternal, "max_age", "3600"), "")
	if res.sawLogin {
		t.Error("max_age=3600 asked to log in again")
	}
	mustCode(t, res, "s")
	// An exceeded max_age forces a new login.
	time.Sleep(1100 * time.Millisecond)
	res = b.authorize(withParams(demoInternal, "max_age", "0"), "")
	if !res.sawLogin {
		t.Error("max_age=0 did not ask to log in")
	}
	mustCode(t, res, "s")
	// prompt=none with an exceeded max_age: login_required.
	time.Sleep(1100 * time.Millisecond)
	res = b.authorize(withParams(demoInternal, "prompt", "none", "max_age", "0"), "")
	if res.callback == nil || res.callback.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none max_age=0: %+v", res.callback)
	}
}

// TestLoginFailures: the same message and status for a wrong password and
// an unknown user; the session is renewed at login.
func TestLoginFailures(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoInternal)
	p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.HasSuffix(p.url.Path, "/login") {
		t.Fatalf("not on the login page: %s", p.url)
	}
	wrong := b.submit(p, map[string]string{"username": "alice", "password": "nope"})
	unknown := b.submit(p, map[string]string{"username": "mallory", "password": "nope"})
	for name, r := range map[string]*page{"wrong password": wrong, "unknown user": unknown} {
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "username or password is incorrect") {
			t.Errorf("%s: status %d, body lacks the generic message", name, r.status)
		}
	}
	if strings.Contains(unknown.body, "mallory") == false {
		t.Error("the login form did not keep the typed username")
	}
	// A forged form (no CSRF cookie) is refused without signing in.
	other := in.newBrowser()
	forged := other.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	if forged.status != http.StatusForbidden || forged.location != "" {
		t.Errorf("login without the CSRF cookie: %d, location %q", forged.status, forged.location)
	}
}
