package authserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// registration is the part of an RFC 7591 §3.2.1 response the tests read.
type registration struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	SecretExpiresAt         *int64   `json:"client_secret_expires_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	Type                    string   `json:"type"`
}

// jsonRequest is a request with a JSON body and, unless empty, a Bearer
// token.
func jsonRequest(f *ast.Fixture, method, path, body, token string) *http.Request {
	r := f.NewRequest(method, path, nil)
	if body != "" {
		r.Body = nopCloser(body)
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

const spaRegistration = `{"client_name":"Registered SPA","redirect_uris":["https://reg.example/cb"]}`

// register registers a client and fails the test unless it is created.
func register(t *testing.T, f *ast.Fixture, body, token string) registration {
	t.Helper()
	res := f.Serve(t, jsonRequest(f, http.MethodPost, "/register", body, token))
	if res.Code != http.StatusCreated {
		t.Fatalf("registration: %s", res)
	}
	var reg registration
	res.JSON(&reg)
	if res.Header.Get("Location") != reg.RegistrationClientURI || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Location %q for %q, Cache-Control %q", res.Header.Get("Location"), reg.RegistrationClientURI, res.Header.Get("Cache-Control"))
	}
	return reg
}

// TestRegisterOpen: RFC 7591 under the open policy. Anyone may register
// a public third-party client, never a confidential or first-party one,
// and the client works at once (with the consent page).
func TestRegisterOpen(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen})
	reg := register(t, f, `{"client_name":"Registered SPA","redirect_uris":["https://reg.example/cb"],
		"type":"first_party","bypass_consent_for_offline_access":true,"unknown_member":1}`, "")
	if reg.ClientID == "" || reg.ClientSecret != "" || reg.SecretExpiresAt != nil || reg.RegistrationAccessToken == "" ||
		reg.RegistrationClientURI != ast.Issuer+"/register?client_id="+reg.ClientID || reg.ClientName != "Registered SPA" ||
		reg.TokenEndpointAuthMethod != "none" || strings.Join(reg.GrantTypes, " ") != "authorization_code" ||
		strings.Join(reg.ResponseTypes, " ") != "code" || reg.Type != "" {
		t.Errorf("registration response %+v", reg)
	}
	c := f.Client(reg.ClientID)
	if c == nil || c.Type != "third_party_public" || !c.Dynamic || c.BypassConsentForOfflineAccess {
		t.Fatalf("registered client %+v", c)
	}
	b := f.NewBrowser(t)
	res := b.Login(b.Authorize(f.AuthorizeQuery(reg.ClientID, "openid")))
	if !b.OnPage(res, "/consent") {
		t.Fatalf("a registered client skipped the consent page: %s", res)
	}
	code := b.Consent(res, "allow").RedirectQuery().Get("code")
	f.Exchange(t, reg.ClientID, code)
}

// TestRegisterInvalid: invalid metadata is refused naming the field
// (RFC 7591 §3.2.2), and unreadable requests are refused as such.
func TestRegisterInvalid(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen})
	tests := []struct {
		name   string
		body   string
		ctype  string // default application/json
		status int
		code   string
		field  string // named in error_description
	}{
		{"no redirect URIs", `{"client_name":"x"}`, "", 400, "invalid_redirect_uri", "redirect_uris"},
		{"plain http redirect URI", `{"redirect_uris":["http://reg.example/cb"]}`, "", 400, "invalid_redirect_uri", "redirect_uris"},
		{"redirect URI with a fragment", `{"redirect_uris":["https://reg.example/cb#x"]}`, "", 400, "invalid_redirect_uri", "redirect_uris"},
		{"confidential, anonymously", `{"redirect_uris":["https://reg.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, "", 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"unknown auth method", `{"redirect_uris":["https://reg.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "", 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"back-channel logout, anonymously", `{"redirect_uris":["https://reg.example/cb"],"backchannel_logout_uri":"https://reg.example/bc"}`, "", 400, "invalid_client_metadata", "backchannel_logout_uri"},
		{"unknown scope", `{"redirect_uris":["https://reg.example/cb"],"scope":"openid admin"}`, "", 400, "invalid_client_metadata", "scope"},
		{"implicit response type", `{"redirect_uris":["https://reg.example/cb"],"response_types":["token"]}`, "", 400, "invalid_client_metadata", "response_types"},
		{"no response types", `{"redirect_uris":["https://reg.example/cb"],"response_types":[]}`, "", 400, "invalid_client_metadata", "response_types"},
		{"unknown grant type", `{"redirect_uris":["https://reg.example/cb"],"grant_types":["client_credentials"]}`, "", 400, "invalid_client_metadata", "grant_types"},
		{"refresh_token alone", `{"redirect_uris":["https://reg.example/cb"],"grant_types":["refresh_token"]}`, "", 400, "invalid_client_metadata", "grant_types"},
		{"name of the wrong type", `{"redirect_uris":["https://reg.example/cb"],"client_name":7}`, "", 400, "invalid_client_metadata", "client_name"},
		{"ID token algorithm without a key", `{"redirect_uris":["https://reg.example/cb"],"id_token_signed_response_alg":"EdDSA"}`, "", 400, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"ID token algorithm never supported", `{"redirect_uris":["https://reg.example/cb"],"id_token_signed_response_alg":"HS256"}`, "", 400, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"http logo", `{"redirect_uris":["https://reg.example/cb"],"logo_uri":"http://reg.example/logo.png"}`, "", 400, "invalid_client_metadata", "logo_uri"},
		{"not an object", `["https://reg.example/cb"]`, "", 400, "invalid_client_metadata", ""},
		{"two objects", spaRegistration + spaRegistration, "", 400, "invalid_client_metadata", ""},
		{"null", `null`, "", 400, "invalid_client_metadata", ""},
		{"form body", "redirect_uris=https://reg.example/cb", "application/x-www-form-urlencoded", 415, "invalid_request", ""},
		{"too large", `{"client_name":"` + strings.Repeat("x", 70<<10) + `"}`, "", 413, "invalid_request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := jsonRequest(f, http.MethodPost, "/register", tc.body, "")
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			res := f.Serve(t, r)
			wantJSONError(t, res, tc.status, tc.code)
			var e struct {
				Description string `json:"error_description"`
			}
			res.JSON(&e)
			if !strings.HasPrefix(e.Description, tc.field) {
				t.Errorf("error_description %q does not name %s", e.Description, tc.field)
			}
		})
	}
}

