package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestAdminClientErrorAnswers: every failure of the client API is a
// caddy.APIError, answered by writeCodedErrors with the OAuth-style body
// {"error", "error_description"}: OAuth codes where one fits (RFC 6749
// §5.2, RFC 7591 §3.2.2), the API's own otherwise.
func TestAdminClientErrorAnswers(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "admin.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	static, err := clients.NewStatic([]*clients.Client{{ID: "static-app", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://app.example/cb"}}}}, authserver.SupportedScopes())
	if err != nil {
		t.Fatal(err)
	}
	a := &AdminAPI{registry: clients.NewRegistry(static, st, authserver.SupportedScopes(), clients.RegistryOptions{}), adminModule: adminModule{log: zap.NewNop()}}
	created, _, err := a.registry.Create(context.Background(), clients.Metadata{Name: "App", Type: clients.ThirdParty, RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, method, target, contentType, body string
		status                                  int
		code                                    string
		allow                                   string // the Allow header of a 405
	}{
		{"no such route", "GET", "/gatehouse/clients/x/y", "", "", 404, "not_found", ""},
		{"unknown client", "GET", "/gatehouse/clients/nobody", "", "", 404, "not_found", ""},
		{"malformed query", "GET", "/gatehouse/clients?after=%zz", "", "", 400, "invalid_request", ""},
		{"bad limit", "GET", "/gatehouse/clients?limit=0", "", "", 400, "invalid_request", ""},
		{"not JSON", "POST", "/gatehouse/clients", "text/plain", "{}", 415, "invalid_request", ""},
		{"too large", "POST", "/gatehouse/clients", "application/json", `{"x":"` + strings.Repeat("a", maxAdminBody) + `"}`, 413, "invalid_request", ""},
		{"not an object", "POST", "/gatehouse/clients", "application/json", `[1]`, 400, "invalid_client_metadata", ""},
		{"bad metadata", "POST", "/gatehouse/clients", "application/json", `{"redirect_uris":"x"}`, 400, "invalid_client_metadata", ""},
		{"static client", "PATCH", "/gatehouse/clients/static-app", "application/json", `{}`, 409, "static_client", ""},
		{"rotate a static client", "POST", "/gatehouse/clients/static-app/secret/start", "", "", 409, "static_client", ""},
		{"no rotation to complete", "POST", "/gatehouse/clients/" + created.ID + "/secret/complete", "", "", 409, "conflict", ""},
		{"method", "PUT", "/gatehouse/clients", "", "", 405, "invalid_request", "GET, POST"},
		{"method on a client", "POST", "/gatehouse/clients/static-app", "", "", 405, "invalid_request", "GET, PATCH, DELETE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				return r
			}
			var ae caddy.APIError
			if err := a.serve(httptest.NewRecorder(), req()); !errors.As(err, &ae) || ae.HTTPStatus != tc.status {
				t.Fatalf("serve returned %#v, want a caddy.APIError with %d", err, tc.status)
			}

			rec := httptest.NewRecorder()
			if err := a.Routes()[0].Handler.ServeHTTP(rec, req()); err != nil {
				t.Fatalf("left to Caddy: %v", err)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.status || body["error"] != tc.code || body["error_description"] == "" || len(body) != 2 {
				t.Errorf("answer %d %v, want %d %s with a description", rec.Code, body, tc.status, tc.code)
			}
			if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", rec.Header())
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestAdminUsersErrorAnswers: the users API fails with caddy.APIError
// only, for Caddy to answer.
func TestAdminUsersErrorAnswers(t *testing.T) {
	a := &AdminUsers{} // no gatehouse app
	for _, target := range []string{"/gatehouse/users/alice/apps", "/gatehouse/users/alice/apps/web"} {
		rec := httptest.NewRecorder()
		err := a.Routes()[0].Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		var ae caddy.APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusNotFound || rec.Body.Len() != 0 {
			t.Errorf("%s: %#v, body %q; want a 404 caddy.APIError and nothing written", target, err, rec.Body)
		}
	}
	for _, target := range []string{"/gatehouse/users/alice", "/gatehouse/users/%zz/apps", "/gatehouse/users/alice/apps/"} {
		if _, _, err := parseUsersPath(target); err == nil {
			t.Errorf("parseUsersPath(%q) accepted", target)
		}
	}
}
