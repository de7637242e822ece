package authserver_test

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// introspection is the part of an RFC 7662 §2.2 answer the tests read.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	Username  string   `json:"username"`
	TokenType string   `json:"token_type"`
	Exp       int64    `json:"exp"`
	Iat       int64    `json:"iat"`
	Sub       string   `json:"sub"`
	Aud       any      `json:"aud"`
	Iss       string   `json:"iss"`
	JTI       string   `json:"jti"`
	AuthTime  int64    `json:"auth_time"`
	ACR       string   `json:"acr"`
	AMR       []string `json:"amr"`
}

func introspect(t *testing.T, f *ast.Fixture, clientID, tok string, extra url.Values) introspection {
	t.Helper()
	form := query("token", tok)
	for k, v := range extra {
		form[k] = v
	}
	res := f.ClientPost(t, "/introspect", clientID, form)
	if res.Code != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("introspection: %s", res)
	}
	var in introspection
	res.JSON(&in)
	if !in.Active && res.Body != "{\"active\":false}\n" {
		t.Errorf("an inactive answer says more than active=false: %s", res.Body)
	}
	return in
}

// TestIntrospect: RFC 7662. A client learns about its own tokens; a
// first_party (confidential) client about any; an inactive token, for
// whatever reason, is {"active":false} and nothing else.
func TestIntrospect(t *testing.T) {
	f := ast.New(t, ast.Options{})
	third := f.TokensFor(t, ast.ThirdParty, "openid email offline_access")
	public := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access")
	now := f.Clock.Now().Unix()

	t.Run("own access token", func(t *testing.T) {
		in := introspect(t, f, ast.ThirdParty, third.AccessToken, nil)
		want := introspection{Active: true, Scope: "openid email offline_access", ClientID: ast.ThirdParty, Username: ast.Alice,
			TokenType: "Bearer", Exp: now + 600, Iat: now, Sub: ast.AliceID, Aud: ast.Issuer, Iss: ast.Issuer, JTI: in.JTI,
			AuthTime: now, ACR: "urn:gatehouse:acr:pwd", AMR: []string{"pwd"}}
		if !reflect.DeepEqual(in, want) || in.JTI == "" {
			t.Errorf("got %+v, want %+v", in, want)
		}
	})
	t.Run("own refresh token", func(t *testing.T) {
		in := introspect(t, f, ast.ThirdParty, third.RefreshToken, query("token_type_hint", "access_token"))
		if !in.Active || in.ClientID != ast.ThirdParty || in.Username != ast.Alice || in.Sub != ast.AliceID ||
			in.Exp != now+int64(30*24*time.Hour/time.Second) || in.TokenType != "" {
			t.Errorf("got %+v", in)
		}
	})
	tests := []struct {
		name   string
		client string
		token  string
		active bool
	}{
		{"public client, own token", ast.ThirdPartyPublic, public.AccessToken, true},
		{"third party, another client's token", ast.ThirdParty, public.AccessToken, false},
		{"third party, another client's refresh token", ast.ThirdParty, public.RefreshToken, false},
		{"public client, another client's token", ast.ThirdPartyPublic, third.AccessToken, false},
		{"first party, any token", ast.FirstParty, public.AccessToken, true},
		{"first party, any refresh token", ast.FirstParty, third.RefreshToken, true},
		{"an ID token", ast.FirstParty, third.IDToken, false},
		{"garbage", ast.FirstParty, "not-a-token", false},
		{"unknown refresh token", ast.FirstParty, "gh_rt_unknown", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if in := introspect(t, f, tc.client, tc.token, nil); in.Active != tc.active {
				t.Errorf("active %v, want %v", in.Active, tc.active)
			}
		})
	}
}

