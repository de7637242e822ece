package authserver_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// Service clients of the client_credentials tests.
const (
	serviceClient       = "svc-reports"
	serviceSecret       = "svc-reports-secret-0123456789abcdef"
	collidingClient     = ast.AliceID // a client id that is also a user's subject
	collidingSecret     = "colliding-secret-0123456789abcdef"
	serviceResource     = "https://api.example/reports"
	serviceResourceForm = "HTTPS://API.example:443/reports"
)

// clientCredentialsFixture is the standard fixture with the grant on (or
// off) and two service clients that may use it.
func clientCredentialsFixture(t *testing.T, enabled bool) *ast.Fixture {
	t.Helper()
	service := func(id, secret string) *clients.Client {
		return &clients.Client{ID: id, SecretHashes: []string{clients.HashSecret(secret)}, Metadata: clients.Metadata{
			Name: "Reports service", Type: clients.FirstParty,
			// No redirect URI: a client without the code flow needs none.
			GrantTypes: []string{clients.GrantClientCredentials},
			Scopes:     []string{"openid", "groups", "email", "offline_access"},
		}}
	}
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{service(serviceClient, serviceSecret), service(collidingClient, collidingSecret)},
		Secrets: map[string]string{serviceClient: serviceSecret, collidingClient: collidingSecret},
		Configure: func(c *authserver.Config) {
			c.ClientCredentials = enabled
		},
	})
}

func clientCredentials(edit url.Values) url.Values {
	return ast.Edit(url.Values{"grant_type": {"client_credentials"}}, edit)
}

// TestClientCredentials: RFC 6749 §4.4. The token's subject is the client
// (RFC 9068 §2.2); no refresh or ID token; the scope is the client's
// registered scopes less openid and offline_access unless it asks for
// fewer; resource sets the audience (RFC 8707).
func TestClientCredentials(t *testing.T) {
	f := clientCredentialsFixture(t, true)
	tests := []struct {
		name      string
		edit      url.Values
		wantScope string
		wantAud   any
	}{
		{"defaults", nil, "groups email", ast.Issuer},
		{"narrower scope", query("scope", "email"), "email", ast.Issuer},
		{"empty scope", query("scope", ""), "", ast.Issuer},
		{"resource", query("resource", serviceResourceForm), "groups email", serviceResource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.ClientPost(t, "/token", serviceClient, clientCredentials(tc.edit))
			tok := tokensOf(t, res)
			if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.IDToken != "" || tok.Scope != tc.wantScope || tok.ExpiresIn != 600 {
				t.Errorf("token response %s", res.Body)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			c := ast.Claims(t, tok.AccessToken)
			if c["sub"] != serviceClient || c["client_id"] != serviceClient || !reflect.DeepEqual(c["aud"], tc.wantAud) {
				t.Errorf("claims %v", c)
			}
			if tc.wantScope == "" && c["scope"] != nil || tc.wantScope != "" && c["scope"] != tc.wantScope {
				t.Errorf("scope claim %v, want %q", c["scope"], tc.wantScope)
			}
			for _, userClaim := range []string{"auth_time", "grant_id"} {
				if _, ok := c[userClaim]; ok {
					t.Errorf("a client's own token has %s: %v", userClaim, c)
				}
			}
		})
	}
}

