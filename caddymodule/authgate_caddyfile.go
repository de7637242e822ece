package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("authgate", parseAuthGate)
	// The gate runs right after the issuer's own endpoints and before
	// every routing and responding directive (handle, respond,
	// reverse_proxy, file_server...), so nothing it guards can answer
	// first.
	httpcaddyfile.RegisterDirectiveOrder("authgate", httpcaddyfile.After, "basic_auth")
}

// parseAuthGate parses the authgate directive:
//
//	authgate [<matcher>] {
//		issuer <url>                 # external OpenID Connect provider; default: this Caddy's gatehouse
//		client_id <id>               # external issuer only
//		client_secret <secret>       # external issuer only
//		resource <uri>|<path>        # default: the site's origin; a path is under each origin
//		name <display name>          # shown on consent pages beside the resource
//		origin <url>                 # default: from the request Host, when it is a site address
//		scopes <scope>...
//		callback_path <path>
//		logout_path <path>
//		session_lifetime <duration>
//		session_idle <duration>
//		cookie_name <name>
//		cookie_secret <secret>...
//		forward_authorization
//		introspect                   # external issuer: validate tokens by RFC 7662 introspection
//		token_cache_size <entries>   # verified Bearer tokens remembered; default 10000
//		session_cache_size <entries> # decoded session cookies remembered; default 10000
//		allow user|username|email|email_domain|group|scope|client <value>...
//		deny client <client_id>...
//		require mfa|acr <value>|max_age <duration>  # step-up for browsers; RFC 9470 401 for Bearer tokens
//		header <claim> <Header-Name>|-
//	}
func parseAuthGate(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(AuthGate)
	h.Next() // directive name
	if h.NextArg() {
		return nil, h.Errf("authgate: unexpected argument %q; options go in a block", h.Val())
	}
	for h.NextBlock(0) {
		if err := parseAuthGateOption(h.Dispenser, g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func parseAuthGateOption(d *caddyfile.Dispenser, g *AuthGate) error {
	switch key := d.Val(); key {
	case "issuer":
		return oneArg(d, &g.Issuer)
	case "client_id":
		return oneArg(d, &g.ClientID)
	case "client_secret":
		return oneArg(d, &g.ClientSecret)
	case "resource":
		return oneArg(d, &g.Resource)
	case "name":
		return oneArg(d, &g.Name)
	case "origin":
		return oneArg(d, &g.Origin)
	case "scopes":
		return manyArgs(d, &g.Scopes)
	case "callback_path":
		return oneArg(d, &g.CallbackPath)
	case "logout_path":
		return oneArg(d, &g.LogoutPath)
	case "session_lifetime":
		return durationArg(d, &g.SessionLifetime)
	case "session_idle":
		return durationArg(d, &g.SessionIdle)
	case "cookie_name":
		return oneArg(d, &g.CookieName)
	case "cookie_secret":
		return manyArgs(d, &g.CookieSecrets)
	case "forward_authorization":
		return flagArg(d, &g.ForwardAuthorization)
	case "token_cache_size":
		return intArg(d, &g.TokenCacheSize)
	case "session_cache_size":
		return intArg(d, &g.SessionCacheSize)
	case "introspect":
		return flagArg(d, &g.Introspect)
	case "allow":
		if g.Allow == nil {
			g.Allow = new(PolicyConfig)
		}
		if !d.NextArg() {
			return d.Errf("allow: expected a rule kind (user, username, email, email_domain, group, scope, client)")
		}
		kind := d.Val()
		values := d.RemainingArgs()
		if len(values) == 0 {
			return d.Errf("allow %s: expected at least one value", kind)
		}
		switch kind {
		case "user":
			g.Allow.Users = append(g.Allow.Users, values...)
		case "username":
			g.Allow.Usernames = append(g.Allow.Usernames, values...)
		case "email":
			g.Allow.Emails = append(g.Allow.Emails, values...)
		case "email_domain":
			g.Allow.EmailDomains = append(g.Allow.EmailDomains, values...)
		case "group":
			g.Allow.Groups = append(g.Allow.Groups, values...)
		case "scope":
			g.Allow.Scopes = append(g.Allow.Scopes, values...)
		case "client":
			g.Allow.Clients = append(g.Allow.Clients, values...)
		default:
			return d.Errf("allow: unknown rule kind %q (want user, username, email, email_domain, group, scope or client)", kind)
		}
		return nil
	case "require":
		if g.Require == nil {
			g.Require = new(RequireConfig)
		}
		args := d.RemainingArgs()
		switch {
		case len(args) == 1 && args[0] == "mfa":
			g.Require.MFA = true
		case len(args) == 2 && args[0] == "acr" && args[1] != "":
			if g.Require.ACR != "" && g.Require.ACR != args[1] {
				return d.Errf("require acr: given twice (%q and %q)", g.Require.ACR, args[1])
			}
			g.Require.ACR = args[1]
		case len(args) == 2 && args[0] == "max_age":
			dur, err := caddy.ParseDuration(args[1])
			if err != nil || dur < time.Second {
				return d.Errf("require max_age: want a duration of at least 1s, not %q", args[1])
			}
			g.Require.MaxAge = caddy.Duration(dur)
		default:
			return d.Errf("require: expected mfa, acr <value> or max_age <duration>")
		}
		return nil
	case "deny":
		if !d.NextArg() || d.Val() != "client" {
			return d.Errf("deny: expected client <client_id>...")
		}
		values := d.RemainingArgs()
		if len(values) == 0 {
			return d.Errf("deny client: expected at least one client_id")
		}
		if g.Deny == nil {
			g.Deny = new(DenyConfig)
		}
		g.Deny.Clients = append(g.Deny.Clients, values...)
		return nil
	case "header":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("header: expected <claim> <Header-Name> (or - to send no header for the claim)")
		}
		if g.Headers == nil {
			g.Headers = map[string]string{}
		}
		if args[1] == "-" {
			args[1] = ""
		}
		g.Headers[args[0]] = args[1]
		return nil
	default:
		return d.Errf("authgate: unknown option %q", key)
	}
}
