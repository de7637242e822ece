package integration

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

// TestDynamicRegistration: an anonymous registration (policy open) gets a
// public third-party client that completes a full authorization code flow.
func TestDynamicRegistration(t *testing.T) {
	ai := startAdmin(t, "registration open")
	ctx := ai.ctx()
	provider, err := oidc.NewProvider(ctx, ai.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.RegistrationEndpoint != ai.issuer+"/register" {
		t.Fatalf("discovery registration_endpoint = %q (%v)", meta.RegistrationEndpoint, err)
	}

	res := ai.register(t, nativeApp(), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("register: HTTP %d %s", res.status, res.body)
	}
	reg := res.registration(t)
	if !strings.HasPrefix(reg.ClientID, "gh_client_") || reg.ClientSecret != "" || reg.ClientSecretExpiresAt != nil ||
		!strings.HasPrefix(reg.RegistrationAccessToken, "gh_rat_") ||
		reg.RegistrationClientURI != ai.issuer+"/register?client_id="+url.QueryEscape(reg.ClientID) ||
		reg.ClientIDIssuedAt == 0 || reg.TokenEndpointAuthMethod != "none" || reg.ClientName != "Native Tool" ||
		!slices.Equal(reg.GrantTypes, []string{"authorization_code", "refresh_token"}) || !slices.Equal(reg.ResponseTypes, []string{"code"}) ||
		reg.Scope != "openid profile email offline_access" || reg.SoftwareID != "tool" || !slices.Equal(reg.Contacts, []string{"dev@tool.example"}) {
		t.Errorf("registration response = %+v", reg)
	}
	if res.header.Get("Cache-Control") != "no-store" || res.header.Get("Location") != reg.RegistrationClientURI {
		t.Errorf("headers: %v", res.header)
	}
	// The admin API sees a dynamic third-party public client.
	if c := ai.api(t, http.MethodGet, "/gatehouse/clients/"+reg.ClientID, nil).client(t); !c.Dynamic || c.Type != "third_party_public" {
		t.Errorf("admin view of the registered client: %+v", c)
	}

	// A full flow with x/oauth2 and go-oidc: consent page, PKCE, ID token,
	// rotating refresh token.
	cfg := &oauth2.Config{ClientID: reg.ClientID, Endpoint: provider.Endpoint(), RedirectURL: "http://127.0.0.1:51234/callback",
		Scopes: []string{oidc.ScopeOpenID, "email", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	v := oauth2.GenerateVerifier()
	flow := ai.newBrowser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oidc.Nonce("n-1")), "allow")
	if !flow.sawConsent {
		t.Error("a dynamically registered client skipped the consent page")
	}
	tok, err := cfg.Exchange(ctx, mustCode(t, flow, "st"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: reg.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "alice" || idt.Nonce != "n-1" {
		t.Fatalf("ID token: %v %+v", err, idt)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("userinfo: %v", err)
	}
	r, st := ai.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {reg.ClientID}})
	if st != http.StatusOK || r.RefreshToken == "" || r.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh: %d %+v", st, r)
	}
	// PKCE is required: the client is public. The error is shown, not
	// redirected: nobody vetted a self-registered redirect URI (RFC 9700
	// §4.18).
	p := ai.newBrowser().authorize(cfg.AuthCodeURL("st"), "allow")
	if p.callback != nil || p.last.status != http.StatusBadRequest || !strings.Contains(p.last.body, "must use PKCE") {
		t.Errorf("authorization without PKCE: %+v, page %d", p.callback, p.last.status)
	}

	// Defaults: no grant or response types means the code flow only.
	minimal := ai.register(t, map[string]any{"redirect_uris": []string{"com.example.tool:/cb"}}, nil)
	if minimal.status != http.StatusCreated {
		t.Fatalf("minimal registration: HTTP %d %s", minimal.status, minimal.body)
	}
	if m := minimal.registration(t); !slices.Equal(m.GrantTypes, []string{"authorization_code"}) || m.TokenEndpointAuthMethod != "none" ||
		!slices.Equal(m.ResponseTypes, []string{"code"}) || m.Scope != "openid profile email phone groups offline_access" {
		t.Errorf("minimal registration = %+v", m)
	}
}

