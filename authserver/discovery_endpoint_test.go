package authserver_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// wantMetadata is the discovery document of issuer: exactly what is
// implemented, nothing more.
func wantMetadata(issuer string, registration bool) map[string]any {
	auth := []any{"client_secret_basic", "client_secret_post", "none"}
	m := map[string]any{
		"issuer":                                        issuer,
		"authorization_endpoint":                        issuer + "/authorize",
		"token_endpoint":                                issuer + "/token",
		"userinfo_endpoint":                             issuer + "/userinfo",
		"jwks_uri":                                      issuer + "/jwks.json",
		"introspection_endpoint":                        issuer + "/introspect",
		"revocation_endpoint":                           issuer + "/revoke",
		"end_session_endpoint":                          issuer + "/logout",
		"scopes_supported":                              []any{"openid", "profile", "email", "phone", "groups", "offline_access"},
		"response_types_supported":                      []any{"code"},
		"response_modes_supported":                      []any{"query"},
		"grant_types_supported":                         []any{"authorization_code", "refresh_token"},
		"subject_types_supported":                       []any{"public"},
		"id_token_signing_alg_values_supported":         []any{"RS256", "ES256"},
		"token_endpoint_auth_methods_supported":         auth,
		"introspection_endpoint_auth_methods_supported": auth,
		"revocation_endpoint_auth_methods_supported":    auth,
		"code_challenge_methods_supported":              []any{"S256"},
		"claims_supported": []any{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
			"name", "preferred_username", "email", "email_verified", "phone_number", "phone_number_verified", "groups", "sid",
			"acr", "amr"},
		// Without MFA only the password class is reachable.
		"acr_values_supported":                           []any{"urn:gatehouse:acr:pwd"},
		"prompt_values_supported":                        []any{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"claims_parameter_supported":                     false,
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
	}
	if registration {
		m["registration_endpoint"] = issuer + "/register"
	}
	return m
}

// TestDiscovery: OpenID Connect Discovery and RFC 8414 serve the same
// document, which advertises exactly what the server implements, at the
// addresses each specification gives for an issuer with or without a
// path.
func TestDiscovery(t *testing.T) {
	tests := []struct {
		name         string
		issuer       string
		registration authserver.RegistrationPolicy
		paths        []string
	}{
		{"root issuer", ast.Issuer, "", []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}},
		{"with registration", ast.Issuer, authserver.RegistrationToken, []string{"/.well-known/openid-configuration"}},
		{"issuer with a path", ast.Issuer + "/tenant", "", []string{"/tenant/.well-known/openid-configuration",
			"/tenant/.well-known/oauth-authorization-server"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ast.New(t, ast.Options{Issuer: tc.issuer, Registration: tc.registration})
			want := wantMetadata(tc.issuer, tc.registration != "")
			for _, path := range tc.paths {
				r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://issuer.example"+path, nil)
				res := f.Serve(t, r)
				var got map[string]any
				if res.Code != http.StatusOK || json.Unmarshal([]byte(res.Body), &got) != nil {
					t.Fatalf("%s: %s", path, res)
				}
				if !reflect.DeepEqual(got, want) {
					for k := range merged(got, want) {
						if !reflect.DeepEqual(got[k], want[k]) {
							t.Errorf("%s: %s = %v, want %v", path, k, got[k], want[k])
						}
					}
				}
				if res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "public, max-age=3600" {
					t.Errorf("%s: headers %v", path, res.Header)
				}
			}
		})
	}
}

// TestDiscoveryRFC8414PathIssuer: RFC 8414 §3.1 places the metadata of
// an issuer with a path at the host's root with the path appended.
func TestDiscoveryRFC8414PathIssuer(t *testing.T) {
	f := ast.New(t, ast.Options{Issuer: ast.Issuer + "/tenant"})
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://issuer.example/.well-known/oauth-authorization-server/tenant", nil)
	if res := f.Serve(t, r); res.Code != http.StatusOK || !f.Server.Owns(r) {
		t.Fatalf("RFC 8414 §3.1 metadata address: %s", res)
	}
}

func merged(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestJWKS: the key set publishes the public halves of the signing keys
// only.
func TestJWKS(t *testing.T) {
	f := ast.New(t, ast.Options{})
	res := f.Get(t, "/jwks.json")
	if res.Code != http.StatusOK || res.Header.Get("Content-Type") != "application/jwk-set+json" || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("%s %v", res, res.Header)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	res.JSON(&set)
	kids := map[any]any{}
	for _, k := range set.Keys {
		kids[k["kid"]] = k["alg"]
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes its private member %s", k["kid"], private)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("key %v use %v", k["kid"], k["use"])
		}
	}
	if len(kids) != 2 || kids[ast.KeyIDES256] != "ES256" || kids[ast.KeyIDRS256] != "RS256" {
		t.Errorf("keys %v", kids)
	}
	r := f.NewRequest(http.MethodOptions, "/jwks.json", nil)
	r.Header.Set("Origin", "https://spa.example")
	if res := f.Serve(t, r); res.Code != http.StatusNoContent || !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %s %v", res, res.Header)
	}
}
