package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/oauth2"
)

func ids(cs []clientJSON) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ClientID)
	}
	return out
}

// TestAdminClientsCRUD: create, read, list with paging, change and delete
// clients through the admin API; static clients are listed but read-only.
func TestAdminClientsCRUD(t *testing.T) {
	ai := startAdmin(t)

	// Static clients are listed first, marked static.
	all := ai.listAll(t, 50)
	if !slices.Equal(ids(all), staticIDs) {
		t.Fatalf("initial list = %v, want the static clients %v", ids(all), staticIDs)
	}
	for _, c := range all {
		if !c.Static || c.CreatedAt != nil {
			t.Errorf("static client %s: static=%v created_at=%v", c.ClientID, c.Static, c.CreatedAt)
		}
	}
	web := ai.api(t, http.MethodGet, "/gatehouse/clients/demo-web", nil).client(t)
	if web.Type != "third_party" || !web.Static || web.Name != "Demo Web App" || web.ClientSecret != "" {
		t.Errorf("demo-web = %+v", web)
	}

	body := map[string]any{
		"name":                      "Acme Notes",
		"description":               "Takes notes.\nSecond line.",
		"type":                      "third_party",
		"redirect_uris":             []string{"https://notes.example/callback", "http://127.0.0.1/callback"},
		"post_logout_redirect_uris": []string{"https://notes.example/bye"},
		"scopes":                    []string{"openid", "email", "offline_access"},
		"logo_uri":                  "https://notes.example/logo.png",
		"client_uri":                "https://notes.example/",
		"policy_uri":                "https://notes.example/privacy",
		"tos_uri":                   "https://notes.example/terms",
		"access_token_lifetime":     "15m",
		"refresh_token_lifetime":    86400,
	}
	res := ai.api(t, http.MethodPost, "/gatehouse/clients", body)
	if res.status != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", res.status, res.body)
	}
	created := res.client(t)
	if !strings.HasPrefix(created.ClientID, "gh_client_") || !strings.HasPrefix(created.ClientSecret, "gh_cs_") || len(created.ClientSecret) < 40 {
		t.Errorf("generated id %q / secret %q", created.ClientID, created.ClientSecret)
	}
	if loc := res.header.Get("Location"); loc != "/gatehouse/clients/"+created.ClientID {
		t.Errorf("Location = %q", loc)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if created.Static || created.Dynamic || created.CreatedAt == nil || created.UpdatedAt == nil ||
		created.AccessTokenLifetime != "15m" || created.RefreshTokenLifetime != "24h" ||
		created.TokenEndpointAuthMethod != "client_secret_basic" || created.Description != body["description"] ||
		!slices.Equal(created.Scopes, []string{"openid", "email", "offline_access"}) || created.TOSURI != "https://notes.example/terms" {
		t.Errorf("created = %+v", created)
	}

	// Read back: the same, without the secret.
	got := ai.api(t, http.MethodGet, "/gatehouse/clients/"+created.ClientID, nil).client(t)
	want := created
	want.ClientSecret = ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, want)
	}
	if strings.Contains(string(ai.api(t, http.MethodGet, "/gatehouse/clients/"+created.ClientID, nil).body), "gh_cs_") {
		t.Error("the secret is shown after creation")
	}

	// The new client works: authorization code flow with its secret.
	cfg := in2oauth(ai.instance, created.ClientID, created.ClientSecret, "openid", "email")
	v := oauth2.GenerateVerifier()
	code := mustCode(t, ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
	if _, err := cfg.Exchange(ai.ctx(), code, oauth2.VerifierOption(v)); err != nil {
		t.Fatalf("exchange with the created client: %v", err)
	}

	// PATCH changes only what is sent; null resets a field.
	time.Sleep(5 * time.Millisecond)
	res = ai.api(t, http.MethodPatch, "/gatehouse/clients/"+created.ClientID, map[string]any{
		"name": "Acme Notes 2", "scopes": []string{"openid"}, "logo_uri": nil, "access_token_lifetime": 600,
	})
	if res.status != http.StatusOK {
		t.Fatalf("patch: HTTP %d %s", res.status, res.body)
	}
	patched := res.client(t)
	want = got
	want.Name, want.Scopes, want.LogoURI, want.AccessTokenLifetime = "Acme Notes 2", []string{"openid"}, "", "10m"
	want.UpdatedAt = patched.UpdatedAt
	if fmt.Sprint(patched) != fmt.Sprint(want) {
		t.Errorf("patched:\n%+v\nwant\n%+v", patched, want)
	}
	if !patched.UpdatedAt.After(*patched.CreatedAt) || !patched.CreatedAt.Equal(*created.CreatedAt) {
		t.Errorf("times after a patch: created %v updated %v", patched.CreatedAt, patched.UpdatedAt)
	}
	// The change applies at once: openid email is no longer allowed.
	res2 := ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow")
	if res2.callback == nil || res2.callback.Query().Get("error") != "invalid_scope" {
		t.Errorf("after narrowing the scopes: %+v", res2.callback)
	}

	// Paging: clients created later, listed after the static ones, each
	// exactly once whatever the page size.
	var createdIDs = []string{created.ClientID}
	for i := range 4 {
		c := ai.createClient(t, map[string]any{"name": fmt.Sprint("cli ", i), "type": "first_party_public",
			"redirect_uris": []string{"com.example.app:/cb"}})
		if c.ClientSecret != "" || c.TokenEndpointAuthMethod != "none" {
			t.Errorf("public client: secret %q, method %q", c.ClientSecret, c.TokenEndpointAuthMethod)
		}
		createdIDs = append(createdIDs, c.ClientID)
	}
	slices.Sort(createdIDs)
	for _, limit := range []int{1, 2, 3, 4, 5, 200} {
		got := ids(ai.listAll(t, limit))
		if !slices.Equal(got, append(slices.Clone(staticIDs), createdIDs...)) {
			t.Errorf("limit %d: listed %v", limit, got)
		}
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "limit=-1", "after=" + strings.Repeat("a", 300)} {
		ai.api(t, http.MethodGet, "/gatehouse/clients?"+q, nil).errorIs(t, q, 400, "invalid_request", "")
	}

	// Static clients are read-only.
	for _, op := range []struct{ method, path string }{
		{http.MethodPatch, "/gatehouse/clients/demo-web"},
		{http.MethodDelete, "/gatehouse/clients/demo-web"},
		{http.MethodPost, "/gatehouse/clients/demo-web/secret/start"},
		{http.MethodPost, "/gatehouse/clients/demo-internal/secret/complete"},
		{http.MethodPost, "/gatehouse/clients/demo-internal/secret/cancel"},
	} {
		ai.api(t, op.method, op.path, map[string]any{"name": "x"}).errorIs(t, op.method+" "+op.path, 409, "static_client", "the client is defined in the Caddyfile")
	}
	if c := ai.api(t, http.MethodGet, "/gatehouse/clients/demo-web", nil).client(t); fmt.Sprint(c) != fmt.Sprint(web) {
		t.Errorf("demo-web changed: %+v", c)
	}

	// Delete: gone, and again is 404.
	res = ai.api(t, http.MethodDelete, "/gatehouse/clients/"+created.ClientID, nil)
	if res.status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %s", res.status, res.body)
	}
	ai.api(t, http.MethodGet, "/gatehouse/clients/"+created.ClientID, nil).errorIs(t, "get after delete", 404, "not_found", "")
	ai.api(t, http.MethodDelete, "/gatehouse/clients/"+created.ClientID, nil).errorIs(t, "delete twice", 404, "not_found", "")
	if slices.Contains(ids(ai.listAll(t, 50)), created.ClientID) {
		t.Error("a deleted client is still listed")
	}

	// Unknown paths and methods.
	ai.api(t, http.MethodGet, "/gatehouse/clients/nope", nil).errorIs(t, "unknown client", 404, "not_found", "")
	ai.api(t, http.MethodGet, "/gatehouse/clients/demo-web/secret/rotate", nil).errorIs(t, "unknown path", 404, "not_found", "")
	ai.api(t, http.MethodGet, "/gatehouse/clients/demo-web/secret/start", nil).errorIs(t, "GET rotation", 405, "invalid_request", "")
	ai.api(t, http.MethodPut, "/gatehouse/clients", nil).errorIs(t, "PUT list", 405, "invalid_request", "")
	ai.api(t, http.MethodPut, "/gatehouse/clients/demo-web", nil).errorIs(t, "PUT client", 405, "invalid_request", "")
}

