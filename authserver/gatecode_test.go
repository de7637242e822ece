package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const (
	gateRedirect = "https://app.example/.gatehouse/callback"
	gateVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	gateNonce    = "n-0S6_WzA2Mj"
)

// newGateTestServer is a test server whose clients include the gate's,
// registered for gateRedirect, and whose user alice has a profile.
func newGateTestServer(t *testing.T) *Server {
	t.Helper()
	s := newTestServer(t, fuzzIssuer, "")
	users, err := identity.NewStaticDirectory([]*identity.User{{
		ID: "alice", Username: "alice", Name: "Alice Liddell", Email: "alice@example.com", EmailVerified: true,
		Groups: []string{"staff"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	gc := clients.NewGate(s.cfg.Clients)
	if err := gc.Register(gateRedirect); err != nil {
		t.Fatal(err)
	}
	s.cfg.Users, s.cfg.Clients = users, gc
	return s
}

// gateAuthTime is when alice signed in, in every test code.
var gateAuthTime = time.Unix(1700000000, 0)

// issueGateCode stores a code as the authorization endpoint would for a
// gate login, changed by edit, and returns it.
func issueGateCode(t *testing.T, s *Server, edit func(*store.AuthCode)) string {
	t.Helper()
	raw, hash := randomToken(codePrefix)
	now := s.now()
	c := store.AuthCode{
		Hash: hash, GrantID: randomID(), ClientID: clients.GateID, Subject: "alice", SessionIDHash: "session-hash",
		RedirectURI: gateRedirect, Scopes: []string{"openid", "profile", "email", "groups"},
		Nonce: gateNonce, CodeChallenge: s256(gateVerifier), CodeChallengeMethod: "S256",
		AuthTime: gateAuthTime, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}
	if edit != nil {
		edit(&c)
	}
	if err := s.cfg.Store.CreateAuthCode(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return raw
}

// s256 is the test's own S256 code_challenge (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestRedeemGateCode: the in-process redemption makes the token
// endpoint's checks, and a good code yields the user's released claims.
func TestRedeemGateCode(t *testing.T) {
	ok := GateCodeRequest{RedirectURI: gateRedirect, Verifier: gateVerifier, Nonce: gateNonce}
	tests := []struct {
		name     string
		edit     func(*store.AuthCode)
		req      func(*GateCodeRequest)
		wantCode oautherr.Code // "" for success
	}{
		{"good code", nil, nil, ""},
		{"no code", nil, func(r *GateCodeRequest) { r.Code = "" }, "invalid_request"},
		{"unknown code", nil, func(r *GateCodeRequest) { r.Code = "gh_ac_unknown" }, "invalid_grant"},
		{"wrong verifier", nil, func(r *GateCodeRequest) { r.Verifier = strings.Repeat("a", 43) }, "invalid_grant"},
		{"no verifier", nil, func(r *GateCodeRequest) { r.Verifier = "" }, "invalid_grant"},
		{"code without a challenge", func(c *store.AuthCode) { c.CodeChallenge, c.CodeChallengeMethod = "", "" },
			func(r *GateCodeRequest) { r.Verifier = "" }, "invalid_grant"},
		{"other redirect_uri", nil, func(r *GateCodeRequest) { r.RedirectURI = "https://evil.example/.gatehouse/callback" }, "invalid_grant"},
		{"no redirect_uri", nil, func(r *GateCodeRequest) { r.RedirectURI = "" }, "invalid_request"},
		{"other nonce", nil, func(r *GateCodeRequest) { r.Nonce = "other" }, "invalid_grant"},
		{"code of another client", func(c *store.AuthCode) { c.ClientID = "native" }, nil, "invalid_grant"},
		{"expired code", func(c *store.AuthCode) { c.ExpiresAt = c.CreatedAt }, nil, "invalid_grant"},
		{"user gone", func(c *store.AuthCode) { c.Subject = "bob" }, nil, "invalid_grant"},
	}
	s := newGateTestServer(t) // each case has its own code
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			req.Code = issueGateCode(t, s, tc.edit)
			if tc.req != nil {
				tc.req(&req)
			}
			l, err := s.RedeemGateCode(context.Background(), req)
			if tc.wantCode != "" {
				var oe *oautherr.Error
				if !errors.As(err, &oe) || oe.Code != tc.wantCode {
					t.Fatalf("RedeemGateCode: %v, want %s", err, tc.wantCode)
				}
				// A refused request never burns the code (RFC 6749
				// §4.1.3 checks run before consumption).
				if c, err := s.cfg.Store.GetAuthCode(context.Background(), hashToken(req.Code)); err == nil && !c.RedeemedAt.IsZero() {
					t.Fatal("a refused redemption consumed the code")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := GateLogin{Subject: "alice", PreferredUsername: "alice", Name: "Alice Liddell", Email: "alice@example.com",
				EmailVerified: true, Groups: []string{"staff"}, AuthTime: gateAuthTime, GrantID: l.GrantID, SessionIDHash: "session-hash"}
			if l.GrantID == "" || !l.AuthTime.Equal(want.AuthTime) || l.Subject != want.Subject || l.PreferredUsername != want.PreferredUsername ||
				l.Name != want.Name || l.Email != want.Email || !l.EmailVerified || !slices.Equal(l.Groups, want.Groups) ||
				l.SessionIDHash != want.SessionIDHash {
				t.Fatalf("login = %+v, want %+v", *l, want)
			}
			g, err := s.cfg.Store.GetGrant(context.Background(), l.GrantID)
			if err != nil || g.ClientID != clients.GateID || g.SessionIDHash != "session-hash" {
				t.Fatalf("grant %+v, %v", g, err)
			}
		})
	}
}

// TestRedeemGateCodeScopes: only the claims the granted scopes release
// (OIDC Core §5.4) come back, as in the ID token.
func TestRedeemGateCodeScopes(t *testing.T) {
	s := newGateTestServer(t)
	code := issueGateCode(t, s, func(c *store.AuthCode) { c.Scopes = []string{"openid"} })
	l, err := s.RedeemGateCode(context.Background(), GateCodeRequest{Code: code, RedirectURI: gateRedirect, Verifier: gateVerifier, Nonce: gateNonce})
	if err != nil {
		t.Fatal(err)
	}
	if l.Subject != "alice" || l.PreferredUsername != "" || l.Name != "" || l.Email != "" || l.EmailVerified || l.Groups != nil {
		t.Fatalf("openid alone released %+v", *l)
	}
}

// TestRedeemGateCodeOnce: a code is redeemed once, whichever path comes
// first; the second use is refused and revokes the grant the first
// created (RFC 6749 §4.1.2).
func TestRedeemGateCodeOnce(t *testing.T) {
	redeemHTTP := func(s *Server, code string) int {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {gateRedirect},
			"code_verifier": {gateVerifier}, "client_id": {clients.GateID}}
		r := httptest.NewRequest(http.MethodPost, fuzzIssuer+"/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		name          string
		first, second string // "gate" or "http"
	}{
		{"gate then gate", "gate", "gate"},
		{"gate then token endpoint", "gate", "http"},
		{"token endpoint then gate", "http", "gate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGateTestServer(t)
			var grantID string
			code := issueGateCode(t, s, func(c *store.AuthCode) { grantID = c.GrantID })
			redeem := func(how string) bool {
				if how == "http" {
					return redeemHTTP(s, code) == http.StatusOK
				}
				_, err := s.RedeemGateCode(context.Background(), GateCodeRequest{Code: code, RedirectURI: gateRedirect, Verifier: gateVerifier, Nonce: gateNonce})
				return err == nil
			}
			if !redeem(tc.first) {
				t.Fatal("first redemption refused")
			}
			if g, err := s.cfg.Store.GetGrant(context.Background(), grantID); err != nil || !g.RevokedAt.IsZero() {
				t.Fatalf("grant after the first redemption: %+v, %v", g, err)
			}
			if redeem(tc.second) {
				t.Fatal("second redemption accepted")
			}
			if g, err := s.cfg.Store.GetGrant(context.Background(), grantID); err != nil || g.RevokedAt.IsZero() {
				t.Fatalf("the replay did not revoke the grant: %+v, %v", g, err)
			}
		})
	}
}

// TestRedeemGateCodeClient: only the gate's registered first-party public
// client redeems in process.
func TestRedeemGateCodeClient(t *testing.T) {
	s := newTestServer(t, fuzzIssuer, "")
	s.cfg.Clients = clients.NewGate(s.cfg.Clients) // no redirect URI registered: no gate client
	_, err := s.RedeemGateCode(context.Background(), GateCodeRequest{Code: "gh_ac_x", RedirectURI: gateRedirect, Verifier: gateVerifier, Nonce: gateNonce})
	var oe *oautherr.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("unregistered gate client: %v, want invalid_client", err)
	}
}