// TestRegisterRateLimit: anonymous registrations are limited per address
// (429 with Retry-After), and the bucket refills with time.
func TestRegisterRateLimit(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen, Configure: func(c *authserver.Config) {
		c.Registration.RateBurst, c.Registration.RateInterval = 2, time.Minute
	}})
	from := func(ip string) *ast.Response {
		r := jsonRequest(f, http.MethodPost, "/register", spaRegistration, "")
		r.RemoteAddr = ip + ":4000"
		return f.Serve(t, r)
	}
	for i := range 2 {
		if res := from("198.51.100.7"); res.Code != http.StatusCreated {
			t.Fatalf("registration %d: %s", i+1, res)
		}
	}
	res := from("198.51.100.7")
	wantJSONError(t, res, http.StatusTooManyRequests, "temporarily_unavailable")
	if res.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if res := from("203.0.113.8"); res.Code != http.StatusCreated {
		t.Errorf("another address is limited too: %s", res)
	}
	f.Clock.Advance(time.Minute)
	if res := from("198.51.100.7"); res.Code != http.StatusCreated {
		t.Errorf("after the interval: %s", res)
	}
}

// TestRegisterToken: under the token policy an initial access token is
// required (RFC 7591 §3), and confidential clients may register; their
// secret works at the token endpoint.
func TestRegisterToken(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationToken})
	const confidential = `{"client_name":"Registered web app","redirect_uris":["https://web.example/cb"],"token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code","refresh_token"]}`
	for _, tc := range []struct {
		name, token, challenge string
	}{
		{"no token", "", `Bearer realm="` + ast.Issuer + `"`},
		{"wrong token", "wrong-initial-access-token", `error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Serve(t, jsonRequest(f, http.MethodPost, "/register", confidential, tc.token))
			wantJSONError(t, res, http.StatusUnauthorized, "invalid_token")
			if ch := res.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q", ch, tc.challenge)
			}
		})
	}
	reg := register(t, f, confidential, ast.InitialAccessToken)
	if reg.ClientSecret == "" || reg.SecretExpiresAt == nil || *reg.SecretExpiresAt != 0 || reg.TokenEndpointAuthMethod != "client_secret_post" {
		t.Fatalf("confidential registration %+v", reg)
	}
	if c := f.Client(reg.ClientID); c == nil || c.Type != "third_party" {
		t.Fatalf("registered client %+v", c)
	}
	f.SetSecret(reg.ClientID, reg.ClientSecret)
	tok := f.TokensFor(t, reg.ClientID, "openid offline_access")
	if tok.RefreshToken == "" {
		t.Errorf("a client registered for refresh_token got none")
	}
	public := register(t, f, spaRegistration, ast.InitialAccessToken)
	if public.TokenEndpointAuthMethod != "client_secret_basic" || public.ClientSecret == "" {
		t.Errorf("without an auth method the token policy registers client_secret_basic (RFC 7591 §2): %+v", public)
	}
}

// TestRegisterManagement: RFC 7592. The registration access token reads,
// replaces and deletes its client, and nothing else does.
func TestRegisterManagement(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen})
	reg := register(t, f, spaRegistration, "")
	other := register(t, f, spaRegistration, "")
	path := "/register?client_id=" + reg.ClientID
	read := func(t *testing.T, token string) *ast.Response {
		return f.Serve(t, jsonRequest(f, http.MethodGet, path, "", token))
	}

	t.Run("read", func(t *testing.T) {
		res := read(t, reg.RegistrationAccessToken)
		var got registration
		res.JSON(&got)
		if res.Code != http.StatusOK || got.ClientID != reg.ClientID || got.ClientName != "Registered SPA" ||
			got.RegistrationAccessToken != "" || got.RegistrationClientURI != reg.RegistrationClientURI {
			t.Errorf("%s", res)
		}
	})
	for _, tc := range []struct{ name, path, token string }{
		{"no token", path, ""},
		{"another client's token", path, other.RegistrationAccessToken},
		{"unknown client", "/register?client_id=nobody", reg.RegistrationAccessToken},
		{"static client", "/register?client_id=" + ast.ThirdParty, reg.RegistrationAccessToken},
	} {
		t.Run("read with "+tc.name, func(t *testing.T) {
			wantJSONError(t, f.Serve(t, jsonRequest(f, http.MethodGet, tc.path, "", tc.token)), http.StatusUnauthorized, "invalid_token")
		})
	}

	updates := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"no client_id", `{"redirect_uris":["https://reg.example/cb"]}`, 400, "invalid_request"},
		{"another client_id", `{"client_id":"` + other.ClientID + `","redirect_uris":["https://reg.example/cb"]}`, 400, "invalid_request"},
		{"registration token in the body", `{"client_id":"` + reg.ClientID + `","redirect_uris":["https://reg.example/cb"],"registration_access_token":"x"}`, 400, "invalid_request"},
		{"a chosen secret", `{"client_id":"` + reg.ClientID + `","redirect_uris":["https://reg.example/cb"],"client_secret":"mine"}`, 400, "invalid_client_metadata"},
		{"becoming confidential", `{"client_id":"` + reg.ClientID + `","redirect_uris":["https://reg.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, 400, "invalid_client_metadata"},
		{"bad redirect URI", `{"client_id":"` + reg.ClientID + `","redirect_uris":["ftp://reg.example/cb"]}`, 400, "invalid_redirect_uri"},
		{"replaced", `{"client_id":"` + reg.ClientID + `","client_name":"Renamed","redirect_uris":["https://reg.example/new"]}`, 200, ""},
	}
	for _, tc := range updates {
		t.Run("update: "+tc.name, func(t *testing.T) {
			res := f.Serve(t, jsonRequest(f, http.MethodPut, path, tc.body, reg.RegistrationAccessToken))
			if tc.code != "" {
				wantJSONError(t, res, tc.status, tc.code)
				return
			}
			var got registration
			res.JSON(&got)
			if res.Code != tc.status || got.ClientName != "Renamed" || strings.Join(got.RedirectURIs, " ") != "https://reg.example/new" {
				t.Fatalf("%s", res)
			}
			if c := f.Client(reg.ClientID); c == nil || c.Name != "Renamed" || c.RedirectURIs[0] != "https://reg.example/new" {
				t.Errorf("the server does not see the update: %+v", c)
			}
		})
	}
	t.Run("update with another client's token", func(t *testing.T) {
		body := `{"client_id":"` + reg.ClientID + `","redirect_uris":["https://evil.example/cb"]}`
		wantJSONError(t, f.Serve(t, jsonRequest(f, http.MethodPut, path, body, other.RegistrationAccessToken)), http.StatusUnauthorized, "invalid_token")
	})

	t.Run("delete", func(t *testing.T) {
		res := f.Serve(t, jsonRequest(f, http.MethodDelete, path, "", other.RegistrationAccessToken))
		wantJSONError(t, res, http.StatusUnauthorized, "invalid_token")
		res = f.Serve(t, jsonRequest(f, http.MethodDelete, path, "", reg.RegistrationAccessToken))
		if res.Code != http.StatusNoContent {
			t.Fatalf("delete: %s", res)
		}
		wantJSONError(t, read(t, reg.RegistrationAccessToken), http.StatusUnauthorized, "invalid_token")
		wantErrorPage(t, f.Get(t, "/authorize?"+f.AuthorizeQuery(reg.ClientID, "openid").Encode()), http.StatusBadRequest, "invalid_request")
	})
}

// TestRegisterRouting: methods, query and CORS of /register, and no
// /register at all when registration is off.
func TestRegisterRouting(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen})
	tests := []struct {
		name   string
		method string
		path   string
		status int
		allow  string
	}{
		{"GET without client_id", http.MethodGet, "/register", 405, "POST"},
		{"PUT without client_id", http.MethodPut, "/register", 405, "POST"},
		{"POST with client_id", http.MethodPost, "/register?client_id=x", 405, "GET, PUT, DELETE"},
		{"repeated client_id", http.MethodGet, "/register?client_id=a&client_id=b", 400, ""},
		{"malformed query", http.MethodGet, "/register?client_id=%zz", 400, ""},
		{"PATCH", http.MethodPatch, "/register?client_id=x", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Serve(t, jsonRequest(f, tc.method, tc.path, "", ""))
			if res.Code != tc.status || (tc.allow != "" && res.Header.Get("Allow") != tc.allow) {
				t.Errorf("%s, Allow %q; want %d, Allow %q", res, res.Header.Get("Allow"), tc.status, tc.allow)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		r := f.NewRequest(http.MethodOptions, "/register", nil)
		r.Header.Set("Origin", "https://spa.example")
		res := f.Serve(t, r)
		if res.Code != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
			t.Errorf("%s %v", res, res.Header)
		}
	})
	t.Run("off", func(t *testing.T) {
		off := ast.New(t, ast.Options{})
		if res := off.Serve(t, jsonRequest(off, http.MethodPost, "/register", spaRegistration, "")); res.Code != http.StatusNotFound {
			t.Errorf("POST /register with registration off: %s, want 404", res)
		}
	})
}