// TestIntrospectLifecycle: a token stops being active when it expires,
// is rotated, or is revoked, and introspecting never changes anything.
func TestIntrospectLifecycle(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tok := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access")
	next := f.Refresh(t, ast.ThirdPartyPublic, tok.RefreshToken)
	if in := introspect(t, f, ast.ThirdPartyPublic, tok.RefreshToken, nil); in.Active {
		t.Errorf("a rotated refresh token is active")
	}
	// Introspecting the rotated token did not count as reuse.
	next = f.Refresh(t, ast.ThirdPartyPublic, next.RefreshToken)
	if in := introspect(t, f, ast.ThirdPartyPublic, next.RefreshToken, nil); !in.Active {
		t.Errorf("the current refresh token is inactive")
	}

	// Expiry, with the leeway verifiers allow for clock skew.
	f.Clock.Advance(10*time.Minute + token.DefaultLeeway - time.Second)
	if in := introspect(t, f, ast.ThirdPartyPublic, next.AccessToken, nil); !in.Active {
		t.Errorf("an access token is inactive within the leeway of its expiry")
	}
	f.Clock.Advance(2 * time.Second)
	if in := introspect(t, f, ast.ThirdPartyPublic, next.AccessToken, nil); in.Active {
		t.Errorf("an access token is active past its expiry")
	}

	fresh := f.Refresh(t, ast.ThirdPartyPublic, next.RefreshToken)
	if res := f.ClientPost(t, "/revoke", ast.ThirdPartyPublic, query("token", fresh.AccessToken)); res.Code != http.StatusOK {
		t.Fatalf("revoke: %s", res)
	}
	if in := introspect(t, f, ast.ThirdPartyPublic, fresh.AccessToken, nil); in.Active {
		t.Errorf("a revoked access token is active")
	}
	if in := introspect(t, f, ast.ThirdPartyPublic, fresh.RefreshToken, nil); !in.Active {
		t.Errorf("revoking an access token deactivated its refresh token")
	}
	if res := f.ClientPost(t, "/revoke", ast.ThirdPartyPublic, query("token", fresh.RefreshToken)); res.Code != http.StatusOK {
		t.Fatalf("revoke: %s", res)
	}
	if in := introspect(t, f, ast.ThirdPartyPublic, fresh.RefreshToken, nil); in.Active {
		t.Errorf("a refresh token of a revoked grant is active")
	}
}

// TestIntrospectRequests: what the introspection endpoint refuses.
func TestIntrospectRequests(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tok := f.TokensFor(t, ast.FirstParty, "openid")
	t.Run("no token", func(t *testing.T) {
		wantJSONError(t, f.ClientPost(t, "/introspect", ast.FirstParty, nil), 400, "invalid_request")
	})
	t.Run("no client authentication", func(t *testing.T) {
		res := f.Serve(t, f.NewRequest(http.MethodPost, "/introspect", query("token", tok.AccessToken)))
		wantJSONError(t, res, 401, "invalid_client")
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without a challenge")
		}
	})
	t.Run("bearer token instead of client authentication", func(t *testing.T) {
		res := f.Serve(t, bearer(f.NewRequest(http.MethodPost, "/introspect", query("token", tok.AccessToken)), tok.AccessToken))
		wantJSONError(t, res, 401, "invalid_client")
	})
	t.Run("not a form", func(t *testing.T) {
		r := f.NewRequest(http.MethodPost, "/introspect", nil)
		r.Body = nopCloser(`{"token":"x"}`)
		r.Header.Set("Content-Type", "application/json")
		r.SetBasicAuth(ast.FirstParty, ast.FirstPartySecret)
		wantJSONError(t, f.Serve(t, r), 400, "invalid_request")
	})
	t.Run("GET", func(t *testing.T) {
		if res := f.Get(t, "/introspect?token=x"); res.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s, want 405", res)
		}
	})
}

// TestIntrospectUnusualTokens: tokens signed with the server's own keys
// that it would never issue as access tokens are inactive, and revoking
// them changes nothing.
func TestIntrospectUnusualTokens(t *testing.T) {
	f := ast.New(t, ast.Options{})
	now := f.Clock.Now().Unix()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": ast.Issuer, "sub": ast.AliceID, "aud": ast.Issuer, "client_id": ast.FirstParty,
			"scope": "openid", "iat": now, "exp": now + 600, "jti": "jti-1"}
		edit(c)
		return c
	}
	tests := []struct {
		name   string
		alg    string
		typ    string
		claims map[string]any
		active bool
	}{
		{"issued without a grant", "ES256", "at+jwt", claims(func(map[string]any) {}), true},
		{"no jti", "ES256", "at+jwt", claims(func(c map[string]any) { delete(c, "jti") }), false},
		{"no client_id", "ES256", "at+jwt", claims(func(c map[string]any) { delete(c, "client_id") }), false},
		{"unknown grant", "ES256", "at+jwt", claims(func(c map[string]any) { c["gid"] = "no-such-grant" }), false},
		{"another issuer", "ES256", "at+jwt", claims(func(c map[string]any) { c["iss"] = "https://other.example" }), false},
		{"not yet valid", "ES256", "at+jwt", claims(func(c map[string]any) { c["nbf"] = now + 3600 }), false},
		{"typ JWT", "RS256", "JWT", claims(func(map[string]any) {}), false},
		{"logout token typ", "RS256", "logout+jwt", claims(func(map[string]any) {}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := f.Keys.Sign(tc.alg, tc.typ, tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if in := introspect(t, f, ast.FirstParty, raw, nil); in.Active != tc.active {
				t.Errorf("active %v, want %v", in.Active, tc.active)
			}
			if res := f.ClientPost(t, "/revoke", ast.FirstParty, query("token", raw)); res.Code != http.StatusOK {
				t.Errorf("revoke: %s", res)
			}
		})
	}
}
