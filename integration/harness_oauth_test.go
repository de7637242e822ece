package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The harness: OAuth 2.0 and OpenID Connect as clients see them. Client
// configurations; the token, userinfo, introspection and revocation
// endpoints; JWTs read and forged; the admin API's clients; dynamic
// client registration (RFC 7591).

// oauthConfig is an x/oauth2 configuration for a demo app, redirecting to
// a loopback callback on an arbitrary port (RFC 8252 §7.3).
func (in *instance) oauthConfig(a demoApp, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email"}
	}
	return &oauth2.Config{
		ClientID:     a.id,
		ClientSecret: a.secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   in.issuer + "/authorize",
			TokenURL:  in.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes:      scopes,
	}
}

// in2oauth is an x/oauth2 configuration for any client of an instance.
func in2oauth(in *instance, id, secret string, scopes ...string) *oauth2.Config {
	cfg := in.oauthConfig(demoApp{id: id, secret: secret}, scopes...)
	if secret == "" {
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return cfg
}

type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func (in *instance) postToken(form url.Values) (*tokenJSON, int) {
	in.t.Helper()
	resp, err := in.client.PostForm(in.issuer+"/token", form)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tj tokenJSON
	if err := json.NewDecoder(resp.Body).Decode(&tj); err != nil {
		in.t.Fatalf("token response: %v", err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		in.t.Errorf("token response Cache-Control = %q, want no-store", cc)
	}
	return &tj, resp.StatusCode
}

func (in *instance) userinfoStatus(accessToken string) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tokensFor runs the authorization code flow as alice in b (consenting
// when asked) and redeems the code as app.
func (in *instance) tokensFor(t *testing.T, b *browser, app demoApp, scopes ...string) *tokenJSON {
	t.Helper()
	cfg := in.oauthConfig(app, scopes...)
	v := oauth2.GenerateVerifier()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cfg.RedirectURL},
		"code_verifier": {v}, "client_id": {app.id}}
	if app.secret != "" {
		form.Set("client_secret", app.secret)
	}
	tj, st := in.postToken(form)
	if st != http.StatusOK || tj.AccessToken == "" {
		t.Fatalf("token request for %s: %d %+v", app.id, st, tj)
	}
	return tj
}

// refresh uses a refresh token as app.
func (in *instance) refresh(app demoApp, rt string) (*tokenJSON, int) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {app.id}}
	if app.secret != "" {
		form.Set("client_secret", app.secret)
	}
	return in.postToken(form)
}

// clientPost posts form to path as app: HTTP Basic for confidential
// clients (client_secret_basic), client_id in the body for public ones.
func (in *instance) clientPost(t *testing.T, path string, app demoApp, form url.Values) (*http.Response, []byte) {
	t.Helper()
	if app.secret == "" && app.id != "" {
		form.Set("client_id", app.id)
	}
	auth := ""
	if app.secret != "" {
		auth = basicAuth(app.id, app.secret)
	}
	return in.send(t, http.MethodPost, path, "application/x-www-form-urlencoded", auth, form.Encode())
}

// introspect asks, as app, about tok; it fails the test unless the answer
// is a 200 JSON object that is not cached.
func (in *instance) introspect(t *testing.T, app demoApp, tok string, hint ...string) map[string]any {
	t.Helper()
	form := url.Values{"token": {tok}}
	if len(hint) > 0 {
		form.Set("token_type_hint", hint[0])
	}
	resp, body := in.clientPost(t, "/introspect", app, form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection as %s: %d %s", app.id, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("introspection Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("introspection Cache-Control = %q, want no-store", cc)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("introspection response %s: %v", body, err)
	}
	return out
}

// wantInactive fails unless r is exactly {"active": false} (RFC 7662
// §2.2: nothing more about a token the caller may not see).
func wantInactive(t *testing.T, what string, r map[string]any) {
	t.Helper()
	if len(r) != 1 || r["active"] != false {
		t.Errorf("%s: introspection = %v, want exactly {\"active\": false}", what, r)
	}
}

func (in *instance) revoke(t *testing.T, app demoApp, tok string, hint ...string) int {
	t.Helper()
	form := url.Values{"token": {tok}}
	if len(hint) > 0 {
		form.Set("token_type_hint", hint[0])
	}
	resp, body := in.clientPost(t, "/revoke", app, form)
	if resp.StatusCode == http.StatusOK && len(body) != 0 {
		t.Errorf("revocation answered 200 with a body: %s", body)
	}
	return resp.StatusCode
}

// clientCall posts a form to an endpoint with HTTP Basic credentials (as
// clientPost does for a confidential client) and returns the status, the
// OAuth error code, if any, and Retry-After.
func (in *instance) clientCall(t *testing.T, path, id, secret string, form url.Values) (int, string, string) {
	t.Helper()
	resp, raw := in.clientPost(t, path, demoApp{id, secret}, form)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, e.Error, resp.Header.Get("Retry-After")
}