// TestRegisterManagementRequests: RFC 7592 requests that are refused
// before the client is changed, and a confidential client repeating its
// own secret in an update (§2.2).
func TestRegisterManagementRequests(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationToken})
	reg := register(t, f, `{"redirect_uris":["https://web.example/cb"]}`, ast.InitialAccessToken)
	path := "/register?client_id=" + reg.ClientID
	update := func(secret string) string {
		return `{"client_id":"` + reg.ClientID + `","client_name":"Updated","redirect_uris":["https://web.example/cb"],"client_secret":` + secret + `}`
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"update not JSON", func() *http.Request {
			r := jsonRequest(f, http.MethodPut, path, "client_name=x", reg.RegistrationAccessToken)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), 415, "invalid_request"},
		{"secret not a string", jsonRequest(f, http.MethodPut, path, update("7"), reg.RegistrationAccessToken), 400, "invalid_client_metadata"},
		{"another secret", jsonRequest(f, http.MethodPut, path, update(`"not-the-secret"`), reg.RegistrationAccessToken), 400, "invalid_client_metadata"},
		{"HEAD", jsonRequest(f, http.MethodHead, path, "", reg.RegistrationAccessToken), 405, ""},
		{"Basic credentials", func() *http.Request {
			r := jsonRequest(f, http.MethodGet, path, "", "")
			r.SetBasicAuth(reg.ClientID, reg.ClientSecret)
			return r
		}(), 401, "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Serve(t, tc.req)
			if tc.code == "" {
				if res.Code != tc.status {
					t.Errorf("%s, want %d", res, tc.status)
				}
				return
			}
			wantJSONError(t, res, tc.status, tc.code)
		})
	}
	res := f.Serve(t, jsonRequest(f, http.MethodPut, path, update(`"`+reg.ClientSecret+`"`), reg.RegistrationAccessToken))
	var got registration
	res.JSON(&got)
	if res.Code != http.StatusOK || got.ClientName != "Updated" || got.ClientSecret != "" {
		t.Errorf("an update repeating the secret: %s", res)
	}
}

// TestRegisterClientAddress: anonymous registrations are counted per
// client address as the host establishes it (WithClientIP), not per TCP
// peer, which is a proxy behind one.
func TestRegisterClientAddress(t *testing.T) {
	f := ast.New(t, ast.Options{Registration: authserver.RegistrationOpen, Configure: func(c *authserver.Config) {
		c.Registration.RateBurst = 1
	}})
	from := func(peer, client string) int {
		r := jsonRequest(f, http.MethodPost, "/register", spaRegistration, "")
		r.RemoteAddr = peer + ":443"
		r = r.WithContext(authserver.WithClientIP(r.Context(), client))
		return f.Serve(t, r).Code
	}
	if got := from("10.0.0.1", "198.51.100.1"); got != http.StatusCreated {
		t.Fatalf("first registration: %d", got)
	}
	if got := from("10.0.0.1", "198.51.100.2"); got != http.StatusCreated {
		t.Errorf("another client behind the same proxy: %d, want 201", got)
	}
	if got := from("10.0.0.2", "198.51.100.1"); got != http.StatusTooManyRequests {
		t.Errorf("the same client through another proxy: %d, want 429", got)
	}
}
