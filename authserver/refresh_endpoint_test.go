package authserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// TestRefreshPublicRotation: a public client gets a new refresh token
// on every use; presenting a used one again revokes the whole family
// (RFC 9700 §4.14.2), the newest token included.
func TestRefreshPublicRotation(t *testing.T) {
	f := ast.New(t, ast.Options{})
	first := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access")
	second := f.Refresh(t, ast.ThirdPartyPublic, first.RefreshToken)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh token not rotated: %q then %q", first.RefreshToken, second.RefreshToken)
	}
	if second.IDToken == "" || ast.Claims(t, second.IDToken)["nonce"] != nil {
		t.Errorf("a refreshed ID token must exist and carry no nonce: %q", second.IDToken)
	}
	third := f.Refresh(t, ast.ThirdPartyPublic, second.RefreshToken)

	// The first token comes back: reuse.
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, first.RefreshToken, nil), 400, "invalid_grant")
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, third.RefreshToken, nil), 400, "invalid_grant")
	if res := f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), third.AccessToken)); res.Code != http.StatusUnauthorized {
		t.Errorf("an access token of the revoked family still works at userinfo: %s", res)
	}
}

// TestRefreshConfidential: a confidential client keeps its refresh token,
// whose expiry slides with each use up to the grant's absolute end.
func TestRefreshConfidential(t *testing.T) {
	f := ast.New(t, ast.Options{Lifetimes: authserver.Lifetimes{RefreshTokenIdle: time.Hour, RefreshTokenMax: 3 * time.Hour}})
	tok := f.TokensFor(t, ast.FirstParty, "openid offline_access")
	rt := tok.RefreshToken
	// Used every 50 minutes, it outlives its one-hour idle limit...
	for i := range 3 {
		f.Clock.Advance(50 * time.Minute)
		next := f.Refresh(t, ast.FirstParty, rt)
		if next.RefreshToken != "" {
			t.Fatalf("use %d: a confidential client got a new refresh token", i+1)
		}
	}
	// ...but not the grant's three hours (2 h 30 min have passed).
	f.Clock.Advance(30 * time.Minute)
	wantJSONError(t, f.RefreshRequest(t, ast.FirstParty, rt, nil), 400, "invalid_grant")

	t.Run("idle", func(t *testing.T) {
		rt := f.TokensFor(t, ast.FirstParty, "openid offline_access").RefreshToken
		f.Clock.Advance(time.Hour)
		wantJSONError(t, f.RefreshRequest(t, ast.FirstParty, rt, nil), 400, "invalid_grant")
	})
	t.Run("public, idle", func(t *testing.T) {
		rt := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access").RefreshToken
		f.Clock.Advance(59 * time.Minute)
		rt = f.Refresh(t, ast.ThirdPartyPublic, rt).RefreshToken
		f.Clock.Advance(59 * time.Minute)
		rt = f.Refresh(t, ast.ThirdPartyPublic, rt).RefreshToken
		f.Clock.Advance(time.Hour)
		wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, rt, nil), 400, "invalid_grant")
	})
}

// TestRefreshClientLifetime: a client's own refresh_token_lifetime
// replaces the server's idle limit.
func TestRefreshClientLifetime(t *testing.T) {
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "short", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://short.example/cb"}, RefreshTokenLifetime: 10 * time.Minute,
		BypassConsentForOfflineAccess: true}}}})
	rt := f.TokensFor(t, "short", "openid offline_access").RefreshToken
	f.Clock.Advance(9 * time.Minute)
	rt = f.Refresh(t, "short", rt).RefreshToken
	f.Clock.Advance(10 * time.Minute)
	wantJSONError(t, f.RefreshRequest(t, "short", rt, nil), 400, "invalid_grant")
}

// TestRefreshScope: a refresh may narrow the scope, never widen it (RFC
// 6749 §6); narrowing does not shrink the grant.
func TestRefreshScope(t *testing.T) {
	f := ast.New(t, ast.Options{})
	rt := f.TokensFor(t, ast.FirstParty, "openid email offline_access").RefreshToken
	tests := []struct {
		name  string
		edit  url.Values
		scope string // "" for an error
		err   string
	}{
		{"same", nil, "openid email offline_access", ""},
		{"narrower", query("scope", "email"), "email", ""},
		{"narrower, repeated", query("scope", "openid openid"), "openid", ""},
		{"wider", query("scope", "openid profile"), "", "invalid_scope"},
		{"unknown", query("scope", "admin"), "", "invalid_scope"},
		{"malformed", query("scope", "openid\x7f"), "", "invalid_scope"},
		{"empty", query("scope", ""), "", "invalid_scope"},
		{"whole again after narrowing", nil, "openid email offline_access", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.RefreshRequest(t, ast.FirstParty, rt, tc.edit)
			if tc.err != "" {
				wantJSONError(t, res, 400, tc.err)
				return
			}
			var tok ast.Tokens
			res.JSON(&tok)
			if res.Code != http.StatusOK || tok.Scope != tc.scope || ast.Claims(t, tok.AccessToken)["scope"] != tc.scope {
				t.Fatalf("scope %q, want %q: %s", tok.Scope, tc.scope, res)
			}
			if hasID := tok.IDToken != ""; hasID != (tc.scope != "email") {
				t.Errorf("ID token present %v for scope %q", hasID, tc.scope)
			}
		})
	}
}

// TestRefreshRefused: refresh tokens of another client, of a revoked
// grant, or of the wrong kind are refused without side effects.
func TestRefreshRefused(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tok := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access")
	other := f.TokensFor(t, ast.FirstParty, "openid offline_access")

	// Another client cannot use it, and trying does not rotate it.
	wantJSONError(t, f.RefreshRequest(t, ast.FirstParty, tok.RefreshToken, nil), 400, "invalid_grant")
	next := f.Refresh(t, ast.ThirdPartyPublic, tok.RefreshToken)

	wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, next.AccessToken, nil), 400, "invalid_grant")
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, next.RefreshToken, query("resource", "https://api.example/")), 400, "invalid_target")

	// Revoked at the revocation endpoint: refused from then on.
	if res := f.ClientPost(t, "/revoke", ast.FirstParty, query("token", other.RefreshToken)); res.Code != http.StatusOK {
		t.Fatalf("revoke: %s", res)
	}
	wantJSONError(t, f.RefreshRequest(t, ast.FirstParty, other.RefreshToken, nil), 400, "invalid_grant")
}

// TestRefreshResources: the resources of the authorization carry over
// to refreshed access tokens, and may be narrowed per request.
func TestRefreshResources(t *testing.T) {
	f := ast.New(t, ast.Options{})
	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid offline_access"), url.Values{"resource": {"https://a.example/", "https://b.example/"}})
	tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
	refreshed := tokensOf(t, f.RefreshRequest(t, ast.FirstParty, tok.RefreshToken, query("resource", "https://b.example/")))
	if aud := fmt.Sprint(ast.Claims(t, refreshed.AccessToken)["aud"]); aud != "[https://b.example "+ast.Issuer+"]" {
		t.Errorf("aud %v, want the narrowed resource and the issuer (openid)", aud)
	}
}
