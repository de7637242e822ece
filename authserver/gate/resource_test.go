package gate

import (
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
