package gate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/session"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// Config configures a Gate. Zero values take the documented defaults.
type Config struct {
	Provider Provider
	// Resource is this protected resource's identifier: Bearer tokens must
	// name it in aud (RFC 8707, RFC 9068 §4). An absolute URI, or a path
	// (/mcp) under each origin of the site. Default: the site's origin.
	// A resource with a path has its RFC 9728 metadata at the path-suffixed
	// well-known URL (§3.1), /.well-known/oauth-protected-resource/mcp.
	Resource string
	// Scopes requested at browser login. Default: openid profile email groups.
	Scopes []string
	Policy Policy
	// Headers map claims to upstream request headers. Default: DefaultHeaders.
	Headers []HeaderMapping
	// CookieName is the session cookie's base name (the __Host- prefix is
	// added). Default "gatehouse_gate".
	CookieName string
	// CookieSecrets (32+ bytes each, newest first) protect the cookies.
	CookieSecrets [][]byte
	// CallbackPath and LogoutPath are served by the gate. Defaults
	// /.gatehouse/callback and /.gatehouse/logout.
	CallbackPath string
	LogoutPath   string
	// SessionLifetime is the absolute session lifetime (default 12 h);
	// SessionIdle ends a session unused that long (default 1 h).
	SessionLifetime time.Duration
	SessionIdle     time.Duration
	// Revocations, when set, ends sessions and tokens whose issuer
	// session or grant was revoked.
	Revocations *revocation.Watcher
	// Introspect validates every Bearer token at the provider's
	// introspection endpoint (RFC 7662) instead of locally, which is how
	// opaque (non-JWT) access tokens are accepted. The provider must
	// implement Introspector. Answers are cached for up to 30 s.
	Introspect bool
	// ForwardAuthorization keeps a verified Authorization header for the
	// upstream. Default: it is removed.
	ForwardAuthorization bool
	// Insecure drops the Secure attribute and __Host- prefix (plain-http
	// loopback development only).
	Insecure bool
	UI       *ui.Renderer
	// TokenCacheSize and SessionCacheSize bound the verified-token and
	// session caches (entries). Default 10000 each.
	TokenCacheSize   int
	SessionCacheSize int
	// PlaceholderPrefix, when set, gives each identity a placeholder
	// lookup (Identity.Placeholders) for PlaceholderPrefix+"id" and
	// PlaceholderPrefix+claim, computed once per identity.
	PlaceholderPrefix string
	Logger            *slog.Logger
	// DPoP checks the proofs of DPoP-bound tokens (RFC 9449 §7, dpop.go);
	// nil: such tokens are refused.
	DPoP *dpop.Verifier
	// Now is the gate's clock, time.Now if nil. The providers of this
	// package take it too, so expiry checks, discovery back-off and
	// revocation times all follow one clock.
	Now func() time.Time
}

// clocked is a provider that takes the gate's clock when New builds the
// gate; such a provider is used only through a gate.
type clocked interface{ useClock(now func() time.Time) }

// Gate guards one site (or one route of it).
type Gate struct {
	cfg               Config
	headers           []HeaderMapping
	canonical         []string  // canonical forms of the headers' names
	ownedFirst        [256]bool // first bytes (folded) of the header names the gate owns
	cookieName        string    // with prefix
	loginCookiePrefix string    // with prefix
	cookies           session.CookieOptions
	codec             *session.Codec
	loginCodec        *session.Codec
	tokens            *verifiedCache
	sessions          *verifiedCache
	log               *slog.Logger
	now               func() time.Time
	metadataAt        string // the path of the RFC 9728 metadata (resource.go)
}

const (
	metadataPath     = "/.well-known/oauth-protected-resource"
	loginFlowMaxAge  = 10 * time.Minute
	defaultLifetime  = 12 * time.Hour
	defaultIdle      = time.Hour
	defaultCookieKey = "gatehouse_gate"
)

