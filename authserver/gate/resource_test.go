package gate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestLocalResourceEquivalence: tokens asked for any spelling of the
// gate's resource (a trailing slash, as older MCP SDKs send; upper case;
// the default port) are accepted, whichever spelling the gate was
// configured with; another resource is not.
func TestLocalResourceEquivalence(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tokenFor := func(t *testing.T, res string) string {
		q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {res}})
		return f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q)).AccessToken
	}
	gates := map[string]Config{
		"default (the origin)":                          {},
		"configured with a trailing slash and capitals": {Resource: "HTTPS://Gated.Example:443/"},
	}
	tests := []struct {
		resource string
		ok       bool
	}{
		{gateOrigin, true},
		{gateOrigin + "/", true},
		{"HTTPS://GATED.example", true},
		{"https://gated.example:443/", true},
		{"https://gated.example:8443/", false},
		{"https://gated.example/other", false},
		{"http://gated.example/", false},
	}
	for name, cfg := range gates {
		g := localGate(t, f, cfg)
		for _, tc := range tests {
			t.Run(name+"/"+tc.resource, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
				r.Header.Set("Authorization", "Bearer "+tokenFor(t, tc.resource))
				resp, id := newSite(t, g).do(r)
				if (id != nil) != tc.ok {
					t.Fatalf("accepted %v, want %v: %d %q", id != nil, tc.ok, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
				if !tc.ok && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "not for this resource") {
					t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if _, err := New(Config{Provider: &LocalProvider{Server: f.Server}, Resource: "not a uri", CookieSecrets: [][]byte{ast.CookieSecret()}}); err == nil ||
		!strings.Contains(err.Error(), "resource") {
		t.Errorf("a gate with an invalid resource: %v", err)
	}
}

func TestAudienceIncludes(t *testing.T) {
	if !audienceIncludes([]string{"https://a.example/", "https://b.example/mcp"}, "https://a.example") {
		t.Error("https://a.example/ is https://a.example")
	}
	if audienceIncludes([]string{"https://b.example/mcp/"}, "https://b.example/mcp") {
		t.Error("a trailing slash after a path segment is another resource")
	}
}

// TestLocalResourceAtPath: a gate whose resource has a path (an MCP
// server at /mcp) serves its RFC 9728 metadata at the path-suffixed
// well-known URL (§3.1) without authentication, names the path in the
// document's resource (§3.3) and in the 401's resource_metadata, and
// takes tokens made out to that resource only.
func TestLocalResourceAtPath(t *testing.T) {
	f := ast.New(t, ast.Options{})
	const mcp = gateOrigin + "/mcp"
	for _, configured := range []string{"/mcp", mcp, "HTTPS://gated.example:443/mcp"} {
		t.Run(configured, func(t *testing.T) {
			g := localGate(t, f, Config{Resource: configured})
			if got := g.ResourceFor(gateOrigin); got != mcp {
				t.Errorf("ResourceFor = %q, want %q", got, mcp)
			}
			api := httptest.NewRequest(http.MethodPost, mcp, strings.NewReader("{}"))
			resp, _ := newSite(t, g).do(api)
			wantChallenge := `resource_metadata="` + gateOrigin + `/.well-known/oauth-protected-resource/mcp"`
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), wantChallenge) {
				t.Errorf("401 %d, WWW-Authenticate %q; want %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), wantChallenge)
			}

			resp, id := newSite(t, g).do(httptest.NewRequest(http.MethodGet, gateOrigin+"/.well-known/oauth-protected-resource/mcp", nil))
			var meta struct {
				Resource string `json:"resource"`
			}
			if err := json.Unmarshal([]byte(readAll(t, resp)), &meta); err != nil || resp.StatusCode != http.StatusOK || id != nil {
				t.Fatalf("path-suffixed metadata: %d %v", resp.StatusCode, err)
			}
			if meta.Resource != mcp {
				t.Errorf("metadata resource %q, want %q", meta.Resource, mcp)
			}
			// The origin's document would name another resource (§3.3).
			resp, _ = newSite(t, g).do(httptest.NewRequest(http.MethodGet, gateOrigin+"/.well-known/oauth-protected-resource", nil))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("the origin's metadata URL at a gate for %s: %d, want the 401 of any other path", mcp, resp.StatusCode)
			}

			for res, ok := range map[string]bool{mcp: true, gateOrigin: false, mcp + "/": false} {
				q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {res}})
				r := httptest.NewRequest(http.MethodPost, mcp, nil)
				r.Header.Set("Authorization", "Bearer "+f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q)).AccessToken)
				if _, id := newSite(t, g).do(r); (id != nil) != ok {
					t.Errorf("token for %s accepted: %v, want %v", res, id != nil, ok)
				}
			}
		})
	}
	for _, bad := range []string{"//evil.example/mcp", "/mcp?x=1", "mcp"} {
		if _, err := New(Config{Provider: &LocalProvider{Server: f.Server}, Resource: bad, CookieSecrets: [][]byte{ast.CookieSecret()}}); err == nil {
			t.Errorf("a gate with resource %q was built", bad)
		}
	}
}