// TestClientCredentialsRefused: every refusal, with its RFC 6749 §5.2
// code; none issues anything.
func TestClientCredentialsRefused(t *testing.T) {
	on := clientCredentialsFixture(t, true)
	off := clientCredentialsFixture(t, false)
	tests := []struct {
		name   string
		f      *ast.Fixture
		client string
		secret string // replaces the client's secret when set
		edit   url.Values
		status int
		code   string
	}{
		{"grant not enabled", off, serviceClient, "", nil, 400, "unsupported_grant_type"},
		{"client without the grant", on, ast.FirstParty, "", nil, 400, "unauthorized_client"},
		{"public client", on, ast.FirstPartyPublic, "", nil, 400, "unauthorized_client"},
		{"wrong secret", on, serviceClient, "wrong-secret", nil, 401, "invalid_client"},
		{"openid", on, serviceClient, "", query("scope", "openid"), 400, "invalid_scope"},
		{"offline_access", on, serviceClient, "", query("scope", "email offline_access"), 400, "invalid_scope"},
		{"scope not registered", on, serviceClient, "", query("scope", "phone"), 400, "invalid_scope"},
		{"unknown scope", on, serviceClient, "", query("scope", "admin"), 400, "invalid_scope"},
		{"malformed scope", on, serviceClient, "", query("scope", "a\x01b"), 400, "invalid_scope"},
		{"relative resource", on, serviceClient, "", query("resource", "/reports"), 400, "invalid_target"},
		{"resource with a fragment", on, serviceClient, "", query("resource", serviceResource+"#x"), 400, "invalid_target"},
		{"oversized resource", on, serviceClient, "", query("resource", "https://api.example/"+strings.Repeat("a", 5000)), 400, "invalid_target"},
		{"client id is a user's subject", on, collidingClient, "", nil, 400, "unauthorized_client"},
		{"too many resources", on, serviceClient, "", url.Values{"resource": strings.Split(strings.Repeat("https://a.example/,", 9), ",")[:9]}, 400, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.secret != "" {
				old := tc.f.Secret(tc.client)
				tc.f.SetSecret(tc.client, tc.secret)
				defer tc.f.SetSecret(tc.client, old)
			}
			res := tc.f.ClientPost(t, "/token", tc.client, clientCredentials(tc.edit))
			wantJSONError(t, res, tc.status, tc.code)
			if strings.Contains(res.Body, "access_token") {
				t.Errorf("a refused request issued a token: %s", res.Body)
			}
		})
	}
}

// TestClientCredentialsTokenUse: the token introspects as the client's
// own (no username), userinfo refuses it (no user, no openid), and once
// revoked it is inactive.
func TestClientCredentialsTokenUse(t *testing.T) {
	f := clientCredentialsFixture(t, true)
	tok := tokensOf(t, f.ClientPost(t, "/token", serviceClient, clientCredentials(nil)))
	in := introspect(t, f, serviceClient, tok.AccessToken, nil)
	if !in.Active || in.Sub != serviceClient || in.ClientID != serviceClient || in.Username != "" || in.Scope != "groups email" {
		t.Errorf("introspection %+v", in)
	}
	if in := introspect(t, f, ast.ThirdParty, tok.AccessToken, nil); in.Active {
		t.Errorf("another third-party client learned about the token: %+v", in)
	}
	res := f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), tok.AccessToken))
	if res.Code != http.StatusForbidden || !strings.Contains(res.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("userinfo with a client's own token: %s", res)
	}
	if res := f.ClientPost(t, "/revoke", serviceClient, query("token", tok.AccessToken)); res.Code != http.StatusOK {
		t.Fatalf("revocation: %s", res)
	}
	if in := introspect(t, f, serviceClient, tok.AccessToken, nil); in.Active {
		t.Errorf("a revoked token is active: %+v", in)
	}
}

// TestClientCredentialsDiscovery: the grant is advertised exactly when
// it is enabled.
func TestClientCredentialsDiscovery(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		f := clientCredentialsFixture(t, enabled)
		var m struct {
			GrantTypes []string `json:"grant_types_supported"`
		}
		f.Get(t, "/.well-known/openid-configuration").JSON(&m)
		want := []string{"authorization_code", "refresh_token"}
		if enabled {
			want = append(want, "client_credentials")
		}
		if !reflect.DeepEqual(m.GrantTypes, want) {
			t.Errorf("enabled=%v: grant_types_supported %v, want %v", enabled, m.GrantTypes, want)
		}
	}
}
