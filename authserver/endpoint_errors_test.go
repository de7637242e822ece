package authserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// errStoreBroken is the cause of every failure of brokenReadStore.
var errStoreBroken = errors.New("store: connection reset")

// brokenReadStore fails the reads that the token and userinfo endpoints
// make first, so a request reaches a server_error without a login.
type brokenReadStore struct{ store.Store }

func (brokenReadStore) GetAuthCode(context.Context, string) (store.AuthCode, error) {
	return store.AuthCode{}, errStoreBroken
}

func (brokenReadStore) IsTokenDenylisted(context.Context, string) (bool, error) {
	return false, errStoreBroken
}

// TestEndpointErrorLogs checks, endpoint by endpoint, that an error is
// answered as before and logged once, at its level: server_error at
// Error with its hidden cause, the rest at Info with the code and the
// description the client was told.
func TestEndpointErrorLogs(t *testing.T) {
	s := newTestServer(t, fuzzIssuer, RegistrationOpen)
	var logs bytes.Buffer
	s.log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// An access token of "web" for alice outside any grant, so that
	// userinfo goes straight to the denylist, which brokenReadStore fails.
	resp, err := s.issueTokens(context.Background(), issueParams{
		client: fuzzClientByID("web"), user: &identity.User{ID: "alice"}, scopes: []string{"openid"}, now: s.now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sqlite := s.cfg.Store

	basic := func(r *http.Request) { r.SetBasicAuth("web", fuzzSecrets["web"]) }
	form := func(path string, v url.Values, edit func(*http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodPost, fuzzIssuer+path, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if edit != nil {
			edit(r)
		}
		return r
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	tests := []struct {
		name      string
		req       *http.Request
		broken    bool   // the store fails reads
		status    int    // of the answer
		answer    string // the body or the redirect holds it
		challenge string // prefix of WWW-Authenticate; "" for none
		msg       string // of the one record logged at Info or above
		level     string
		logged    string // the record's "error" attribute holds it
	}{
		{"token: client error", form("/token", url.Values{"grant_type": {"password"}}, basic), false,
			400, `"unsupported_grant_type"`, "", "token request failed", "INFO", "unsupported_grant_type"},
		{"token: invalid_client", form("/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"web"}, "client_secret": {"wrong"}}, nil), false,
			401, `"invalid_client"`, "Basic ", "token request failed", "INFO", "invalid_client"},
		{"token: server error", form("/token", url.Values{"grant_type": {"authorization_code"}, "code": {"gh_ac_x"}, "redirect_uri": {testRedirectURI}}, basic), true,
			500, `"server_error"`, "", "token request failed", "ERROR", errStoreBroken.Error()},
		{"introspection", form("/introspect", url.Values{}, basic), false,
			400, `"invalid_request"`, "", "introspection request failed", "INFO", "invalid_request"},
		{"revocation", form("/revoke", url.Values{}, basic), false,
			400, `"invalid_request"`, "", "revocation request failed", "INFO", "invalid_request"},
		{"userinfo: bad token", form("/userinfo", nil, bearer("not-a-token")), false,
			401, `"invalid_token"`, `Bearer realm="` + fuzzIssuer + `", error="invalid_token"`, "userinfo request failed", "INFO", "invalid_token"},
		// A server failure says nothing about the token: no challenge.
		{"userinfo: server error", form("/userinfo", nil, bearer(resp.AccessToken)), true,
			500, `"server_error"`, "", "userinfo request failed", "ERROR", errStoreBroken.Error()},
		{"authorize: page", httptest.NewRequest(http.MethodGet, fuzzIssuer+"/authorize?client_id=nobody", nil), false,
			400, "invalid_request", "", "authorization request failed", "INFO", "invalid_request"},
		{"authorize: redirect", httptest.NewRequest(http.MethodGet, fuzzIssuer+"/authorize?"+url.Values{"client_id": {"web"},
			"redirect_uri": {testRedirectURI}, "response_type": {"token"}}.Encode(), nil), false,
			302, "error=unsupported_response_type", "", "authorization request failed", "INFO", "unsupported_response_type"},
		{"registration", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, fuzzIssuer+"/register", strings.NewReader(`{"redirect_uris":["ftp://x"]}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), false, 400, `"invalid_redirect_uri"`, "", "registration request failed", "INFO", "invalid_redirect_uri"},
		// RFC 6750 §3.1: no token, no error code in the challenge.
		{"client configuration", httptest.NewRequest(http.MethodGet, fuzzIssuer+"/register?client_id=x", nil), false,
			401, `"invalid_token"`, `Bearer realm="` + fuzzIssuer + `"`, "registration request failed", "INFO", "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cfg.Store = sqlite
			if tc.broken {
				s.cfg.Store = brokenReadStore{sqlite}
			}
			logs.Reset()
			w := httptest.NewRecorder()
			s.ServeHTTP(w, tc.req)

			if w.Code != tc.status || !strings.Contains(w.Body.String()+w.Header().Get("Location"), tc.answer) {
				t.Errorf("answer %d %q %q, want %d with %s", w.Code, w.Body, w.Header().Get("Location"), tc.status, tc.answer)
			}
			if got := w.Header().Get("WWW-Authenticate"); (tc.challenge == "") != (got == "") || !strings.HasPrefix(got, tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got, tc.challenge)
			}
			if tc.status >= 500 && strings.Contains(w.Body.String(), errStoreBroken.Error()) {
				t.Errorf("the answer leaks the cause: %s", w.Body)
			}

			var records []map[string]any
			sc := bufio.NewScanner(&logs)
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("log line %q: %v", sc.Bytes(), err)
				}
				if rec["level"] != "DEBUG" {
					records = append(records, rec)
				}
			}
			if len(records) != 1 {
				t.Fatalf("logged %d records at Info or above, want 1: %v", len(records), records)
			}
			rec := records[0]
			if rec["msg"] != tc.msg || rec["level"] != tc.level {
				t.Errorf("logged %v %q, want %s %q", rec["level"], rec["msg"], tc.level, tc.msg)
			}
			if e, _ := rec["error"].(string); !strings.Contains(e, tc.logged) {
				t.Errorf("logged error %q, want it to hold %q", rec["error"], tc.logged)
			}
			// Below Error the log says what the client was told, never
			// the cause.
			if _, hasReason := rec["reason"]; hasReason != (tc.level != "ERROR") {
				t.Errorf("reason attribute present=%v at %s: %v", hasReason, tc.level, rec)
			}
		})
	}
}
