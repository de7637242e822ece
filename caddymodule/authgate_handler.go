package caddymodule

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver/gate"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

func init() {
	caddy.RegisterModule(AuthGate{})
}

// AuthGate lets a request through to the handlers after it (usually
// reverse_proxy) only with a verified identity: a browser session started
// through OpenID Connect, or a Bearer access token. It removes every
// identity header the client sent, enforces the policy, and tells the
// upstream who the user is in request headers and placeholders
// ({http.auth.user.id}, {http.auth.user.email}, {http.auth.user.<claim>}).
type AuthGate struct {
	// Issuer is an external OpenID Connect provider's issuer URL, found
	// by discovery. Default: the gatehouse app in this Caddy, for which
	// the gate registers itself as a first-party client.
	Issuer string `json:"issuer,omitempty"`
	// ClientID and ClientSecret of the gate at an external issuer.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Resource is this resource's identifier; Bearer tokens must carry it
	// in aud. An absolute URI, or a path (/mcp) under each of the site's
	// origins. A resource with a path has its RFC 9728 metadata at the
	// path-suffixed URL (/.well-known/oauth-protected-resource/mcp), served
	// without authentication. Default: the site's origin
	// (https://host[:port]).
	Resource string `json:"resource,omitempty"`
	// Name is the site's display name, which the consent page of this
	// Caddy's issuer shows beside the resource's URI when an app asks to
	// reach it ("Demo MCP server at https://localhost:9445/mcp").
	// Default: none, the URI alone.
	Name string `json:"name,omitempty"`
	// Origin is the site's public origin (scheme://host[:port]). Default:
	// the site's address: its host names, the port(s) its server listens
	// on, and https when the server has TLS. Required where that address
	// cannot say (a catch-all or wildcard site, or Caddy behind a proxy or
	// port mapping that changes the port). Requests whose Host is not
	// that of an origin are refused with 421 Misdirected Request.
	Origin string `json:"origin,omitempty"`
	// Scopes requested at login. Default: openid profile email groups.
	Scopes []string `json:"scopes,omitempty"`
	// CallbackPath and LogoutPath the gate serves. Defaults
	// /.gatehouse/callback and /.gatehouse/logout.
	CallbackPath string `json:"callback_path,omitempty"`
	LogoutPath   string `json:"logout_path,omitempty"`
	// SessionLifetime (absolute, default 12h) and SessionIdle (default
	// 1h) of the gate's session.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`
	SessionIdle     caddy.Duration `json:"session_idle,omitempty"`
	// CookieName is the session cookie's base name (default
	// gatehouse_gate; the __Host- prefix is added).
	CookieName string `json:"cookie_name,omitempty"`
	// CookieSecrets (32+ characters, newest first) protect the gate's
	// cookies; older ones keep old sessions valid during rotation.
	// Default: derived from the gatehouse app's cookie secret.
	CookieSecrets []string `json:"cookie_secrets,omitempty"`
	// Introspect validates Bearer tokens at the external issuer's
	// introspection endpoint (RFC 7662) instead of locally, so opaque
	// tokens are accepted. Answers are cached for up to 30s.
	Introspect bool `json:"introspect,omitempty"`
	// ForwardAuthorization keeps a verified Authorization header for the
	// upstream. Default false: it is removed.
	ForwardAuthorization bool `json:"forward_authorization,omitempty"`
	// Allow is the access policy. Empty: any authenticated user.
	Allow *PolicyConfig `json:"allow,omitempty"`
	// TokenCacheSize and SessionCacheSize bound how many verified Bearer
	// tokens and decoded session cookies the gate remembers (default
	// 10000 each; about 0.6 KiB an entry). More live tokens than the
	// bound still work, each costing a signature check when it is not
	// cached.
	TokenCacheSize   int `json:"token_cache_size,omitempty"`
	SessionCacheSize int `json:"session_cache_size,omitempty"`
	// Deny refuses the apps it lists, whatever Allow says.
	Deny *DenyConfig `json:"deny,omitempty"`
	// Require asks for a strong user authentication: browsers are sent
	// through a step-up login, Bearer tokens without it get 401
	// insufficient_user_authentication (RFC 9470).
	Require *RequireConfig `json:"require,omitempty"`
	// Headers maps claims to request headers for the upstream, replacing
	// the default header of each claim named; an empty header name
	// removes that claim's header. Claims: sub, preferred_username, email,
	// email_verified, name, groups, scope, client_id, iss, auth_source, idp,
	// amr, acr.
	Headers map[string]string `json:"headers,omitempty"`

	gate         *gate.Gate
	logger       *zap.Logger
	origins      *siteOrigins
	site         string             // the metrics' site label (authgate_metrics.go)
	allowedCount prometheus.Counter // gate_decisions_total{site, outcome="allowed"}
}

