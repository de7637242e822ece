package caddymodule

import (
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/federation"
)

// ProviderConfig is an upstream identity provider users may sign in with
// ("Sign in with ..."). Register <issuer>/federation/<name>/callback as
// the redirect URI at the provider.
type ProviderConfig struct {
	// Name is used in URLs, the idp claim and linked identities: 1 to 32
	// lower-case letters, digits, '-' or '_'. Required; never rename a
	// provider whose users are linked.
	Name string `json:"name"`
	// Type is oidc (any OpenID Connect provider, by discovery) or github.
	Type string `json:"type"`
	// DisplayName is the login button's words ("Sign in with <it>").
	DisplayName string `json:"display_name,omitempty"`
	// Icon is an https image shown on the button.
	Icon string `json:"icon,omitempty"`
	// Issuer is the OpenID provider's issuer identifier (type oidc).
	Issuer string `json:"issuer,omitempty"`
	// ClientID and ClientSecret of Gatehouse at the provider. The secret
	// takes placeholders such as {env.CORP_CLIENT_SECRET}.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Scopes asked of the provider. Default: openid email profile (oidc),
	// read:user user:email, and read:org with org_groups (github).
	Scopes []string `json:"scopes,omitempty"`
	// Claims naming the username, email, name and groups (oidc).
	// Defaults: preferred_username, email, name, groups.
	UsernameClaim string `json:"username_claim,omitempty"`
	EmailClaim    string `json:"email_claim,omitempty"`
	NameClaim     string `json:"name_claim,omitempty"`
	GroupsClaim   string `json:"groups_claim,omitempty"`
	// AllowedDomains admits only verified emails at these domains.
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	// JIT creates a user at the first sign-in of an unlinked account.
	JIT bool `json:"jit,omitempty"`
	// LinkByVerifiedEmail links a first sign-in to the user with the same
	// email, verified on both sides. Off by default (see SECURITY.md).
	LinkByVerifiedEmail bool `json:"link_by_verified_email,omitempty"`
	// GitHubURL and GitHubAPIURL point type github at GitHub Enterprise
	// Server. Defaults: https://github.com, https://api.github.com.
	GitHubURL    string `json:"github_url,omitempty"`
	GitHubAPIURL string `json:"github_api_url,omitempty"`
	// OrgGroups maps GitHub organization and team membership to groups
	// ("org", "org/team").
	OrgGroups bool `json:"org_groups,omitempty"`
}

// providers builds the configured providers.
func (a *App) providers(repl *caddy.Replacer, now func() time.Time) ([]authserver.FederatedProvider, error) {
	var out []authserver.FederatedProvider
	for _, pc := range a.Providers {
		p, err := federation.New(federation.Config{
			Name: pc.Name, Type: federation.Type(pc.Type), DisplayName: pc.DisplayName, IconURL: pc.Icon,
			Issuer: repl.ReplaceKnown(pc.Issuer, ""), ClientID: repl.ReplaceKnown(pc.ClientID, ""),
			ClientSecret: repl.ReplaceKnown(pc.ClientSecret, ""), Scopes: pc.Scopes,
			Claims:         federation.ClaimMapping{Username: pc.UsernameClaim, Email: pc.EmailClaim, Name: pc.NameClaim, Groups: pc.GroupsClaim},
			AllowedDomains: pc.AllowedDomains, GitHubURL: pc.GitHubURL, GitHubAPIURL: pc.GitHubAPIURL, GitHubOrgGroups: pc.OrgGroups,
			Now: now,
		})
		if err != nil {
			return nil, errorf("provider: %v", err)
		}
		out = append(out, authserver.FederatedProvider{Provider: p, JIT: pc.JIT, LinkByVerifiedEmail: pc.LinkByVerifiedEmail})
	}
	return out, nil
}

// parseProvider parses
//
//	provider <name> {
//		type oidc|github
//		issuer <url>
//		client_id <id>
//		client_secret <secret>
//		scopes <scope>...
//		claim username|email|name|groups <claim>
//		allowed_domains <domain>...
//		display_name <text>
//		icon <https url>
//		jit [on|off]
//		link_by_verified_email [on|off]
//		github_url|github_api_url <url>
//		org_groups [on|off]
//	}
func parseProvider(d *caddyfile.Dispenser) (*ProviderConfig, error) {
	p := new(ProviderConfig)
	if err := oneArg(d, &p.Name); err != nil {
		return nil, d.Errf("provider: expected exactly one name")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch key := d.Val(); key {
		case "type":
			err = oneArg(d, &p.Type)
			if err == nil && p.Type != "oidc" && p.Type != "github" {
				err = d.Errf("provider %s: type must be oidc or github, not %q", p.Name, p.Type)
			}
		case "issuer":
			err = oneArg(d, &p.Issuer)
		case "client_id":
			err = oneArg(d, &p.ClientID)
		case "client_secret":
			err = oneArg(d, &p.ClientSecret)
		case "scopes", "scope":
			err = manyArgs(d, &p.Scopes)
		case "claim":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("provider %s: claim: expected a field (username, email, name, groups) and a claim name", p.Name)
			}
			switch args[0] {
			case "username":
				p.UsernameClaim = args[1]
			case "email":
				p.EmailClaim = args[1]
			case "name":
				p.NameClaim = args[1]
			case "groups":
				p.GroupsClaim = args[1]
			default:
				return nil, d.Errf("provider %s: claim: unknown field %q (want username, email, name or groups)", p.Name, args[0])
			}
		case "allowed_domains", "allowed_domain":
			err = manyArgs(d, &p.AllowedDomains)
		case "display_name":
			err = oneArg(d, &p.DisplayName)
		case "icon":
			err = oneArg(d, &p.Icon)
		case "jit":
			err = onOffArg(d, &p.JIT)
		case "link_by_verified_email":
			err = onOffArg(d, &p.LinkByVerifiedEmail)
		case "github_url":
			err = oneArg(d, &p.GitHubURL)
		case "github_api_url":
			err = oneArg(d, &p.GitHubAPIURL)
		case "org_groups":
			err = onOffArg(d, &p.OrgGroups)
		default:
			err = d.Errf("provider %s: unknown option %q", p.Name, key)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.Type == "" {
		return nil, d.Errf("provider %s: type is required (oidc or github)", p.Name)
	}
	return p, nil
}

// onOffArg reads an optional on/off (or true/false) value; none means on.
func onOffArg(d *caddyfile.Dispenser, dst *bool) error {
	key := d.Val()
	*dst = true
	if d.NextArg() {
		switch strings.ToLower(d.Val()) {
		case "on", "true":
		case "off", "false":
			*dst = false
		default:
			return d.Errf("%s: expected on or off, not %q", key, d.Val())
		}
	}
	if d.NextArg() {
		return d.Errf("%s: too many values", key)
	}
	return nil
}
