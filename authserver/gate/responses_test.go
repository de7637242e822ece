package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestAPIAnswersUseRFC6750Codes: every refusal of an API request carries
// an RFC 6750 §3.1 code, the same in the challenge and the body, with the
// status §3.1 gives it; a request without credentials carries none.
func TestAPIAnswersUseRFC6750Codes(t *testing.T) {
	rfc6750 := map[string]int{
		// §3.1 gives invalid_request 400; a header of another scheme is
		// answered like a missing token, 401 with the challenge.
		string(oautherr.CodeInvalidRequest):    http.StatusUnauthorized,
		string(oautherr.CodeInvalidToken):      http.StatusUnauthorized,
		string(oautherr.CodeInsufficientScope): http.StatusForbidden,
	}
	g := newTestGate(t, &fakeProvider{}, Config{Policy: Policy{Scopes: []string{"read"}}})
	bearer := &Identity{Subject: "alice", Source: SourceBearer}
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		code   string // "" for none
	}{
		{"no credentials", func(w http.ResponseWriter, r *http.Request) { g.unauthorized(w, r, testOrigin, nil) }, ""},
		{"not a Bearer token", func(w http.ResponseWriter, r *http.Request) { g.unauthorized(w, r, testOrigin, errNoBearer) }, "invalid_request"},
		{"expired", func(w http.ResponseWriter, r *http.Request) {
			g.unauthorized(w, r, testOrigin, fmt.Errorf("verify: %w", token.ErrExpired))
		}, "invalid_token"},
		{"another audience", func(w http.ResponseWriter, r *http.Request) {
			g.unauthorized(w, r, testOrigin, token.ErrInvalidAudience)
		}, "invalid_token"},
		{"any other failure", func(w http.ResponseWriter, r *http.Request) { g.unauthorized(w, r, testOrigin, errors.New("bad")) }, "invalid_token"},
		{"missing scope", func(w http.ResponseWriter, r *http.Request) { g.forbidden(w, r, testOrigin, bearer, []string{"read"}) }, "insufficient_scope"},
		{"not admitted", func(w http.ResponseWriter, r *http.Request) { g.forbidden(w, r, testOrigin, bearer, nil) }, "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, testOrigin+"/api", nil)
			r.Header.Set("Accept", "application/json")
			tc.answer(w, r)
			challenge := w.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, `Bearer realm="`+testOrigin+`"`) || !strings.Contains(challenge, "resource_metadata=") {
				t.Errorf("WWW-Authenticate = %q", challenge)
			}
			if tc.code == "" {
				if w.Code != http.StatusUnauthorized || strings.Contains(challenge, "error=") || w.Body.Len() != 0 {
					t.Errorf("%d %q %q, want a bare 401 challenge", w.Code, challenge, w.Body)
				}
				return
			}
			var body oautherr.Body
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			status, ok := rfc6750[body.Error]
			if !ok || body.Error != tc.code || w.Code != status {
				t.Errorf("answer %d %q, want %d %s", w.Code, body.Error, status, tc.code)
			}
			if !strings.Contains(challenge, `error="`+body.Error+`"`) {
				t.Errorf("challenge %q does not carry %s", challenge, body.Error)
			}
		})
	}
}
