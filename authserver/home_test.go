package authserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnownedPaths: the issuer URL itself answers a home page, any other
// path that is not a route a 404 page, both with the headers of every
// page; a route's wrong method stays 405.
func TestUnownedPaths(t *testing.T) {
	tests := []struct {
		issuer, method, path string
		status               int
		has                  []string
	}{
		{fuzzIssuer, http.MethodGet, "/", 200, []string{"Welcome to Gatehouse", `href="/account/apps"`, `href="/.well-known/openid-configuration"`}},
		{fuzzIssuer, http.MethodHead, "/", 200, nil},
		{fuzzIssuer, http.MethodPost, "/", 405, []string{"Method Not Allowed"}},
		{fuzzIssuer, http.MethodGet, "/nope", 404, []string{"This page does not exist"}},
		{fuzzIssuer, http.MethodPost, "/account", 404, []string{"This page does not exist"}},
		{fuzzIssuer, http.MethodGet, "/token/", 404, []string{"This page does not exist"}},
		{fuzzIssuer, http.MethodGet, "/token", 405, nil},
		{fuzzIssuer, http.MethodDelete, "/authorize", 405, nil},
		{fuzzIssuer + "/auth", http.MethodGet, "/auth", 200, []string{`href="/auth/account/apps"`, `href="/auth/.well-known/openid-configuration"`}},
		{fuzzIssuer + "/auth", http.MethodGet, "/auth/", 200, []string{"Welcome to Gatehouse"}},
		{fuzzIssuer + "/auth", http.MethodGet, "/", 404, []string{"This page does not exist"}},
		{fuzzIssuer + "/auth", http.MethodGet, "/auth/nope", 404, []string{"This page does not exist"}},
	}
	servers := map[string]*Server{}
	for _, tc := range tests {
		t.Run(tc.issuer+" "+tc.method+" "+tc.path, func(t *testing.T) {
			s := servers[tc.issuer]
			if s == nil {
				s = newTestServer(t, tc.issuer, "")
				servers[tc.issuer] = s
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(tc.method, "https://issuer.example"+tc.path, nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			for _, want := range tc.has {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("body lacks %q:\n%s", want, w.Body)
				}
			}
			if tc.status == 405 {
				return
			}
			h := w.Header()
			if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
				!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", h)
			}
		})
	}
}
