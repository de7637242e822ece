package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// userInfoOP is a fake OpenID Provider (the remote party) whose ID
// token carries idClaims and whose UserInfo endpoint answers userinfo.
type userInfoOP struct {
	srv      *httptest.Server
	key      *ecdsa.PrivateKey
	idClaims map[string]any
	userinfo func(w http.ResponseWriter)
	noUI     bool // no userinfo_endpoint in discovery
	uiCalls  atomic.Int32
	nonce    string
}

func newUserInfoOP(t *testing.T) *userInfoOP {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &userInfoOP{key: k}
	op.srv = httptest.NewServer(http.HandlerFunc(op.serve(t)))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *userInfoOP) serve(t *testing.T) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		iss := op.srv.URL
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			meta := map[string]any{"issuer": iss, "authorization_endpoint": iss + "/auth", "token_endpoint": iss + "/token",
				"jwks_uri": iss + "/keys", "id_token_signing_alg_values_supported": []string{"ES256"}}
			if !op.noUI {
				meta["userinfo_endpoint"] = iss + "/userinfo"
			}
			_ = json.NewEncoder(w).Encode(meta)
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		case "/token":
			claims := map[string]any{"iss": iss, "aud": "c", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "nonce": op.nonce}
			for k, v := range op.idClaims {
				claims[k] = v
			}
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: op.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
			if err != nil {
				t.Error(err)
				return
			}
			raw, err := jwt.Signed(sig).Claims(claims).Serialize()
			if err != nil {
				t.Error(err)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "upstream-at", "token_type": "Bearer", "expires_in": 60, "id_token": raw})
		case "/userinfo":
			op.uiCalls.Add(1)
			if r.Header.Get("Authorization") != "Bearer upstream-at" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			op.userinfo(w)
		default:
			http.NotFound(w, r)
		}
	}
}

func answer(v map[string]any) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { _ = json.NewEncoder(w).Encode(v) }
}

// TestUserInfoClaims: a provider that returns the profile claims from
// UserInfo only (OIDC Core §5.4) still gives the user a username, email
// and name; the ID token's own claims win, UserInfo for another subject
// or a failing UserInfo ends the sign-in, and UserInfo is not asked when
// the ID token has what is needed.
func TestUserInfoClaims(t *testing.T) {
	full := map[string]any{"sub": "u1", "preferred_username": "dana", "email": "dana@corp.example", "email_verified": true,
		"name": "Dana", "groups": []any{"eng"}, "amr": []any{"mfa"}, "auth_time": float64(1)}
	tests := []struct {
		name      string
		idClaims  map[string]any
		userinfo  func(http.ResponseWriter)
		noUI      bool
		want      Identity
		wantCalls int32
		wantCause Cause
	}{
		{name: "claims from UserInfo only", idClaims: map[string]any{"sub": "u1"}, userinfo: answer(full), wantCalls: 1,
			// amr and auth_time describe the sign-in: only the ID token's count.
			want: Identity{Subject: "u1", Username: "dana", Email: "dana@corp.example", EmailVerified: true, Name: "Dana", Groups: []string{"eng"}}},
		{name: "the ID token's claims win", wantCalls: 1,
			idClaims: map[string]any{"sub": "u1", "email": "other@corp.example", "preferred_username": "d2"},
			userinfo: answer(full),
			// email_verified of UserInfo was about its own email, not the ID token's.
			want: Identity{Subject: "u1", Username: "d2", Email: "other@corp.example", Name: "Dana", Groups: []string{"eng"}}},
		{name: "UserInfo's email without email_verified is unverified", wantCalls: 1,
			idClaims: map[string]any{"sub": "u1", "email_verified": true},
			userinfo: answer(map[string]any{"sub": "u1", "email": "dana@corp.example"}),
			want:     Identity{Subject: "u1", Email: "dana@corp.example"}},
		{name: "ID token complete: UserInfo not asked", idClaims: full, userinfo: answer(map[string]any{"sub": "u1", "name": "X"}),
			want: Identity{Subject: "u1", Username: "dana", Email: "dana@corp.example", EmailVerified: true, Name: "Dana",
				Groups: []string{"eng"}, AMR: []string{"mfa"}}},
		{name: "no UserInfo endpoint", idClaims: map[string]any{"sub": "u1"}, noUI: true, want: Identity{Subject: "u1"}},
		{name: "UserInfo for another subject", idClaims: map[string]any{"sub": "u1"}, wantCalls: 1,
			userinfo: answer(map[string]any{"sub": "attacker", "email": "a@evil.example", "email_verified": true}), wantCause: CauseProfile},
		{name: "UserInfo without sub", idClaims: map[string]any{"sub": "u1"}, wantCalls: 1,
			userinfo: answer(map[string]any{"email": "a@evil.example"}), wantCause: CauseProfile},
		{name: "UserInfo fails", idClaims: map[string]any{"sub": "u1"}, wantCalls: 1,
			userinfo: func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, wantCause: CauseProfile},
		{name: "UserInfo not JSON", idClaims: map[string]any{"sub": "u1"}, wantCalls: 1,
			userinfo: func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) }, wantCause: CauseProfile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := newUserInfoOP(t)
			op.idClaims, op.userinfo, op.noUI = tc.idClaims, tc.userinfo, tc.noUI
			p, err := New(Config{Name: "corp", Type: TypeOIDC, Issuer: op.srv.URL, ClientID: "c", ClientSecret: "s", HTTPClient: op.srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			f := NewFlow("corp")
			op.nonce = f.Nonce
			got, err := p.Callback(t.Context(), "https://rp.example/cb", f, url.Values{"state": {f.State}, "code": {"the-code"}})
			if n := op.uiCalls.Load(); n != tc.wantCalls {
				t.Errorf("UserInfo asked %d times, want %d", n, tc.wantCalls)
			}
			if tc.wantCause != "" {
				if fe, ok := err.(*Error); !ok || fe.Cause != tc.wantCause {
					t.Fatalf("got %v (identity %+v), want cause %s", err, got, tc.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if got.Subject != w.Subject || got.Username != w.Username || got.Email != w.Email || got.EmailVerified != w.EmailVerified ||
				got.Name != w.Name || !slices.Equal(got.Groups, w.Groups) || !slices.Equal(got.AMR, w.AMR) {
				t.Errorf("got %+v\nwant %+v", *got, w)
			}
		})
	}
}
