package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// TestParseProvider: every provider option lands in the JSON app.
func TestParseProvider(t *testing.T) {
	input := `gatehouse {
		password off
		provider corp {
			type oidc
			issuer https://login.corp.example
			client_id gatehouse
			client_secret {env.CORP_SECRET}
			scopes openid email profile groups
			claim username upn
			claim groups roles
			allowed_domains corp.example example.org
			display_name "Corp SSO"
			icon https://corp.example/icon.svg
			jit
			link_by_verified_email on
		}
		provider github {
			type github
			client_id Iv1.abc
			client_secret {env.GH_SECRET}
			github_url https://ghe.example
			github_api_url https://ghe.example/api/v3
			org_groups
			jit off
		}
	}`
	v, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	if !app.PasswordOff || len(app.Providers) != 2 {
		t.Fatalf("app = %+v", app)
	}
	c, g := app.Providers[0], app.Providers[1]
	if c.Name != "corp" || c.Type != "oidc" || c.Issuer != "https://login.corp.example" || c.ClientID != "gatehouse" ||
		c.ClientSecret != "{env.CORP_SECRET}" || strings.Join(c.Scopes, " ") != "openid email profile groups" ||
		c.UsernameClaim != "upn" || c.GroupsClaim != "roles" || c.EmailClaim != "" ||
		strings.Join(c.AllowedDomains, " ") != "corp.example example.org" || c.DisplayName != "Corp SSO" ||
		c.Icon != "https://corp.example/icon.svg" || !c.JIT || !c.LinkByVerifiedEmail {
		t.Errorf("corp = %+v", c)
	}
	if g.Name != "github" || g.Type != "github" || g.GitHubURL != "https://ghe.example" || g.GitHubAPIURL != "https://ghe.example/api/v3" ||
		!g.OrgGroups || g.JIT || g.LinkByVerifiedEmail {
		t.Errorf("github = %+v", g)
	}
}

// TestParseProviderErrors: mistakes name the provider and the option.
func TestParseProviderErrors(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"no name", "provider {\n type oidc\n}", "provider: expected exactly one name"},
		{"no type", "provider corp {\n issuer https://x.example\n}", "provider corp: type is required"},
		{"unknown type", "provider corp {\n type saml\n}", `provider corp: type must be oidc or github, not "saml"`},
		{"unknown option", "provider corp {\n type oidc\n colour red\n}", `provider corp: unknown option "colour"`},
		{"bad claim field", "provider corp {\n type oidc\n claim phone tel\n}", `claim: unknown field "phone"`},
		{"claim without name", "provider corp {\n type oidc\n claim groups\n}", "claim: expected a field"},
		{"bad on/off", "provider corp {\n type oidc\n jit maybe\n}", `jit: expected on or off, not "maybe"`},
		{"password bad value", "password sometimes", `password: expected on or off`},
		{"issuer twice the values", "provider corp {\n type oidc\n issuer a b\n}", "issuer: expected one value, got more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+tc.input+"\n}"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
