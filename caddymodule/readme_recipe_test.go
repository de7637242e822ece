package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestREADMEMCPRecipe: the README's "Put your MCP server behind
// Gatehouse" Caddyfile adapts without warnings, and its gate guards the
// resource at /mcp with the metadata path routed to it. (The integration
// test TestConsentBoundToResourceThroughCaddy runs its site block.)
func TestREADMEMCPRecipe(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- mcp-recipe: begin -->\n```caddyfile\n(.*?)```\n<!-- mcp-recipe: end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no mcp-recipe block")
	}
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(m[1], map[string]any{"filename": "README.md"})
	if err != nil {
		t.Fatalf("adapting the recipe: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w.String())
	}
	var cfg any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	js := string(out)
	for _, want := range []string{`"handler":"authgate"`, `"resource":"/mcp"`, `"name":"Example MCP server"`, `"/.well-known/oauth-protected-resource/mcp"`, `"registration"`} {
		if !strings.Contains(js, want) {
			t.Errorf("the adapted recipe lacks %s:\n%s", want, js)
		}
	}
}
