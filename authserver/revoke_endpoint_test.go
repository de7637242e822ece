package authserver_test

import (
	"net/http"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestRevoke: RFC 7009. A refresh token revokes its grant with every
// access token issued under it; an access token is revoked on its own.
// The answer is 200 for any well-formed request, even when nothing was
// revoked, and another client's tokens are left alone.
func TestRevoke(t *testing.T) {
	f := ast.New(t, ast.Options{})
	works := func(t *testing.T, clientID string, tok ast.Tokens) (access, refresh bool) {
		t.Helper()
		access = f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), tok.AccessToken)).Code == http.StatusOK
		if tok.RefreshToken != "" {
			refresh = introspect(t, f, clientID, tok.RefreshToken, nil).Active
		}
		return access, refresh
	}
	tests := []struct {
		name         string
		owner, by    string
		which        string // "access" or "refresh"
		hint         string
		access, rtOK bool // whether each still works afterwards
	}{
		{"refresh token", ast.ThirdParty, ast.ThirdParty, "refresh", "", false, false},
		{"refresh token, wrong hint", ast.ThirdParty, ast.ThirdParty, "refresh", "access_token", false, false},
		{"access token", ast.ThirdParty, ast.ThirdParty, "access", "", false, true},
		{"public client's refresh token", ast.ThirdPartyPublic, ast.ThirdPartyPublic, "refresh", "refresh_token", false, false},
		{"another client's refresh token", ast.ThirdParty, ast.FirstParty, "refresh", "", true, true},
		{"another client's access token", ast.ThirdParty, ast.ThirdPartyPublic, "access", "", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := f.TokensFor(t, tc.owner, "openid offline_access")
			raw := tok.AccessToken
			if tc.which == "refresh" {
				raw = tok.RefreshToken
			}
			form := query("token", raw)
			if tc.hint != "" {
				form.Set("token_type_hint", tc.hint)
			}
			res := f.ClientPost(t, "/revoke", tc.by, form)
			if res.Code != http.StatusOK || res.Body != "" || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("revocation: %s %v", res, res.Header)
			}
			if access, refresh := works(t, tc.owner, tok); access != tc.access || refresh != tc.rtOK {
				t.Errorf("afterwards access token works %v, refresh token %v; want %v, %v", access, refresh, tc.access, tc.rtOK)
			}
		})
	}
	for _, raw := range []string{"gh_rt_unknown", "not-a-token", "eyJhbGciOiJub25lIn0.e30."} {
		t.Run("unknown token "+raw, func(t *testing.T) {
			if res := f.ClientPost(t, "/revoke", ast.FirstParty, query("token", raw)); res.Code != http.StatusOK {
				t.Errorf("%s, want 200", res)
			}
		})
	}
	t.Run("revoking twice", func(t *testing.T) {
		tok := f.TokensFor(t, ast.FirstParty, "openid")
		for range 2 {
			if res := f.ClientPost(t, "/revoke", ast.FirstParty, query("token", tok.AccessToken)); res.Code != http.StatusOK {
				t.Fatalf("%s", res)
			}
		}
	})
	t.Run("no token", func(t *testing.T) {
		wantJSONError(t, f.ClientPost(t, "/revoke", ast.FirstParty, nil), 400, "invalid_request")
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := f.NewRequest(http.MethodPost, "/revoke", query("token", "x"))
		r.SetBasicAuth(ast.FirstParty, "wrong")
		res := f.Serve(t, r)
		wantJSONError(t, res, 401, "invalid_client")
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without a challenge")
		}
	})
	t.Run("too large", func(t *testing.T) {
		r := f.NewRequest(http.MethodPost, "/revoke", nil)
		r.Body = nopCloser("token=" + string(make([]byte, 70<<10)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantJSONError(t, f.Serve(t, r), 413, "invalid_request")
	})
}