// PolicyConfig lists who may pass.
type PolicyConfig struct {
	Users        []string `json:"users,omitempty"`
	Usernames    []string `json:"usernames,omitempty"`
	Emails       []string `json:"emails,omitempty"`
	EmailDomains []string `json:"email_domains,omitempty"`
	Groups       []string `json:"groups,omitempty"`
	// Scopes are all required of Bearer tokens.
	Scopes []string `json:"scopes,omitempty"`
	// Clients, when set, are the only apps (client_id) whose Bearer
	// tokens are accepted; browser sessions are not affected.
	Clients []string `json:"clients,omitempty"`
}

// RequireConfig is how strongly a caller must have authenticated.
type RequireConfig struct {
	// MFA: more than one factor (amr contains "mfa").
	MFA bool `json:"mfa,omitempty"`
	// ACR: this authentication class, or for Gatehouse's own classes
	// (urn:gatehouse:acr:pwd, urn:gatehouse:acr:mfa) a stronger one.
	ACR string `json:"acr,omitempty"`
	// MaxAge: a sign-in at most this old (auth_time).
	MaxAge caddy.Duration `json:"max_age,omitempty"`
}

// DenyConfig lists who may not pass.
type DenyConfig struct {
	// Clients are apps (client_id) whose Bearer tokens are refused.
	Clients []string `json:"clients,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (AuthGate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.authgate",
		New: func() caddy.Module { return new(AuthGate) },
	}
}

// Provision builds the gate and its provider.
func (h *AuthGate) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	var app *App
	if appIface, err := ctx.AppIfConfigured("gatehouse"); err == nil {
		app = appIface.(*App)
	} else if !errors.Is(err, caddy.ErrNotConfigured) {
		return fmt.Errorf("authgate: loading the gatehouse app: %w", err)
	}

	cfg := gate.Config{
		Resource:             repl.ReplaceKnown(h.Resource, ""),
		Scopes:               h.Scopes,
		CallbackPath:         h.CallbackPath,
		LogoutPath:           h.LogoutPath,
		SessionLifetime:      time.Duration(h.SessionLifetime),
		SessionIdle:          time.Duration(h.SessionIdle),
		CookieName:           h.CookieName,
		ForwardAuthorization: h.ForwardAuthorization,
		Introspect:           h.Introspect,
		TokenCacheSize:       h.TokenCacheSize,
		SessionCacheSize:     h.SessionCacheSize,
		PlaceholderPrefix:    placeholderPrefix,
		Logger:               ctx.Slogger(),
	}
	if h.Allow != nil {
		cfg.Policy = gate.Policy{
			Users: h.Allow.Users, Usernames: h.Allow.Usernames, Emails: h.Allow.Emails,
			EmailDomains: h.Allow.EmailDomains, Groups: h.Allow.Groups, Scopes: h.Allow.Scopes,
			Clients: h.Allow.Clients,
		}
	}
	if h.Deny != nil {
		cfg.Policy.DenyClients = h.Deny.Clients
	}
	if h.Require != nil {
		cfg.Policy.RequireMFA, cfg.Policy.RequireACR = h.Require.MFA, h.Require.ACR
		cfg.Policy.MaxAge = time.Duration(h.Require.MaxAge)
	}
	headers, err := mergeHeaders(h.Headers)
	if err != nil {
		return err
	}
	cfg.Headers = headers

	switch issuer := repl.ReplaceKnown(h.Issuer, ""); {
	case issuer == "" && app == nil:
		return errors.New("authgate: no issuer: configure the gatehouse global option, or set issuer (with client_id and client_secret) for an external OpenID Connect provider")
	case issuer == "" || (app != nil && issuer == app.server.Issuer()):
		if h.ClientID != "" || h.ClientSecret != "" {
			return errors.New("authgate: client_id and client_secret are only for an external issuer; with this Caddy's gatehouse app the gate registers its own client")
		}
		cfg.Provider = &gate.LocalProvider{
			Server: app.server, KeyManager: app.keys, Store: app.store,
			Revocations: app.revocations,
		}
		cfg.Revocations = app.revocations
		cfg.DPoP = app.gateVerifier() // dpop.go
	default:
		if h.ClientID == "" {
			return errors.New("authgate: client_id is required with an external issuer")
		}
		cfg.Provider = &gate.OIDCProvider{
			IssuerURL:    issuer,
			ClientID:     repl.ReplaceKnown(h.ClientID, ""),
			ClientSecret: repl.ReplaceKnown(h.ClientSecret, ""),
			HTTPClient:   &http.Client{Timeout: 15 * time.Second},
		}
	}

	for i, s := range h.CookieSecrets {
		v := repl.ReplaceKnown(s, "")
		if len(v) < 32 {
			return fmt.Errorf("authgate: cookie_secret %d: must be at least 32 characters", i+1)
		}
		cfg.CookieSecrets = append(cfg.CookieSecrets, []byte(v))
	}
	if len(cfg.CookieSecrets) == 0 {
		if app != nil {
			cfg.CookieSecrets = app.secrets
		} else {
			secret := make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return err
			}
			cfg.CookieSecrets = [][]byte{secret}
			h.logger.Warn("authgate: no cookie_secret and no gatehouse app; sessions will not survive a restart and will not be shared between instances")
		}
	}
	if app != nil {
		cfg.UI = app.renderer
	} else if cfg.UI, err = ui.New(ui.Branding{}, ""); err != nil {
		return err
	}
	if h.origins, err = h.provisionOrigins(ctx, repl); err != nil {
		return err
	}
	// Plain-http sites get cookies without Secure and the __Host- prefix,
	// which a browser would otherwise drop.
	cfg.Insecure = h.origins.http
	if h.gate, err = gate.New(cfg); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	if _, ok := cfg.Provider.(*gate.LocalProvider); ok {
		// The gate's client at this Caddy's issuer gets exactly one
		// redirect URI per origin, now; nothing a request carries can
		// add another.
		for _, o := range h.origins.list {
			if err := app.gateClients.Register(h.gate.CallbackURL(o)); err != nil {
				return fmt.Errorf("authgate: %w", err)
			}
			if name := repl.ReplaceKnown(h.Name, ""); name != "" {
				app.server.NameResource(h.gate.ResourceFor(o), name)
			}
		}
	}
	h.logger.Debug("authgate origins", zap.Strings("origins", h.origins.list))
	return h.provisionMetrics(ctx)
}

// provisionOrigins fixes the origins the gate serves: the configured one,
// or those of its site's address.
func (h *AuthGate) provisionOrigins(ctx caddy.Context, repl *caddy.Replacer) (*siteOrigins, error) {
	var origins []string
	if h.Origin != "" {
		origins = []string{repl.ReplaceKnown(h.Origin, "")}
	} else {
		srv, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
		var err error
		if origins, err = originsOfSite(srv); err != nil {
			return nil, fmt.Errorf("authgate: cannot tell the site's origin: %v; set origin to the site's public URL (e.g. origin https://app.example.com)", err)
		}
	}
	o, err := newSiteOrigins(origins)
	if err != nil {
		return nil, fmt.Errorf("authgate: %w", err)
	}
	return o, nil
}

// mergeHeaders applies the configured claim→header changes to the
// defaults.
func mergeHeaders(changes map[string]string) ([]gate.HeaderMapping, error) {
	out := slices.Clone(gate.DefaultHeaders())
	for claim, header := range changes {
		if !slices.Contains(gate.KnownClaims(), claim) {
			return nil, fmt.Errorf("authgate: header: unknown claim %q (known: %s)", claim, strings.Join(gate.KnownClaims(), ", "))
		}
		i := slices.IndexFunc(out, func(m gate.HeaderMapping) bool { return m.Claim == claim })
		switch {
		case header == "" && i >= 0:
			out = slices.Delete(out, i, i+1)
		case header == "":
		case i >= 0:
			out[i].Header = header
		default:
			out = append(out, gate.HeaderMapping{Claim: claim, Header: header})
		}
	}
	return out, nil
}

// ServeHTTP gates the request.
func (h *AuthGate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	origin, ok := h.origins.match(r.Host)
	if !ok {
		// Caddy's host matcher ignores the port, so a request for another
		// port or spelling of the host can reach this site. It is not for
		// this site's origin (RFC 9110 §15.5.20), and the gate would
		// otherwise answer under the wrong audience and callback URL.
		countGateDecision(h.site, gateMisdirected)
		return caddyhttp.Error(http.StatusMisdirectedRequest, errMisdirected)
	}
	rec := getRecorder(w)
	id := h.gate.Handle(rec, r, origin)
	status := rec.status
	putRecorder(rec)
	if id == nil {
		countGateDecision(h.site, gateOutcome(status))
		return nil
	}
	h.allowedCount.Inc()
	// The identity's placeholders are looked up only if something reads
	// them, from values computed once per identity (issue 19: setting
	// them per request was a tenth of the gate's cost).
	if lookup := id.Placeholders(); lookup != nil {
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		repl.Map(lookup)
	}
	return next.ServeHTTP(w, r)
}

// placeholderPrefix names the identity's placeholders:
// {http.auth.user.id} (the subject, as Caddy's basic_auth names it) and
// {http.auth.user.<claim>}.
const placeholderPrefix = "http.auth.user."

// errMisdirected is the (unlogged but for debug) cause of a 421. The Host
// value is left out: it is the client's, and goes nowhere.
var errMisdirected = errors.New("authgate: the request's Host is not one of this site's origins")

// Interface guards
var (
	_ caddy.Provisioner           = (*AuthGate)(nil)
	_ caddyhttp.MiddlewareHandler = (*AuthGate)(nil)
)