func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func unsignedJWT(claims any) string {
	return b64json(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + b64json(claims) + "."
}

// hmacWithPublicKey forges the classic algorithm-confusion token: HS256
// whose HMAC key is the issuer's public key, with that key's kid.
func hmacWithPublicKey(t *testing.T, in *instance, claims any) string {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(in.getBody("/jwks.json")), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v", err)
	}
	k := set.Keys[0]
	pub, _ := json.Marshal(k)
	signing := b64json(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": k["kid"]}) + "." + b64json(claims)
	m := hmac.New(sha256.New, pub)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tamper changes one claim of a signed token, keeping the signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"sub":"alice"`, `"sub":"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// api calls the admin API.
func (ai *adminInstance) api(t *testing.T, method, path string, body any) apiResult {
	t.Helper()
	return call(t, http.DefaultClient, method, ai.admin+path, body, nil)
}

// clientJSON is a client as the admin API returns it.
type clientJSON struct {
	ClientID                      string     `json:"client_id"`
	ClientSecret                  string     `json:"client_secret"`
	Name                          string     `json:"name"`
	Description                   string     `json:"description"`
	Type                          string     `json:"type"`
	RedirectURIs                  []string   `json:"redirect_uris"`
	PostLogoutRedirectURIs        []string   `json:"post_logout_redirect_uris"`
	Scopes                        []string   `json:"scopes"`
	LogoURI                       string     `json:"logo_uri"`
	ClientURI                     string     `json:"client_uri"`
	PolicyURI                     string     `json:"policy_uri"`
	TOSURI                        string     `json:"tos_uri"`
	GrantTypes                    []string   `json:"grant_types"`
	TokenEndpointAuthMethod       string     `json:"token_endpoint_auth_method"`
	AccessTokenLifetime           string     `json:"access_token_lifetime"`
	RefreshTokenLifetime          string     `json:"refresh_token_lifetime"`
	BypassConsentForOfflineAccess bool       `json:"bypass_consent_for_offline_access"`
	Static                        bool       `json:"static"`
	Dynamic                       bool       `json:"dynamic"`
	SecretRotationPending         bool       `json:"secret_rotation_pending"`
	CreatedAt                     *time.Time `json:"created_at"`
	UpdatedAt                     *time.Time `json:"updated_at"`
}

func (r apiResult) client(t *testing.T) clientJSON {
	t.Helper()
	var c clientJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("not a client (HTTP %d): %v\n%s", r.status, err, r.body)
	}
	return c
}

// createClient creates a client through the admin API and fails the test
// unless that works.
func (ai *adminInstance) createClient(t *testing.T, body map[string]any) clientJSON {
	t.Helper()
	res := ai.api(t, http.MethodPost, "/gatehouse/clients", body)
	if res.status != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", res.status, res.body)
	}
	return res.client(t)
}

// listAll pages through the admin API's client list with limit.
func (ai *adminInstance) listAll(t *testing.T, limit int) []clientJSON {
	t.Helper()
	var all []clientJSON
	after := ""
	for range 100 {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if after != "" {
			q.Set("after", after)
		}
		res := ai.api(t, http.MethodGet, "/gatehouse/clients?"+q.Encode(), nil)
		if res.status != http.StatusOK {
			t.Fatalf("list: HTTP %d %s", res.status, res.body)
		}
		var page struct {
			Clients []clientJSON `json:"clients"`
			Next    *string      `json:"next"`
		}
		if err := json.Unmarshal(res.body, &page); err != nil || page.Next == nil {
			t.Fatalf("list response: %v\n%s", err, res.body)
		}
		if len(page.Clients) > limit {
			t.Fatalf("a page of %d clients with limit %d", len(page.Clients), limit)
		}
		all = append(all, page.Clients...)
		if *page.Next == "" {
			return all
		}
		after = *page.Next
	}
	t.Fatal("the client list did not end")
	return nil
}

// snapshot is every client the admin API lists, in full.
func (ai *adminInstance) snapshot(t *testing.T) string {
	t.Helper()
	return fmt.Sprint(ai.listAll(t, 200))
}

var staticIDs = []string{"demo-cli", "demo-internal", "demo-spa", "demo-web"}

// registration is the client information response of RFC 7591 §3.2.1.
type registration struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	LogoURI                 string   `json:"logo_uri"`
	Contacts                []string `json:"contacts"`
	SoftwareID              string   `json:"software_id"`
}

func (r apiResult) registration(t *testing.T) registration {
	t.Helper()
	var reg registration
	if err := json.Unmarshal(r.body, &reg); err != nil {
		t.Fatalf("not a registration (HTTP %d): %v\n%s", r.status, err, r.body)
	}
	return reg
}

// register posts metadata to /register.
func (in *instance) register(t *testing.T, body any, header map[string]string) apiResult {
	t.Helper()
	return call(t, in.client, http.MethodPost, in.issuer+"/register", body, header)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// nativeApp is what an MCP client or CLI registers.
func nativeApp() map[string]any {
	return map[string]any{
		"client_name":                "Native Tool",
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"token_endpoint_auth_method": "none",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid profile email offline_access",
		"contacts":                   []string{"dev@tool.example"},
		"software_id":                "tool",
		"logo_uri":                   "https://tool.example/logo.png",
		"unknown_extension":          map[string]any{"ignored": true},
	}
}