// New validates cfg and builds a Gate.
func New(cfg Config) (*Gate, error) {
	if cfg.Provider == nil {
		return nil, errors.New("gate: a provider is required")
	}
	resourcePath, err := normalizeResource(&cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.CookieSecrets) == 0 {
		return nil, errors.New("gate: at least one cookie secret is required")
	}
	if cfg.UI == nil {
		return nil, errors.New("gate: UI is required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "profile", "email", "groups"}
	}
	if !slices.Contains(cfg.Scopes, "openid") {
		return nil, errors.New("gate: scopes must include openid")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = defaultCookieKey
	}
	if cfg.CallbackPath == "" {
		cfg.CallbackPath = "/.gatehouse/callback"
	}
	if cfg.LogoutPath == "" {
		cfg.LogoutPath = "/.gatehouse/logout"
	}
	for _, p := range []string{cfg.CallbackPath, cfg.LogoutPath} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			return nil, fmt.Errorf("gate: path %q must start with a single /", p)
		}
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = defaultLifetime
	}
	if cfg.SessionIdle <= 0 || cfg.SessionIdle > cfg.SessionLifetime {
		cfg.SessionIdle = min(defaultIdle, cfg.SessionLifetime)
	}
	if cfg.Headers == nil {
		cfg.Headers = DefaultHeaders()
	}
	for _, m := range cfg.Headers {
		if !slices.Contains(KnownClaims(), m.Claim) {
			return nil, fmt.Errorf("gate: unknown claim %q in a header mapping (known: %s)", m.Claim, strings.Join(KnownClaims(), ", "))
		}
		if http.CanonicalHeaderKey(m.Header) == "" || strings.ContainsAny(m.Header, " :\r\n") {
			return nil, fmt.Errorf("gate: invalid header name %q", m.Header)
		}
	}
	if cfg.TokenCacheSize < 0 || cfg.SessionCacheSize < 0 {
		return nil, errors.New("gate: cache sizes must not be negative")
	}
	if _, ok := cfg.Provider.(Introspector); cfg.Introspect && !ok {
		return nil, errors.New("gate: this provider cannot introspect tokens")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if c, ok := cfg.Provider.(clocked); ok {
		c.useClock(cfg.Now)
	}
	g := &Gate{
		cfg:      cfg,
		headers:  cfg.Headers,
		cookies:  session.CookieOptions{Secure: !cfg.Insecure, Path: "/"},
		tokens:   newVerifiedCache(cfg.TokenCacheSize),
		sessions: newVerifiedCache(cfg.SessionCacheSize),
		log:      cfg.Logger,
		now:      cfg.Now,
		// RFC 9728 §3.1: the well-known path, then the resource's path.
		metadataAt: metadataPath + resourcePath,
	}
	g.ownedFirst[foldHeaderByte(ownedPrefix[0])] = true
	for _, m := range g.headers {
		g.ownedFirst[foldHeaderByte(m.Header[0])] = true
		g.canonical = append(g.canonical, http.CanonicalHeaderKey(m.Header))
	}
	g.cookieName = g.cookies.Name(cfg.CookieName)
	g.loginCookiePrefix = g.cookies.Name(cfg.CookieName + "_login_")
	var keys, loginKeys []session.KeyPair
	for _, s := range cfg.CookieSecrets {
		k, err := session.DeriveKeyPair(s, "gate session")
		if err != nil {
			return nil, fmt.Errorf("gate: cookie secret: %w", err)
		}
		lk, err := session.DeriveKeyPair(s, "gate login")
		if err != nil {
			return nil, fmt.Errorf("gate: cookie secret: %w", err)
		}
		keys, loginKeys = append(keys, k), append(loginKeys, lk)
	}
	if g.codec, err = session.NewCodec(cfg.SessionLifetime, keys...); err != nil {
		return nil, err
	}
	if g.loginCodec, err = session.NewCodec(loginFlowMaxAge, loginKeys...); err != nil {
		return nil, err
	}
	g.codec, g.loginCodec = g.codec.WithClock(g.now), g.loginCodec.WithClock(g.now)
	return g, nil
}

// Handle runs the gate on r for the site at origin (scheme://host[:port],
// established by the caller as one this server really serves). It returns
// the caller's identity when the request may go on, with identity headers
// set and the gate's cookies removed; otherwise it has written the
// response itself and returns nil.
func (g *Gate) Handle(w http.ResponseWriter, r *http.Request, origin string) *Identity {
	g.stripHeaders(r)
	switch r.URL.Path {
	case g.cfg.CallbackPath:
		g.handleCallback(w, r, origin)
		return nil
	case g.cfg.LogoutPath:
		g.handleLogout(w, r, origin)
		return nil
	case g.metadataAt:
		g.handleMetadata(w, r, origin)
		return nil
	case assetsPath:
		g.handleCSS(w, r)
		return nil
	}
	var id *Identity
	if auth := r.Header.Get("Authorization"); auth != "" {
		var err error
		if id, err = g.credential(r, auth, origin); err != nil { // dpop.go
			var pe *errProof
			if errors.As(err, &pe) {
				g.proofChallenge(w, r, origin, pe)
			} else if unverifiable(err) {
				g.unavailable(w, r, err)
			} else {
				g.unauthorized(w, r, origin, err)
			}
			return nil
		}
		if !g.cfg.ForwardAuthorization {
			r.Header.Del("Authorization")
		}
	} else if id = g.sessionIdentity(w, r, origin); id == nil {
		if isBrowserNavigation(r) {
			g.startLogin(w, r, origin)
		} else {
			g.unauthorized(w, r, origin, nil)
		}
		return nil
	}
	if !g.cfg.Policy.allowsIdentity(id) || !g.cfg.Policy.allowsClient(id) {
		g.forbidden(w, r, origin, id, nil)
		return nil
	}
	if missing := g.cfg.Policy.missingScopes(id); len(missing) > 0 {
		g.forbidden(w, r, origin, id, missing)
		return nil
	}
	if !g.cfg.Policy.authenticationMet(id, g.now()) {
		if id.Source == SourceSession && isBrowserNavigation(r) {
			g.startLoginFor(w, r, origin, true) // step-up
		} else {
			g.insufficientAuthentication(w, r, origin)
		}
		return nil
	}
	g.stripCookies(r)
	g.SetHeaders(r, id)
	return id
}

// CallbackURL is where the provider sends a browser back to the site at
// origin after login: the redirect URI the gate's client registers.
func (g *Gate) CallbackURL(origin string) string { return origin + g.cfg.CallbackPath }

// resource is the identifier Bearer tokens must be issued for.
func (g *Gate) resource(origin string) string {
	switch r := g.cfg.Resource; {
	case r == "":
		return origin
	case r[0] == '/':
		return origin + r
	default:
		return r
	}
}

// isBrowserNavigation tells a person's browser, who can be sent to a login
// page, from an API client, who gets a 401.
func isBrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyOf is the cache key of a credential for a site: SHA-256 of both,
// each followed by a NUL. Credentials of usual size are hashed from a
// buffer on the stack.
func keyOf(site, credential string) cacheKey {
	var buf [2048]byte
	b := buf[:0]
	if n := len(site) + len(credential) + 2; n > len(buf) {
		b = make([]byte, 0, n)
	}
	b = append(append(append(append(b, site...), 0), credential...), 0)
	return sha256.Sum256(b)
}