// TestRegistrationRejects: every kind of invalid metadata is refused with
// the RFC 7591 §3.2.2 error naming the field, and nothing is stored.
func TestRegistrationRejects(t *testing.T) {
	ai := startAdmin(t, "registration open")
	with := func(edit func(m map[string]any)) map[string]any {
		m := nativeApp()
		edit(m)
		return m
	}
	cases := []struct {
		name   string
		body   map[string]any
		code   string
		prefix string
	}{
		{"no redirect URIs", with(func(m map[string]any) { delete(m, "redirect_uris") }), "invalid_redirect_uri", "redirect_uris:"},
		{"empty redirect URIs", with(func(m map[string]any) { m["redirect_uris"] = []string{} }), "invalid_redirect_uri", "redirect_uris:"},
		{"redirect URIs not an array", with(func(m map[string]any) { m["redirect_uris"] = "http://127.0.0.1/cb" }), "invalid_redirect_uri", "redirect_uris:"},
		{"plain http on a public host", with(func(m map[string]any) { m["redirect_uris"] = []string{"http://tool.example/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"fragment", with(func(m map[string]any) { m["redirect_uris"] = []string{"https://tool.example/cb#frag"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"relative", with(func(m map[string]any) { m["redirect_uris"] = []string{"/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"loopback port 0", with(func(m map[string]any) { m["redirect_uris"] = []string{"http://127.0.0.1:0/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"loopback port 99999", with(func(m map[string]any) { m["redirect_uris"] = []string{"http://127.0.0.1:99999/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"zero-padded port", with(func(m map[string]any) { m["redirect_uris"] = []string{"http://127.0.0.1:00080/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"custom scheme without a dot", with(func(m map[string]any) { m["redirect_uris"] = []string{"tool:/cb"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"javascript", with(func(m map[string]any) { m["redirect_uris"] = []string{"javascript:alert(1)"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"data URI", with(func(m map[string]any) { m["redirect_uris"] = []string{"data:text/html,hi"} }), "invalid_redirect_uri", "redirect_uris:"},
		{"implicit grant", with(func(m map[string]any) { m["grant_types"] = []string{"implicit"} }), "invalid_client_metadata", "grant_types:"},
		{"client credentials", with(func(m map[string]any) { m["grant_types"] = []string{"authorization_code", "client_credentials"} }), "invalid_client_metadata", "grant_types:"},
		{"refresh token without a code", with(func(m map[string]any) { m["grant_types"] = []string{"refresh_token"} }), "invalid_client_metadata", "grant_types:"},
		{"empty grant types", with(func(m map[string]any) { m["grant_types"] = []string{} }), "invalid_client_metadata", "grant_types:"},
		{"token response type", with(func(m map[string]any) { m["response_types"] = []string{"code", "token"} }), "invalid_client_metadata", "response_types:"},
		{"empty response types", with(func(m map[string]any) { m["response_types"] = []string{} }), "invalid_client_metadata", "response_types:"},
		{"secret under open registration", with(func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_basic" }), "invalid_client_metadata", "token_endpoint_auth_method:"},
		{"private_key_jwt", with(func(m map[string]any) { m["token_endpoint_auth_method"] = "private_key_jwt" }), "invalid_client_metadata", "token_endpoint_auth_method:"},
		{"auth method not a string", with(func(m map[string]any) { m["token_endpoint_auth_method"] = true }), "invalid_client_metadata", "token_endpoint_auth_method:"},
		{"unsupported scope", with(func(m map[string]any) { m["scope"] = "openid admin" }), "invalid_client_metadata", "scope:"},
		{"malformed scope", with(func(m map[string]any) { m["scope"] = "openid \"x\"" }), "invalid_client_metadata", "scope:"},
		{"scope as an array", with(func(m map[string]any) { m["scope"] = []string{"openid"} }), "invalid_client_metadata", "scope:"},
		{"http logo", with(func(m map[string]any) { m["logo_uri"] = "http://tool.example/logo.png" }), "invalid_client_metadata", "logo_uri:"},
		{"javascript client_uri", with(func(m map[string]any) { m["client_uri"] = "javascript:alert(1)" }), "invalid_client_metadata", "client_uri:"},
		{"name too long", with(func(m map[string]any) { m["client_name"] = strings.Repeat("n", 201) }), "invalid_client_metadata", "client_name:"},
		{"name with a control character", with(func(m map[string]any) { m["client_name"] = "Tool\x1b[31m" }), "invalid_client_metadata", "client_name:"},
		{"name not a string", with(func(m map[string]any) { m["client_name"] = 7 }), "invalid_client_metadata", "client_name:"},
		{"contacts not strings", with(func(m map[string]any) { m["contacts"] = []int{1} }), "invalid_client_metadata", "contacts:"},
		{"bad post-logout URI", with(func(m map[string]any) { m["post_logout_redirect_uris"] = []string{"http://evil.example/"} }), "invalid_client_metadata", "post_logout_redirect_uris:"},
		{"back-channel URI from an anonymous client", with(func(m map[string]any) { m["backchannel_logout_uri"] = "https://tool.example/bc" }), "invalid_client_metadata", "backchannel_logout_uri:"},
		{"unsupported ID token alg", with(func(m map[string]any) { m["id_token_signed_response_alg"] = "none" }), "invalid_client_metadata", "id_token_signed_response_alg:"},
		{"ID token alg without a key", with(func(m map[string]any) { m["id_token_signed_response_alg"] = "EdDSA" }), "invalid_client_metadata", "id_token_signed_response_alg: the server has no EdDSA signing key"},
	}
	before := ai.snapshot(t)
	for _, tc := range cases {
		ai.register(t, tc.body, nil).errorIs(t, tc.name, http.StatusBadRequest, tc.code, tc.prefix)
	}
	malformed := []struct {
		name, body, contentType string
		status                  int
	}{
		{"not JSON", "{redirect_uris:1}", "application/json", 400},
		{"an array", `[]`, "application/json", 400},
		{"two objects", `{} {}`, "application/json", 400},
		{"form body", "redirect_uris=x", "application/x-www-form-urlencoded", 415},
		{"too large", `{"client_name":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413},
	}
	for _, tc := range malformed {
		res := call(t, ai.client, http.MethodPost, ai.issuer+"/register", tc.body, map[string]string{"Content-Type": tc.contentType})
		if res.status != tc.status || !strings.Contains(string(res.body), `"error"`) {
			t.Errorf("%s: HTTP %d %s, want %d", tc.name, res.status, res.body, tc.status)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		if res := call(t, ai.client, m, ai.issuer+"/register", nil, nil); res.status != http.StatusMethodNotAllowed {
			t.Errorf("%s /register: HTTP %d", m, res.status)
		}
	}
	if after := ai.snapshot(t); after != before {
		t.Fatalf("refused registrations changed the clients:\nbefore %s\nafter  %s", before, after)
	}
}

// TestRegistrationRateLimit: anonymous registrations from one address are
// limited, so repeating the same registration cannot pile up clients.
func TestRegistrationRateLimit(t *testing.T) {
	ai := startAdmin(t, "registration open")
	burst := authserver.DefaultRegistrationBurst
	for i := range burst {
		if res := ai.register(t, nativeApp(), nil); res.status != http.StatusCreated {
			t.Fatalf("registration %d: HTTP %d %s", i+1, res.status, res.body)
		}
	}
	res := ai.register(t, nativeApp(), nil)
	res.errorIs(t, "one registration over the burst", http.StatusTooManyRequests, "temporarily_unavailable", "")
	if ra := res.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	if n := len(ai.listAll(t, 200)); n != len(staticIDs)+burst {
		t.Errorf("%d clients after the limit, want %d", n, len(staticIDs)+burst)
	}
	// Refused metadata does not use up the allowance, and is still
	// reported as such.
	ai.register(t, map[string]any{"redirect_uris": []string{"http://evil.example/"}}, nil).errorIs(t, "bad metadata", 400, "invalid_redirect_uri", "")
}

// TestRegistrationManagement: RFC 7592 read, update and delete with the
// registration access token, and every way to get it wrong.
func TestRegistrationManagement(t *testing.T) {
	ai := startAdmin(t, "registration open")
	reg := ai.register(t, nativeApp(), nil).registration(t)
	other := ai.register(t, nativeApp(), nil).registration(t)
	uri := reg.RegistrationClientURI
	manage := func(method string, tok string, body any) apiResult {
		t.Helper()
		h := map[string]string{}
		if tok != "" {
			h["Authorization"] = tok
		}
		return call(t, ai.client, method, uri, body, h)
	}

	// Read.
	res := manage(http.MethodGet, "Bearer "+reg.RegistrationAccessToken, nil)
	got := res.registration(t)
	if res.status != http.StatusOK || got.ClientID != reg.ClientID || got.ClientName != reg.ClientName ||
		!slices.Equal(got.RedirectURIs, reg.RedirectURIs) || got.RegistrationAccessToken != "" || got.RegistrationClientURI != uri {
		t.Errorf("read: HTTP %d %s", res.status, res.body)
	}

	// Authentication failures: all 401 with a Bearer challenge.
	for _, tc := range []struct{ name, auth, uri string }{
		{"no token", "", uri},
		{"wrong token", "Bearer gh_rat_wrong", uri},
		{"another client's token", "Bearer " + other.RegistrationAccessToken, uri},
		{"Basic instead of Bearer", "Basic " + reg.RegistrationAccessToken, uri},
		{"unknown client", "Bearer " + reg.RegistrationAccessToken, ai.issuer + "/register?client_id=gh_client_nobody"},
		{"a static client", "Bearer " + reg.RegistrationAccessToken, ai.issuer + "/register?client_id=demo-web"},
	} {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			res := call(t, ai.client, m, tc.uri, nativeApp(), h)
			if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: HTTP %d %q", m, tc.name, res.status, res.header.Get("WWW-Authenticate"))
			}
		}
	}

	// Update: a full replacement (RFC 7592 §2.2), checked like a
	// registration; failures change nothing.
	update := nativeApp()
	update["client_id"] = reg.ClientID
	update["client_name"] = "Renamed Tool"
	update["redirect_uris"] = []string{"http://127.0.0.1/callback", "com.example.tool:/cb"}
	delete(update, "contacts")
	bad := []struct {
		name   string
		edit   func(m map[string]any)
		status int
		code   string
	}{
		{"no client_id", func(m map[string]any) { delete(m, "client_id") }, 400, "invalid_request"},
		{"another client_id", func(m map[string]any) { m["client_id"] = other.ClientID }, 400, "invalid_request"},
		{"registration_access_token included", func(m map[string]any) { m["registration_access_token"] = reg.RegistrationAccessToken }, 400, "invalid_request"},
		{"client_id_issued_at included", func(m map[string]any) { m["client_id_issued_at"] = 1 }, 400, "invalid_request"},
		{"a chosen secret", func(m map[string]any) { m["client_secret"] = "my-own-secret" }, 400, "invalid_client_metadata"},
		{"becoming confidential", func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_basic" }, 400, "invalid_client_metadata"},
		{"bad redirect", func(m map[string]any) { m["redirect_uris"] = []string{"http://evil.example/cb"} }, 400, "invalid_redirect_uri"},
		{"bad grant types", func(m map[string]any) { m["grant_types"] = []string{"refresh_token"} }, 400, "invalid_client_metadata"},
	}
	before := manage(http.MethodGet, "Bearer "+reg.RegistrationAccessToken, nil).body
	for _, tc := range bad {
		body := map[string]any{}
		for k, v := range update {
			body[k] = v
		}
		tc.edit(body)
		res := manage(http.MethodPut, "Bearer "+reg.RegistrationAccessToken, body)
		res.errorIs(t, "update with "+tc.name, tc.status, tc.code, "")
	}
	if after := manage(http.MethodGet, "Bearer "+reg.RegistrationAccessToken, nil).body; string(after) != string(before) {
		t.Fatalf("failed updates changed the client:\n%s\n%s", before, after)
	}
	res = manage(http.MethodPut, "Bearer "+reg.RegistrationAccessToken, update)
	updated := res.registration(t)
	if res.status != http.StatusOK || updated.ClientName != "Renamed Tool" || len(updated.RedirectURIs) != 2 || len(updated.Contacts) != 0 ||
		updated.ClientIDIssuedAt != reg.ClientIDIssuedAt {
		t.Errorf("update: HTTP %d %s", res.status, res.body)
	}
	// The update is in force at once: the consent page shows the new name.
	cfg := in2oauth(ai.instance, reg.ClientID, "", "openid")
	flow := ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "")
	if !flow.sawConsent || !strings.Contains(flow.last.body, "Renamed Tool") {
		t.Errorf("consent page after the update does not show the new name")
	}

	// Delete: 204, then the token and the client are gone.
	if res := manage(http.MethodDelete, "Bearer "+reg.RegistrationAccessToken, nil); res.status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %s", res.status, res.body)
	}
	if res := manage(http.MethodGet, "Bearer "+reg.RegistrationAccessToken, nil); res.status != http.StatusUnauthorized {
		t.Errorf("read after delete: HTTP %d", res.status)
	}
	if p := ai.newBrowser().get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.status != http.StatusBadRequest {
		t.Errorf("authorize for a deleted client: HTTP %d", p.status)
	}
	// The other registration is untouched.
	if res := call(t, ai.client, http.MethodGet, other.RegistrationClientURI, nil, bearer(other.RegistrationAccessToken)); res.status != http.StatusOK {
		t.Errorf("the other client after the delete: HTTP %d", res.status)
	}
}

// TestRegistrationWithInitialAccessToken: under the token policy a valid
// initial access token is required, and confidential clients may register.
func TestRegistrationWithInitialAccessToken(t *testing.T) {
	const iat = "initial-access-token-0123456789"
	ai := startAdmin(t, "registration token "+iat+" second-token-abcdefghijkl")
	web := map[string]any{"client_name": "Web App", "redirect_uris": []string{"https://web.example/callback", "http://127.0.0.1/callback"},
		"grant_types": []string{"authorization_code", "refresh_token"}}
	before := ai.snapshot(t)
	for _, tc := range []struct{ name, auth string }{
		{"no token", ""}, {"wrong token", "Bearer initial-access-token-0123456788"},
		{"prefix of the token", "Bearer initial-access-token"}, {"Basic", "Basic " + iat},
	} {
		h := map[string]string{}
		if tc.auth != "" {
			h["Authorization"] = tc.auth
		}
		res := ai.register(t, web, h)
		if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: HTTP %d %s", tc.name, res.status, res.body)
		}
	}
	if after := ai.snapshot(t); after != before {
		t.Fatal("unauthorized registrations stored clients")
	}

	res := ai.register(t, web, bearer(iat))
	reg := res.registration(t)
	if res.status != http.StatusCreated || !strings.HasPrefix(reg.ClientSecret, "gh_cs_") || reg.ClientSecretExpiresAt == nil ||
		*reg.ClientSecretExpiresAt != 0 || reg.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Fatalf("confidential registration: HTTP %d %s", res.status, res.body)
	}
	if c := ai.api(t, http.MethodGet, "/gatehouse/clients/"+reg.ClientID, nil).client(t); c.Type != "third_party" || !c.Dynamic {
		t.Errorf("admin view: %+v", c)
	}
	// The secret works with client_secret_basic at the token endpoint.
	cfg := in2oauth(ai.instance, reg.ClientID, reg.ClientSecret, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(ai.ctx(), mustCode(t, ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("flow with the registered confidential client: %v", err)
	}
	// The second configured token works too; public clients still may.
	if res := ai.register(t, nativeApp(), bearer("second-token-abcdefghijkl")); res.status != http.StatusCreated {
		t.Errorf("second token: HTTP %d %s", res.status, res.body)
	}
	// An update may repeat the secret but not choose a new one.
	upd := map[string]any{"client_id": reg.ClientID, "client_secret": reg.ClientSecret, "client_name": "Web App 2",
		"redirect_uris": []string{"https://web.example/callback"}, "token_endpoint_auth_method": "client_secret_post"}
	if res := call(t, ai.client, http.MethodPut, reg.RegistrationClientURI, upd, bearer(reg.RegistrationAccessToken)); res.status != http.StatusOK ||
		res.registration(t).TokenEndpointAuthMethod != "client_secret_post" {
		t.Errorf("update repeating the secret: HTTP %d %s", res.status, res.body)
	}
}

// TestRegistrationOffByDefault: without the option there is no /register.
func TestRegistrationOffByDefault(t *testing.T) {
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), edit: func(cf string) string {
		return strings.Replace(cf, "\t\tregistration open\n", "", 1)
	}})
	if res := in.register(t, nativeApp(), nil); res.status == http.StatusCreated || res.status == http.StatusBadRequest {
		t.Errorf("POST /register with registration off: HTTP %d %s", res.status, res.body)
	}
	if strings.Contains(in.getBody("/.well-known/openid-configuration"), "registration_endpoint") {
		t.Error("discovery advertises registration_endpoint while registration is off")
	}
}