// TestAdminClientValidation: every field is checked; a bad value is a 400
// naming the field, and nothing is written.
func TestAdminClientValidation(t *testing.T) {
	ai := startAdmin(t)
	valid := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "App", "type": "third_party", "redirect_uris": []string{"https://app.example/cb"}}
		edit(m)
		return m
	}
	long := strings.Repeat("x", 2001)
	createCases := []struct {
		name   string
		body   map[string]any
		prefix string // of error_description: the field
	}{
		{"no name", valid(func(m map[string]any) { delete(m, "name") }), "name:"},
		{"empty name", valid(func(m map[string]any) { m["name"] = "" }), "name:"},
		{"name too long", valid(func(m map[string]any) { m["name"] = strings.Repeat("n", 201) }), "name:"},
		{"control character in name", valid(func(m map[string]any) { m["name"] = "a\x07b" }), "name:"},
		{"name not a string", valid(func(m map[string]any) { m["name"] = 42 }), "name:"},
		{"description too long", valid(func(m map[string]any) { m["description"] = long }), "description:"},
		{"no type", valid(func(m map[string]any) { delete(m, "type") }), "type:"},
		{"unknown type", valid(func(m map[string]any) { m["type"] = "fourth_party" }), "type:"},
		{"no redirect URI", valid(func(m map[string]any) { delete(m, "redirect_uris") }), "redirect_uris:"},
		{"empty redirect URIs", valid(func(m map[string]any) { m["redirect_uris"] = []string{} }), "redirect_uris:"},
		{"redirect URIs not a list", valid(func(m map[string]any) { m["redirect_uris"] = "https://app.example/cb" }), "redirect_uris:"},
		{"plain http redirect", valid(func(m map[string]any) { m["redirect_uris"] = []string{"http://app.example/cb"} }), "redirect_uris:"},
		{"redirect with fragment", valid(func(m map[string]any) { m["redirect_uris"] = []string{"https://app.example/cb#x"} }), "redirect_uris:"},
		{"relative redirect", valid(func(m map[string]any) { m["redirect_uris"] = []string{"/cb"} }), "redirect_uris:"},
		{"redirect with user info", valid(func(m map[string]any) { m["redirect_uris"] = []string{"https://u:p@app.example/cb"} }), "redirect_uris:"},
		{"private-use scheme for a confidential client", valid(func(m map[string]any) { m["redirect_uris"] = []string{"com.example.app:/cb"} }), "redirect_uris:"},
		{"javascript redirect", valid(func(m map[string]any) { m["redirect_uris"] = []string{"javascript:alert(1)"} }), "redirect_uris:"},
		{"repeated redirect", valid(func(m map[string]any) {
			m["redirect_uris"] = []string{"https://app.example/cb", "https://app.example/cb"}
		}), "redirect_uris:"},
		{"too many redirects", valid(func(m map[string]any) {
			var l []string
			for i := range 21 {
				l = append(l, fmt.Sprintf("https://app.example/%d", i))
			}
			m["redirect_uris"] = l
		}), "redirect_uris:"},
		{"redirect too long", valid(func(m map[string]any) { m["redirect_uris"] = []string{"https://app.example/" + long} }), "redirect_uris:"},
		{"bad post-logout URI", valid(func(m map[string]any) { m["post_logout_redirect_uris"] = []string{"http://evil.example/"} }), "post_logout_redirect_uris:"},
		{"bad back-channel URI", valid(func(m map[string]any) { m["backchannel_logout_uri"] = "http://app.example/bc" }), "backchannel_logout_uri:"},
		{"unsupported scope", valid(func(m map[string]any) { m["scopes"] = []string{"openid", "admin"} }), "scopes:"},
		{"repeated scope", valid(func(m map[string]any) { m["scopes"] = []string{"openid", "openid"} }), "scopes:"},
		{"http logo", valid(func(m map[string]any) { m["logo_uri"] = "http://app.example/logo.png" }), "logo_uri:"},
		{"client_uri with fragment", valid(func(m map[string]any) { m["client_uri"] = "https://app.example/#home" }), "client_uri:"},
		{"policy_uri not a URL", valid(func(m map[string]any) { m["policy_uri"] = "privacy" }), "policy_uri:"},
		{"javascript tos_uri", valid(func(m map[string]any) { m["tos_uri"] = "javascript:alert(1)" }), "tos_uri:"},
		{"unsupported grant type", valid(func(m map[string]any) { m["grant_types"] = []string{"authorization_code", "password"} }), "grant_types:"},
		{"refresh_token alone", valid(func(m map[string]any) { m["grant_types"] = []string{"refresh_token"} }), "grant_types:"},
		{"none for a confidential client", valid(func(m map[string]any) { m["token_endpoint_auth_method"] = "none" }), "token_endpoint_auth_method:"},
		{"unsupported auth method", valid(func(m map[string]any) { m["token_endpoint_auth_method"] = "tls_client_auth" }), "token_endpoint_auth_method:"},
		{"private_key_jwt without keys", valid(func(m map[string]any) { m["token_endpoint_auth_method"] = "private_key_jwt" }), "jwks:"},
		{"a secret for a public client", valid(func(m map[string]any) {
			m["type"], m["token_endpoint_auth_method"] = "third_party_public", "client_secret_basic"
		}), "token_endpoint_auth_method:"},
		{"unsupported ID token alg", valid(func(m map[string]any) { m["id_token_signed_response_alg"] = "HS256" }), "id_token_signed_response_alg:"},
		{"ID token alg without a key", valid(func(m map[string]any) { m["id_token_signed_response_alg"] = "PS256" }), "id_token_signed_response_alg: the server has no PS256 signing key"},
		{"access token lifetime too short", valid(func(m map[string]any) { m["access_token_lifetime"] = "1s" }), "access_token_lifetime:"},
		{"access token lifetime too long", valid(func(m map[string]any) { m["access_token_lifetime"] = "48h" }), "access_token_lifetime:"},
		{"access token lifetime not a duration", valid(func(m map[string]any) { m["access_token_lifetime"] = "soon" }), "access_token_lifetime:"},
		{"negative lifetime", valid(func(m map[string]any) { m["access_token_lifetime"] = -60 }), "access_token_lifetime:"},
		{"fractional seconds", valid(func(m map[string]any) { m["access_token_lifetime"] = 90.5 }), "access_token_lifetime:"},
		{"refresh token lifetime too short", valid(func(m map[string]any) { m["refresh_token_lifetime"] = "1m" }), "refresh_token_lifetime:"},
		{"bypass for a third-party client", valid(func(m map[string]any) { m["bypass_consent_for_offline_access"] = true }), "bypass_consent_for_offline_access:"},
		{"bypass not a boolean", valid(func(m map[string]any) {
			m["type"], m["bypass_consent_for_offline_access"] = "first_party", "yes"
		}), "bypass_consent_for_offline_access:"},
		{"too many contacts", valid(func(m map[string]any) { m["contacts"] = slices.Repeat([]string{"a@b.example"}, 11) }), "contacts:"},
		{"unknown field", valid(func(m map[string]any) { m["colour"] = "blue" }), "colour: unknown field"},
		{"client_id is generated", valid(func(m map[string]any) { m["client_id"] = "mine" }), "client_id: is set by the server"},
		{"secret is generated", valid(func(m map[string]any) { m["client_secret"] = "hunter2" }), "client_secret: is set by the server"},
		{"created_at is the server's", valid(func(m map[string]any) { m["created_at"] = "2020-01-01T00:00:00Z" }), "created_at: is set by the server"},
	}
	before := ai.snapshot(t)
	for _, tc := range createCases {
		ai.api(t, http.MethodPost, "/gatehouse/clients", tc.body).errorIs(t, "create: "+tc.name, 400, "invalid_client_metadata", tc.prefix)
	}
	malformed := []struct {
		name, body, contentType string
		status                  int
	}{
		{"not JSON", "{name: 1}", "application/json", 400},
		{"a JSON array", `[{"name":"x"}]`, "application/json", 400},
		{"null", `null`, "application/json", 400},
		{"trailing data", `{"name":"x"} {}`, "application/json", 400},
		{"form body", "name=x", "application/x-www-form-urlencoded", 415},
		{"no content type", `{"name":"x"}`, "", 415},
		{"too large", `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413},
	}
	for _, tc := range malformed {
		res := call(t, http.DefaultClient, http.MethodPost, ai.admin+"/gatehouse/clients", tc.body, map[string]string{"Content-Type": tc.contentType})
		if res.status != tc.status || !strings.Contains(string(res.body), `"error"`) {
			t.Errorf("create with %s: HTTP %d %s, want %d", tc.name, res.status, res.body, tc.status)
		}
	}
	if after := ai.snapshot(t); after != before {
		t.Fatalf("failed creations changed the clients:\nbefore %s\nafter  %s", before, after)
	}

	// Updates: the same checks on the merged result, and nothing changes.
	conf := ai.createClient(t, valid(func(m map[string]any) {}))
	pub := ai.createClient(t, map[string]any{"name": "Native", "type": "first_party_public", "redirect_uris": []string{"com.example.app:/cb"}})
	updateCases := []struct {
		name   string
		id     string
		body   map[string]any
		prefix string
	}{
		{"name reset", conf.ClientID, map[string]any{"name": nil}, "name:"},
		{"type reset", conf.ClientID, map[string]any{"type": nil}, "type:"},
		{"confidential to public", conf.ClientID, map[string]any{"type": "third_party_public"}, "type:"},
		{"public to confidential", pub.ClientID, map[string]any{"type": "first_party"}, "type:"},
		{"bypass on a third party", conf.ClientID, map[string]any{"bypass_consent_for_offline_access": true}, "bypass_consent_for_offline_access:"},
		{"to third party while bypassing", pub.ClientID, map[string]any{"bypass_consent_for_offline_access": true, "type": "third_party_public"}, "bypass_consent_for_offline_access:"},
		{"no redirect URIs", conf.ClientID, map[string]any{"redirect_uris": []string{}}, "redirect_uris:"},
		{"redirect URIs reset", conf.ClientID, map[string]any{"redirect_uris": nil}, "redirect_uris:"},
		{"private-use scheme moved to a confidential client", conf.ClientID, map[string]any{"redirect_uris": []string{"com.example.app:/cb"}}, "redirect_uris:"},
		{"valid name but bad scope", conf.ClientID, map[string]any{"name": "New", "scopes": []string{"root"}}, "scopes:"},
		{"unknown field", conf.ClientID, map[string]any{"name": "New", "zzz": 1}, "zzz: unknown field"},
		{"read-only field", conf.ClientID, map[string]any{"updated_at": "2020-01-01T00:00:00Z"}, "updated_at: is set by the server"},
		{"wrong type", pub.ClientID, map[string]any{"scopes": "openid"}, "scopes:"},
	}
	before = ai.snapshot(t)
	for _, tc := range updateCases {
		ai.api(t, http.MethodPatch, "/gatehouse/clients/"+tc.id, tc.body).errorIs(t, "update: "+tc.name, 400, "invalid_client_metadata", tc.prefix)
	}
	// A bad body for an unknown client is still a 400, checked first.
	ai.api(t, http.MethodPatch, "/gatehouse/clients/nope", map[string]any{"zzz": 1}).errorIs(t, "bad update of an unknown client", 400, "invalid_client_metadata", "zzz:")
	ai.api(t, http.MethodPatch, "/gatehouse/clients/nope", map[string]any{"name": "x"}).errorIs(t, "update of an unknown client", 404, "not_found", "")
	if after := ai.snapshot(t); after != before {
		t.Fatalf("failed updates changed the clients:\nbefore %s\nafter  %s", before, after)
	}
}

// TestAdminSecretRotation: start issues a second secret and both work;
// complete leaves only the new one; cancel discards the new one. Checked
// with real refresh token requests.
func TestAdminSecretRotation(t *testing.T) {
	ai := startAdmin(t)
	// First-party with the bypass, so offline_access needs no consent page.
	c := ai.createClient(t, map[string]any{"name": "Backend", "type": "first_party",
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "bypass_consent_for_offline_access": true})
	cfg := in2oauth(ai.instance, c.ClientID, c.ClientSecret, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	res := ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "")
	if res.sawConsent {
		t.Error("a first-party client with bypass_consent_for_offline_access got the consent page")
	}
	tok, err := cfg.Exchange(ai.ctx(), mustCode(t, res, "s"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	// works refreshes with secret: confidential clients keep their refresh
	// token, so it can be used again and again.
	works := func(secret string) (int, string) {
		t.Helper()
		r, st := ai.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_id": {c.ClientID}, "client_secret": {secret}})
		return st, r.Error
	}
	check := func(phase, secret string, wantOK bool) {
		t.Helper()
		st, code := works(secret)
		if wantOK && st != http.StatusOK {
			t.Errorf("%s: refresh with %s: HTTP %d %s, want 200", phase, secret[:10], st, code)
		}
		if !wantOK && (st != http.StatusUnauthorized || code != "invalid_client") {
			t.Errorf("%s: refresh with a retired secret: HTTP %d %s, want 401 invalid_client", phase, st, code)
		}
	}
	rotate := func(phase string) apiResult {
		t.Helper()
		return ai.api(t, http.MethodPost, "/gatehouse/clients/"+c.ClientID+"/secret/"+phase, nil)
	}
	old := c.ClientSecret
	check("before rotation", old, true)

	// complete and cancel need a rotation in progress.
	rotate("complete").errorIs(t, "complete without a rotation", 409, "conflict", "no secret rotation")
	rotate("cancel").errorIs(t, "cancel without a rotation", 409, "conflict", "no secret rotation")

	res1 := rotate("start")
	started := res1.client(t)
	if res1.status != http.StatusOK || !strings.HasPrefix(started.ClientSecret, "gh_cs_") || started.ClientSecret == old || !started.SecretRotationPending {
		t.Fatalf("start: HTTP %d %s", res1.status, res1.body)
	}
	next := started.ClientSecret
	check("during rotation, old", old, true)
	check("during rotation, new", next, true)
	rotate("start").errorIs(t, "start twice", 409, "conflict", "a secret rotation is already in progress")
	if got := ai.api(t, http.MethodGet, "/gatehouse/clients/"+c.ClientID, nil); strings.Contains(string(got.body), "gh_cs_") || !got.client(t).SecretRotationPending {
		t.Errorf("GET during a rotation: %s", got.body)
	}

	completed := rotate("complete").client(t)
	if completed.SecretRotationPending || completed.ClientSecret != "" {
		t.Errorf("complete: %+v", completed)
	}
	check("after complete, old", old, false)
	check("after complete, new", next, true)

	third := rotate("start").client(t).ClientSecret
	check("second rotation, new", third, true)
	if cancelled := rotate("cancel").client(t); cancelled.SecretRotationPending {
		t.Errorf("cancel: %+v", cancelled)
	}
	check("after cancel, discarded secret", third, false)
	check("after cancel, kept secret", next, true)
	check("after cancel, long-retired secret", old, false)

	// Public clients have no secret to rotate.
	pub := ai.createClient(t, map[string]any{"name": "SPA", "type": "third_party_public", "redirect_uris": []string{"https://spa.example/cb"}})
	ai.api(t, http.MethodPost, "/gatehouse/clients/"+pub.ClientID+"/secret/start", nil).errorIs(t, "rotate a public client", 409, "conflict", "the client is public")
	ai.api(t, http.MethodPost, "/gatehouse/clients/nope/secret/start", nil).errorIs(t, "rotate an unknown client", 404, "not_found", "")
}

// TestFirstPartyOfflineAccessConsent: first-party apps skip consent except
// for offline_access, which asks unless bypass_consent_for_offline_access
// is set, for static and stored clients alike.
func TestFirstPartyOfflineAccessConsent(t *testing.T) {
	ai := startAdmin(t)
	plain := ai.createClient(t, map[string]any{"name": "Plain", "type": "first_party_public", "redirect_uris": []string{"http://127.0.0.1/callback"}})
	bypass := ai.createClient(t, map[string]any{"name": "Bypass", "type": "first_party_public", "redirect_uris": []string{"http://127.0.0.1/callback"},
		"bypass_consent_for_offline_access": true})
	tests := []struct {
		name        string
		client      string
		scopes      []string
		wantConsent bool
	}{
		{"static first party, openid profile email", "demo-cli", []string{"openid", "profile", "email"}, false},
		{"static first party, offline_access", "demo-cli", []string{"openid", "offline_access"}, true},
		{"stored first party, openid", plain.ClientID, []string{"openid", "email"}, false},
		{"stored first party, offline_access", plain.ClientID, []string{"openid", "offline_access"}, true},
		{"stored first party with bypass, offline_access", bypass.ClientID, []string{"openid", "offline_access"}, false},
	}
	b := ai.newBrowser()
	for _, tc := range tests {
		cfg := in2oauth(ai.instance, tc.client, "", tc.scopes...)
		v := oauth2.GenerateVerifier()
		res := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow")
		if res.sawConsent != tc.wantConsent {
			t.Errorf("%s: consent page shown = %v, want %v", tc.name, res.sawConsent, tc.wantConsent)
		}
		tok, err := cfg.Exchange(ai.ctx(), mustCode(t, res, "s"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (tok.RefreshToken != "") != slices.Contains(tc.scopes, "offline_access") {
			t.Errorf("%s: refresh token %q", tc.name, tok.RefreshToken)
		}
	}
	// Turning the bypass off takes effect at once.
	ai.api(t, http.MethodPatch, "/gatehouse/clients/"+bypass.ClientID, map[string]any{"bypass_consent_for_offline_access": false})
	cfg := in2oauth(ai.instance, bypass.ClientID, "", "openid", "offline_access")
	if res := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), ""); !res.sawConsent {
		t.Error("after clearing the bypass: no consent page for offline_access")
	}
}

// TestAdminDeleteRevokesTokens: deleting a client revokes what it holds.
func TestAdminDeleteRevokesTokens(t *testing.T) {
	ai := startAdmin(t)
	c := ai.createClient(t, map[string]any{"name": "Doomed", "type": "third_party",
		"redirect_uris": []string{"http://127.0.0.1/callback"}})
	cfg := in2oauth(ai.instance, c.ClientID, c.ClientSecret, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	b := ai.newBrowser()
	tok, err := cfg.Exchange(ai.ctx(), mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if st := ai.userinfoStatus(tok.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo before delete: %d", st)
	}
	// A code issued before the delete and redeemed after.
	pending := mustCode(t, b.authorize(cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(v)), "allow"), "s2")

	if res := ai.api(t, http.MethodDelete, "/gatehouse/clients/"+c.ClientID, nil); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	if st := ai.userinfoStatus(tok.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with a deleted client's access token: %d, want 401", st)
	}
	r, st := ai.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	if st != http.StatusUnauthorized || r.Error != "invalid_client" {
		t.Errorf("refresh by a deleted client: %d %+v", st, r)
	}
	if _, err := cfg.Exchange(ai.ctx(), pending, oauth2.VerifierOption(v)); err == nil {
		t.Error("a deleted client redeemed a code")
	}
	p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("authorize for a deleted client: %d, location %q", p.status, p.location)
	}
}

// TestDynamicClientsSurviveRestart: clients created at run time, their
// registration access tokens and their grants are in the store.
func TestDynamicClientsSurviveRestart(t *testing.T) {
	dir, port, adminPort := t.TempDir(), freePort(t), freePort(t)
	ai := startWithAdmin(t, dir, port, adminPort, "registration open")
	reg := ai.register(t, nativeApp(), nil).registration(t)
	made := ai.createClient(t, map[string]any{"name": "Made", "type": "third_party", "redirect_uris": []string{"http://127.0.0.1/callback"}})
	made.ClientSecret = ""
	cfg := in2oauth(ai.instance, reg.ClientID, "", "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(ai.ctx(), mustCode(t, ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	listed := ai.snapshot(t)
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	ai = startWithAdmin(t, dir, port, adminPort, "registration open")
	if after := ai.snapshot(t); after != listed {
		t.Errorf("clients changed across a restart:\n%s\n%s", listed, after)
	}
	if got := ai.api(t, http.MethodGet, "/gatehouse/clients/"+made.ClientID, nil).client(t); fmt.Sprint(got) != fmt.Sprint(made) {
		t.Errorf("admin-created client after restart:\n%+v\nwant\n%+v", got, made)
	}
	res := call(t, ai.client, http.MethodGet, reg.RegistrationClientURI, nil, bearer(reg.RegistrationAccessToken))
	if res.status != http.StatusOK || res.registration(t).ClientName != "Native Tool" {
		t.Errorf("RFC 7592 read after restart: HTTP %d %s", res.status, res.body)
	}
	r, st := ai.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {reg.ClientID}})
	if st != http.StatusOK {
		t.Errorf("the dynamic client's refresh token after restart: %d %+v", st, r)
	}
	v = oauth2.GenerateVerifier()
	if _, err := cfg.Exchange(ai.ctx(), mustCode(t, ai.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s"), oauth2.VerifierOption(v)); err != nil {
		t.Errorf("a new flow with the dynamic client after restart: %v", err)
	}
}
