package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestGateChallengeWithoutCredentials: RFC 6750 §3.1. Through Caddy, an API
// request that carries no credentials gets 401 with the bare Bearer
// challenge (realm and the RFC 9728 resource metadata) and no error code,
// neither in WWW-Authenticate nor in a body; the upstream is not reached.
func TestGateChallengeWithoutCredentials(t *testing.T) {
	in, echo := startGatedExample(t)
	want := `Bearer realm="` + in.gate + `", resource_metadata="` + in.gate + `/.well-known/oauth-protected-resource"`
	for _, tc := range []struct {
		name    string
		method  string
		body    io.Reader
		headers map[string]string
	}{
		{"API GET", http.MethodGet, nil, map[string]string{"Accept": "application/json"}},
		{"browser POST", http.MethodPost, strings.NewReader("a=b"), map[string]string{"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := echo.count()
			resp := in.request(t, tc.method, in.gate+"/api/data", tc.body, tc.headers)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || echo.count() != hits {
				t.Fatalf("%d (upstream reached: %v), want 401", resp.StatusCode, echo.count() != hits)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); wa != want {
				t.Errorf("WWW-Authenticate = %q, want %q", wa, want)
			}
			if len(body) != 0 {
				t.Errorf("body %q, want none (no error code without credentials)", body)
			}
		})
	}
}
