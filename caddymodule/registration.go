package caddymodule

import (
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

// RegistrationConfig configures dynamic client registration (RFC 7591)
// at the issuer's /register, and the management of registered clients
// with their registration access tokens (RFC 7592).
type RegistrationConfig struct {
	// Policy is off, open or token. Default: off, so nobody can add
	// clients without the operator.
	//
	// open lets anyone register a public third-party client (token
	// endpoint authentication none, PKCE required, always the consent
	// page), rate-limited per client IP (30 at once, then one a minute;
	// IPv6 per /64).
	// token requires an initial access token as a Bearer token, and
	// allows confidential third-party clients too.
	Policy string `json:"policy,omitempty"`
	// InitialAccessTokens accepted under the token policy, 16 characters
	// or more. Placeholders such as {env.GATEHOUSE_REGISTRATION_TOKEN}
	// work.
	InitialAccessTokens []string `json:"initial_access_tokens,omitempty"`
}

// registration turns the configuration into the core's. Registered
// clients are stored by the app's client registry.
func (a *App) registration(repl *caddy.Replacer) (authserver.Registration, error) {
	rc := a.Registration
	if rc == nil {
		return authserver.Registration{}, nil
	}
	reg := authserver.Registration{Policy: authserver.RegistrationPolicy(rc.Policy), Clients: a.registry, ClientIP: caddyClientIP}
	switch reg.Policy {
	case "", authserver.RegistrationOff, authserver.RegistrationOpen:
		if len(rc.InitialAccessTokens) > 0 {
			return reg, errorf("registration: initial access tokens are used only with the token policy")
		}
		if reg.Policy == "" || reg.Policy == authserver.RegistrationOff {
			return authserver.Registration{}, nil
		}
	case authserver.RegistrationToken:
		if len(rc.InitialAccessTokens) == 0 {
			return reg, errorf("registration: the token policy needs at least one initial access token")
		}
		for i, raw := range rc.InitialAccessTokens {
			tok := repl.ReplaceKnown(raw, "")
			if len(tok) < 16 {
				return reg, errorf("registration: initial access token %d: must be at least 16 characters", i+1)
			}
			reg.InitialAccessTokens = append(reg.InitialAccessTokens, tok)
		}
	default:
		return reg, errorf("registration: unknown policy %q (want off, open or token)", rc.Policy)
	}
	return reg, nil
}

// caddyClientIP is the client IP as Caddy determined it, which honours
// the server's trusted_proxies.
func caddyClientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseRegistration parses
//
//	registration off|open|token <initial_access_token>...
func parseRegistration(d *caddyfile.Dispenser) (*RegistrationConfig, error) {
	if !d.NextArg() {
		return nil, d.Errf("registration: expected off, open or token")
	}
	rc := &RegistrationConfig{Policy: d.Val()}
	rc.InitialAccessTokens = d.RemainingArgs()
	switch rc.Policy {
	case "off", "open":
		if len(rc.InitialAccessTokens) > 0 {
			return nil, d.Errf("registration %s: takes no further values", rc.Policy)
		}
	case "token":
		if len(rc.InitialAccessTokens) == 0 {
			return nil, d.Errf("registration token: expected at least one initial access token")
		}
	default:
		return nil, d.Errf("registration: unknown policy %q (want off, open or token)", rc.Policy)
	}
	if d.NextBlock(d.Nesting()) {
		return nil, d.Errf("registration: takes no block")
	}
	return rc, nil
}
