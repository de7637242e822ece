package gate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestMetadataOfflineAccess: the resource metadata lists offline_access
// when the issuer issues refresh tokens for it (this server; an external
// one that says so in its discovery document), so MCP clients, which ask
// for exactly the advertised scopes, get refresh tokens.
func TestMetadataOfflineAccess(t *testing.T) {
	f := ast.New(t, ast.Options{})
	var remote *ast.Fixture // Gatehouse over HTTP, as an external issuer
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { remote.Server.ServeHTTP(w, r) }))
	remote = ast.New(t, ast.Options{Issuer: "http://" + srv.Listener.Addr().String()})
	srv.Start()
	t.Cleanup(srv.Close)
	op := newFakeOP(t, nil) // its discovery document has no scopes_supported

	tests := []struct {
		name string
		g    *Gate
		want bool
	}{
		{"this server", localGate(t, f, Config{}), true},
		{"an external issuer that lists offline_access", newTestGate(t, &OIDCProvider{IssuerURL: remote.Server.Issuer(), ClientID: "gate"}, Config{}), true},
		{"an external issuer that does not", newTestGate(t, op.provider(), Config{}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := newSite(t, tc.g).do(httptest.NewRequest(http.MethodGet, gateOrigin+"/.well-known/oauth-protected-resource", nil))
			var meta struct {
				Scopes []string `json:"scopes_supported"`
			}
			if err := json.Unmarshal([]byte(readAll(t, resp)), &meta); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("metadata: %d %v", resp.StatusCode, err)
			}
			if got := slices.Contains(meta.Scopes, "offline_access"); got != tc.want {
				t.Errorf("scopes_supported %q: offline_access listed %v, want %v", meta.Scopes, got, tc.want)
			}
			if n := len(slices.DeleteFunc(slices.Clone(meta.Scopes), func(s string) bool { return s != "offline_access" })); n > 1 {
				t.Errorf("offline_access listed %d times", n)
			}
		})
	}
}
