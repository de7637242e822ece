package authserver

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// unreachableClients is a client source that cannot be asked.
type unreachableClients struct{}

func (unreachableClients) Client(context.Context, string) (*clients.Client, error) {
	return nil, errors.New("registry: connection refused")
}

// TestAuthorizationErrorPages: an authorization error that is shown, not
// redirected (RFC 6749 §4.1.2.1), gets the page of its cause, with its
// code and description for the app's developer.
func TestAuthorizationErrorPages(t *testing.T) {
	s := newTestServer(t, fuzzIssuer, "")
	static := s.cfg.Clients
	product := s.cfg.UI.Branding().ProductName
	tests := []struct {
		name    string
		query   url.Values
		clients clients.Source
		status  int
		problem ui.Problem
		detail  string // "" for none shown
	}{
		{"unknown client", url.Values{"client_id": {"nobody"}, "redirect_uri": {testRedirectURI}}, nil,
			400, ui.ProblemText("problem.unknown_client", product), "the app (client_id) is not registered"},
		{"unregistered redirect_uri", url.Values{"client_id": {"web"}, "redirect_uri": {"https://evil.example/cb"}}, nil,
			400, ui.ProblemText("problem.bad_redirect"), "the redirect_uri is not registered for this app"},
		{"missing redirect_uri", url.Values{"client_id": {"web"}}, nil,
			400, ui.ProblemText("problem.bad_request"), "the redirect_uri parameter is missing"},
		{"repeated client_id", url.Values{"client_id": {"web", "spa"}}, nil,
			400, ui.ProblemText("problem.bad_request"), "parameter client_id is repeated"},
		{"missing client_id", url.Values{"redirect_uri": {testRedirectURI}}, nil,
			400, ui.ProblemText("problem.bad_request"), "the client_id parameter is missing"},
		// A server failure is not the app's mistake: no detail.
		{"client lookup failed", url.Values{"client_id": {"web"}, "redirect_uri": {testRedirectURI}}, unreachableClients{},
			500, ui.ProblemText("problem.server"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cfg.Clients = static
			if tc.clients != nil {
				s.cfg.Clients = tc.clients
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, fuzzIssuer+"/authorize?"+tc.query.Encode(), nil))
			body := html.UnescapeString(w.Body.String())
			if w.Code != tc.status || w.Header().Get("Location") != "" {
				t.Fatalf("answer %d, Location %q, want the page with %d", w.Code, w.Header().Get("Location"), tc.status)
			}
			for _, want := range []string{tc.problem.Heading, tc.problem.Message, tc.problem.Hint} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			code := "invalid_request"
			if tc.status == 500 {
				code = "server_error"
			}
			if !strings.Contains(body, code) {
				t.Errorf("page lacks the code %s", code)
			}
			if tc.detail != "" && !strings.Contains(body, tc.detail) {
				t.Errorf("page lacks the detail %q", tc.detail)
			}
			if tc.detail == "" && strings.Contains(body, "connection refused") {
				t.Errorf("page shows the cause")
			}
		})
	}
}
