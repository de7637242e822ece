package authserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestUserinfoClaims: OIDC Core §5.3, §5.4. The scopes of the access
// token release the claims, from the header or a POST body.
func TestUserinfoClaims(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tests := []struct {
		name  string
		user  string
		scope string
		want  map[string]any
	}{
		{"openid", ast.Alice, "openid", map[string]any{"sub": ast.AliceID}},
		{"profile", ast.Alice, "openid profile", map[string]any{"sub": ast.AliceID, "preferred_username": ast.Alice, "name": "Alice Liddell"}},
		{"email", ast.Alice, "openid email", map[string]any{"sub": ast.AliceID, "email": "alice@example.com", "email_verified": true}},
		{"phone", ast.Alice, "openid phone", map[string]any{"sub": ast.AliceID, "phone_number": "+1 555 0100", "phone_number_verified": true}},
		{"groups", ast.Alice, "openid groups", map[string]any{"sub": ast.AliceID, "groups": []any{"staff", "admins"}}},
		{"a user without a profile", ast.Bob, "openid profile email phone groups",
			map[string]any{"sub": ast.BobID, "preferred_username": ast.Bob, "groups": []any{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := f.NewBrowser(t)
			b.Username = tc.user
			tok := f.Exchange(t, ast.FirstParty, b.Code(f.AuthorizeQuery(ast.FirstParty, tc.scope)))
			for _, r := range []*http.Request{
				bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), tok.AccessToken),
				bearer(f.NewRequest(http.MethodPost, "/userinfo", nil), tok.AccessToken),
				f.NewRequest(http.MethodPost, "/userinfo", query("access_token", tok.AccessToken)),
			} {
				res := f.Serve(t, r)
				var got map[string]any
				if res.Code != http.StatusOK || json.Unmarshal([]byte(res.Body), &got) != nil {
					t.Fatalf("%s /userinfo: %s", r.Method, res)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s /userinfo: got %v, want %v", r.Method, got, tc.want)
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
				}
			}
		})
	}
}

// TestUserinfoRefused: RFC 6750 §3. Each refusal carries the challenge;
// a request without a token gets the bare one.
func TestUserinfoRefused(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tok := f.TokensFor(t, ast.ThirdParty, "openid offline_access")
	noOpenID := f.TokensFor(t, ast.FirstParty, "email")
	revoked := f.TokensFor(t, ast.FirstParty, "openid")
	if res := f.ClientPost(t, "/revoke", ast.FirstParty, query("token", revoked.AccessToken)); res.Code != http.StatusOK {
		t.Fatal(res)
	}
	get := func() *http.Request { return f.NewRequest(http.MethodGet, "/userinfo", nil) }
	withHeader := func(r *http.Request, v string) *http.Request { r.Header.Set("Authorization", v); return r }
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string // "" for the bare challenge
	}{
		{"no token", get(), 401, ""},
		{"token in the query", f.NewRequest(http.MethodGet, "/userinfo?access_token="+tok.AccessToken, nil), 400, "invalid_request"},
		{"Basic credentials", withHeader(get(), "Basic YTpi"), 400, "invalid_request"},
		{"empty Bearer", withHeader(get(), "Bearer "), 400, "invalid_request"},
		{"header and body", bearer(f.NewRequest(http.MethodPost, "/userinfo", query("access_token", tok.AccessToken)), tok.AccessToken), 400, "invalid_request"},
		{"garbage", bearer(get(), "not-a-token"), 401, "invalid_token"},
		{"an ID token", bearer(get(), tok.IDToken), 401, "invalid_token"},
		{"a refresh token", bearer(get(), tok.RefreshToken), 401, "invalid_token"},
		{"without openid", bearer(get(), noOpenID.AccessToken), 403, "insufficient_scope"},
		{"revoked", bearer(get(), revoked.AccessToken), 401, "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Serve(t, tc.req)
			ch := res.Header.Get("WWW-Authenticate")
			if tc.code == "" {
				if res.Code != tc.status || ch != `Bearer realm="`+ast.Issuer+`"` || res.Body != "" {
					t.Errorf("%s, WWW-Authenticate %q; want %d with the bare challenge", res, ch, tc.status)
				}
				return
			}
			wantJSONError(t, res, tc.status, tc.code)
			if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge with %s", ch, tc.code)
			}
		})
	}

	t.Run("revoked grant", func(t *testing.T) {
		if res := f.ClientPost(t, "/revoke", ast.ThirdParty, query("token", tok.RefreshToken)); res.Code != http.StatusOK {
			t.Fatal(res)
		}
		wantJSONError(t, f.Serve(t, bearer(get(), tok.AccessToken)), 401, "invalid_token")
	})
	t.Run("expired", func(t *testing.T) {
		fresh := f.TokensFor(t, ast.FirstParty, "openid")
		f.Clock.Advance(10*time.Minute + token.DefaultLeeway + time.Second)
		wantJSONError(t, f.Serve(t, bearer(get(), fresh.AccessToken)), 401, "invalid_token")
	})
}

// TestUserinfoBodyTooLarge: a POST body is read within the server's
// bound.
func TestUserinfoBodyTooLarge(t *testing.T) {
	f := ast.New(t, ast.Options{})
	res := f.Serve(t, f.NewRequest(http.MethodPost, "/userinfo", query("access_token", strings.Repeat("x", 70<<10))))
	wantJSONError(t, res, http.StatusRequestEntityTooLarge, "invalid_request")
}

// TestUserinfoAudience: the UserInfo endpoint is a resource of the issuer
// (RFC 9068 §4): it takes a token whose aud names the issuer — every
// token with openid, resources or not — and refuses one restricted to
// other resources alone.
func TestUserinfoAudience(t *testing.T) {
	f := ast.New(t, ast.Options{})
	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid email"), url.Values{"resource": {"https://api.example/"}})
	tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
	if aud := ast.Claims(t, tok.AccessToken)["aud"]; fmt.Sprint(aud) != fmt.Sprint([]any{"https://api.example", ast.Issuer}) {
		t.Errorf("aud = %v, want the resource and the issuer", aud)
	}
	if res := f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), tok.AccessToken)); res.Code != http.StatusOK {
		t.Errorf("userinfo with a resource token that names the issuer: %s", res)
	}
	// A token of this issuer, signed with its keys, restricted to the API.
	now := f.Clock.Now().Unix()
	foreign, err := f.Keys.Sign("ES256", "at+jwt", map[string]any{"iss": ast.Issuer, "sub": ast.AliceID, "aud": "https://api.example/",
		"client_id": ast.FirstParty, "scope": "openid email", "iat": now, "exp": now + 600, "jti": "jti-api-only"})
	if err != nil {
		t.Fatal(err)
	}
	wantJSONError(t, f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), foreign)), 401, "invalid_token")
}
