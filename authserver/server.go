package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/session"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// supportedScopes are the scopes Gatehouse understands.
var supportedScopes = []string{"openid", "profile", "email", "phone", "groups", "offline_access"}

// SupportedScopes returns the scopes Gatehouse understands.
func SupportedScopes() []string { return slices.Clone(supportedScopes) }

// defaultScopes are used when an authorization request has no scope, as
// Stytch Connected Apps does.
var defaultScopes = []string{"openid", "email", "profile"}

// Lifetimes of what the server issues. Zero values take the defaults.
type Lifetimes struct {
	AuthCode          time.Duration // default 60 s
	AccessToken       time.Duration // default 10 min
	IDToken           time.Duration // default 1 h
	RefreshTokenIdle  time.Duration // sliding expiry, default 30 days
	RefreshTokenMax   time.Duration // absolute grant lifetime, default 90 days
	Session           time.Duration // browser session, default 24 h
	AuthorizationFlow time.Duration // how long a login/consent page stays usable, default 15 min
}

func (l *Lifetimes) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.AuthCode, 60*time.Second)
	def(&l.AccessToken, 10*time.Minute)
	def(&l.IDToken, time.Hour)
	def(&l.RefreshTokenIdle, 30*24*time.Hour)
	def(&l.RefreshTokenMax, 90*24*time.Hour)
	def(&l.Session, 24*time.Hour)
	def(&l.AuthorizationFlow, 15*time.Minute)
}

// Config is everything a Server needs. The caller owns the store.
type Config struct {
	// Issuer is the issuer identifier: an https URL (http only on a
	// loopback host, for development) without query or fragment.
	Issuer string
	Store  store.Store
	// Keys sign what the server issues. Their retention must cover the
	// longest token lifetime (see KeySchedule); options from
	// KeySchedule.KeyOptions do.
	Keys *token.KeyManager
	// Users are who can sign in. With Accounts set and Users nil, the
	// users are Accounts.Directory().
	Users identity.Directory
	// Accounts, when set, manages the users kept in the store: sign-in
	// records and hash upgrades, invitation and reset links, the account
	// pages. Nil: only the users of Users, read-only.
	Accounts *accounts.Manager
	Clients  clients.Source
	// TokenExchange turns on the token exchange grant (RFC 8693,
	// grant_token_exchange.go) for clients whose grant types list it.
	TokenExchange bool
	// DPoP, when set, turns on DPoP (RFC 9449, dpop_server.go). Nil: DPoP
	// headers are ignored and tokens are Bearer tokens.
	DPoP *DPoPConfig
	// ClientKeys, when set, turns on private_key_jwt client
	// authentication (RFC 7523, client_assertion.go): it finds the
	// clients' public keys. Nil: assertions are refused and discovery
	// does not list the method.
	ClientKeys *clients.KeySets
	// ClientIDMetadataDocuments says that Clients resolves https client
	// ids by their metadata documents (clients.MetadataDocuments), which
	// the metadata then advertises (client_id_metadata_document_supported).
	ClientIDMetadataDocuments bool
	UI                        *ui.Renderer
	// Hasher bounds concurrent argon2id work; one is created if nil.
	Hasher *identity.Hasher
	// CookieSecrets are 32+ byte secrets for cookies and sealed
	// authorization requests, newest first; older ones still decode.
	CookieSecrets [][]byte
	Lifetimes     Lifetimes
	Logger        *slog.Logger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Registration configures dynamic client registration (RFC 7591,
	// RFC 7592; register.go). Off when its Policy is empty.
	Registration Registration
	// LoginThrottle and ClientThrottle slow down password guessing at the
	// login form and secret guessing at client authentication (token,
	// introspection and revocation endpoints); zero fields take
	// throttle.DefaultLogin and throttle.DefaultClientAuth (throttle.go).
	LoginThrottle  throttle.Policy
	ClientThrottle throttle.Policy
	// ThrottleState is what those defences and the registration limit
	// remember. A host that builds a new Server for the same issuer (on a
	// config reload) passes the same State, so no lock is lifted; nil: a
	// fresh one.
	ThrottleState *throttle.State
	// Revocations, when set, is the in-memory view of the revocation feed
	// that Run keeps current (gates read it).
	Revocations *revocation.Watcher
	// Mailer sends password reset links for the "forgot password" page,
	// which exists only with a Mailer and Accounts.
	Mailer mail.Sender
	// GCInterval is how often Run deletes expired state from the store;
	// zero means DefaultGCInterval.
	GCInterval time.Duration
	// Observers are told of every security-relevant action (events.go):
	// metrics and the audit log.
	Observers []Observer
	// ClientCredentials enables the client_credentials grant (RFC 6749
	// §4.4; grant_client_credentials.go) for confidential clients that
	// list it in grant_types, and advertises it.
	ClientCredentials bool
	// DeviceAuthorization enables the device authorization grant (RFC
	// 8628; device_authorization.go, device_verification.go) for clients
	// that list its grant type: /device_authorization, /device, and
	// polling at /token.
	DeviceAuthorization bool
	// PushedAuthorization enables pushed authorization requests (RFC
	// 9126; par.go): /par, and request_uri at /authorize. Clients with
	// RequirePushedAuthorizationRequests need it.
	PushedAuthorization bool
	// UserCodeThrottle slows down guessing of device user codes at
	// /device; zero fields take throttle.DefaultUserCode.
	UserCodeThrottle throttle.Policy
	// HealthPath, when set, is an absolute path (e.g. /healthz) answering
	// GET with 200 or 503 and no detail, for load balancers (health.go).
	HealthPath string
	// AuditRetention, when positive and Store is a store.AuditStore, keeps
	// every event in the store for that long (audit_store.go), where
	// AuditRecords reads them; Run writes them and deletes expired ones.
	// Zero: events are not kept.
	AuditRetention time.Duration
	// Providers are the upstream identity providers users may sign in
	// with (federated.go); they need a store.FederationStore.
	Providers []FederatedProvider
	// PasswordLoginOff hides the login page's password form and refuses
	// password sign-ins: users sign in only through Providers.
	PasswordLoginOff bool
	// MFA is the server's second-factor policy (mfa.go): off ("" too),
	// optional or required. A client's own policy (clients.Client.MFA)
	// replaces it for that client unless it is off.
	MFA factor.Policy
	// Sealer seals second-factor secrets at rest; required unless MFA is
	// off.
	Sealer *seal.Sealer
}

// Server is the authorization server. It is an http.Handler.
type Server struct {
	cfg       Config
	issuer    *url.URL
	prefix    string // the issuer's path, without trailing slash
	mux       *http.ServeMux
	paths     map[string]bool
	log       *slog.Logger
	now       func() time.Time
	cookies   session.CookieOptions
	sessions  *session.Codec // browser session cookie
	requests  *session.Codec // sealed authorization requests
	devices   *session.Codec // device cookies (device.go)
	csrfKey   []byte
	verifier  *token.Verifier
	discovery []byte
	// registrar serves /register; nil when registration is off.
	registrar *registrar
	// forgot is the "forgot password" flow (forgot_password.go); nil
	// without Mailer.
	forgot *forgotPassword
	// backchannel delivers back-channel logout tokens (backchannel.go).
	backchannel *backchannelSender
	// logins and clientAuths count failures (throttle.go); userCodes
	// wrong device codes (device_verification.go).
	logins, clientAuths, userCodes *throttle.Guard
	// hsts: send Strict-Transport-Security (https issuers not on a
	// loopback host, which would pin every local port to https).
	hsts bool
	// resourceNames are the display names of protected resources
	// (resources.go).
	resourceNames resourceNames
	// healthRouted: HealthPath is served (health.go).
	healthRouted bool
	// ticker starts the ticks of one of Run's jobs (maintenance.go);
	// tests replace it to tick by hand.
	ticker func(job string, interval time.Duration) (ticks <-chan time.Time, stop func())
	// audit keeps events in the store (audit_store.go); nil when off.
	audit *auditWriter
	// dpop checks DPoP proofs; nil when DPoP is off.
	dpop *dpop.Verifier
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	iss, err := ParseIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Store == nil:
		return nil, errors.New("authserver: Store is required")
	case cfg.Keys == nil:
		return nil, errors.New("authserver: Keys is required")
	case cfg.Users == nil && cfg.Accounts == nil:
		return nil, errors.New("authserver: Users is required")
	case cfg.Clients == nil:
		return nil, errors.New("authserver: Clients is required")
	case cfg.UI == nil:
		return nil, errors.New("authserver: UI is required")
	case len(cfg.CookieSecrets) == 0:
		return nil, errors.New("authserver: at least one cookie secret is required")
	case cfg.GCInterval < 0:
		return nil, errors.New("authserver: GCInterval must not be negative")
	case cfg.AuditRetention < 0:
		return nil, errors.New("authserver: AuditRetention must not be negative")
	case cfg.MFA.Asks() && cfg.Sealer == nil:
		return nil, errors.New("authserver: MFA needs a Sealer for the factors' secrets")
	}
	if cfg.MFA != "" {
		if _, err := factor.ParsePolicy(string(cfg.MFA)); err != nil {
			return nil, fmt.Errorf("authserver: %w", err)
		}
	}
	if err := checkFederation(cfg); err != nil {
		return nil, err
	}
	// The keys must outlive every token they sign (keyschedule.go).
	if err := checkKeyRetention(cfg.Keys, cfg.Lifetimes, cfg.Clients); err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	// Every client's ID tokens must have a key to be signed with.
	if err := clients.CheckIDTokenAlgs(cfg.Clients, cfg.Keys.Algorithms()); err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	if cfg.Users == nil {
		cfg.Users = cfg.Accounts.Directory()
	}
	if cfg.Hasher == nil {
		cfg.Hasher = identity.NewHasher(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ThrottleState == nil {
		cfg.ThrottleState = throttle.NewState()
	}
	if cfg.GCInterval == 0 {
		cfg.GCInterval = DefaultGCInterval
	}
	cfg.Lifetimes.setDefaults()

	s := &Server{
		cfg:     cfg,
		issuer:  iss,
		prefix:  strings.TrimSuffix(iss.Path, "/"),
		log:     cfg.Logger,
		now:     cfg.Now,
		cookies: session.CookieOptions{Secure: iss.Scheme == "https", Path: "/"},
		hsts:    iss.Scheme == "https" && !isLoopbackHost(iss.Hostname()),
		ticker:  newTicker,
	}
	if as, ok := cfg.Store.(store.AuditStore); ok && cfg.AuditRetention > 0 {
		s.audit = newAuditWriter(as, cfg.Now, cfg.Logger)
		// A copy: the caller's slice is not appended to.
		s.cfg.Observers = append(slices.Clip(cfg.Observers), s.audit)
	}
	if cfg.Accounts != nil {
		s.routeAccountEvents(cfg.Accounts)
	}
	s.dpop = s.newDPoPVerifier()
	var sessionKeys, requestKeys, deviceKeys []session.KeyPair
	for _, secret := range cfg.CookieSecrets {
		sk, err := session.DeriveKeyPair(secret, "issuer session")
		if err != nil {
			return nil, fmt.Errorf("authserver: cookie secret: %w", err)
		}
		rk, err := session.DeriveKeyPair(secret, "authorization request")
		if err != nil {
			return nil, fmt.Errorf("authserver: cookie secret: %w", err)
		}
		dk, err := session.DeriveKeyPair(secret, "device cookie")
		if err != nil {
			return nil, fmt.Errorf("authserver: cookie secret: %w", err)
		}
		sessionKeys, requestKeys, deviceKeys = append(sessionKeys, sk), append(requestKeys, rk), append(deviceKeys, dk)
	}
	if s.sessions, err = session.NewCodec(cfg.Lifetimes.Session, sessionKeys...); err != nil {
		return nil, err
	}
	if s.requests, err = session.NewCodec(cfg.Lifetimes.AuthorizationFlow, requestKeys...); err != nil {
		return nil, err
	}
	if s.devices, err = session.NewCodec(deviceCookieLifetime, deviceKeys...); err != nil {
		return nil, err
	}
	// Sealed requests and cookies expire by the server's clock, like the
	// rest of what it times.
	s.sessions, s.requests, s.devices = s.sessions.WithClock(s.now), s.requests.WithClock(s.now), s.devices.WithClock(s.now)
	mac := hmac.New(sha256.New, cfg.CookieSecrets[0])
	mac.Write([]byte("gatehouse csrf"))
	s.csrfKey = mac.Sum(nil)
	s.verifier = &token.Verifier{
		Keys:       cfg.Keys,
		Issuer:     iss.String(),
		Algorithms: []string{"ES256", "RS256", "EdDSA", "PS256"},
		Type:       accessTokenType,
		Now:        cfg.Now,
	}
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.backchannel = newBackchannelSender(cfg.Logger)
	if err := checkHealthPath(cfg.HealthPath); err != nil {
		return nil, err
	}
	if s.registrar, err = newRegistrar(cfg.Registration, cfg.ThrottleState.Registrations()); err != nil {
		return nil, err
	}
	if err := s.newThrottles(); err != nil {
		return nil, err
	}
	if err := s.newUserCodeGuard(); err != nil {
		return nil, err
	}
	s.routes()
	if p := cfg.HealthPath; p != "" && s.paths[p] && !s.healthRouted {
		return nil, fmt.Errorf("authserver: HealthPath %q is one of the server's own paths", p)
	}
	return s, nil
}

// ParseIssuer checks an issuer identifier (RFC 8414 §2, OIDC Discovery
// §3): an https URL with no query or fragment; plain http is accepted only
// for loopback hosts, for local development.
func ParseIssuer(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return nil, fmt.Errorf("issuer: %q is not an absolute URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return nil, fmt.Errorf("issuer: %q must not have a query, fragment or user info", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("issuer: %q must use https (plain http is allowed only on loopback hosts)", raw)
		}
	default:
		return nil, fmt.Errorf("issuer: %q must use https", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Issuer returns the issuer identifier.
func (s *Server) Issuer() string { return s.issuer.String() }

// endpoint returns the absolute URL of one of the server's routes.
func (s *Server) endpoint(path string) string { return s.issuer.String() + path }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.paths = map[string]bool{}
	// handleAt serves an absolute path; handle one under the issuer's.
	handleAt := func(methods, path string, h http.HandlerFunc) {
		for _, m := range strings.Fields(methods) {
			s.mux.HandleFunc(m+" "+path, h)
		}
		s.paths[path] = true
	}
	handle := func(methods, path string, h http.HandlerFunc) { handleAt(methods, s.prefix+path, h) }
	handle("GET POST", "/authorize", s.pageHandler(s.handleAuthorize))
	handle("GET POST", "/login", s.pageHandler(s.handleLogin))
	handle("GET POST", "/consent", s.pageHandler(s.handleConsent))
	if s.mfaOn() {
		handle("GET POST", secondFactorPath, s.pageHandler(s.handleSecondFactor))
		handle("GET POST", accountTwoStepPath, s.pageHandler(s.handleAccountTwoStep))
	}
	handle("POST OPTIONS", "/token", s.corsHandler(s.handleToken))
	handle("GET POST OPTIONS", "/userinfo", s.corsHandler(s.handleUserinfo))
	handle("GET OPTIONS", "/jwks.json", s.corsHandler(s.handleJWKS))
	handle("GET OPTIONS", "/.well-known/openid-configuration", s.corsHandler(s.handleDiscovery))
	handle("GET OPTIONS", "/.well-known/oauth-authorization-server", s.corsHandler(s.handleDiscovery))
	if s.prefix != "" {
		// RFC 8414 §3.1 places the metadata of an issuer with a path at
		// the host's root with the path appended.
		handleAt("GET OPTIONS", "/.well-known/oauth-authorization-server"+s.prefix, s.corsHandler(s.handleDiscovery))
	}
	if s.registrar != nil {
		handle("GET POST PUT DELETE OPTIONS", "/register", s.handleRegister)
	}
	if s.cfg.PushedAuthorization {
		handle("POST OPTIONS", parPath, s.corsHandler(s.handlePAR))
	}
	if s.cfg.DeviceAuthorization {
		handle("POST OPTIONS", deviceAuthorizationPath, s.corsHandler(s.handleDeviceAuthorization))
		handle("GET POST", devicePath, s.pageHandler(s.handleDevice))
	}
	handle("GET", "/assets/gatehouse.css", s.handleCSS)
	handle("POST OPTIONS", "/introspect", s.corsHandler(s.handleIntrospect))
	handle("POST OPTIONS", "/revoke", s.corsHandler(s.handleRevoke))
	handle("GET POST", "/logout", s.pageHandler(s.handleLogout))
	handle("GET POST", accountAppsPath, s.pageHandler(s.handleAccountApps))
	if s.cfg.Accounts != nil {
		handle("GET POST", choosePasswordPath, s.pageHandler(s.handleChoosePassword))
		handle("GET POST", accountPath, s.pageHandler(s.handleAccount))
		if s.cfg.Mailer != nil {
			s.forgot = newForgotPassword()
			handle("GET POST", forgotPasswordPath, s.pageHandler(s.handleForgotPassword))
			handle("GET POST", verifyEmailPath, s.pageHandler(s.handleVerifyEmail))
		}
	}
	if len(s.cfg.Providers) > 0 {
		handle("GET", federationContinuePath, s.pageHandler(s.handleFederationContinue))
	}
	for i := range s.cfg.Providers {
		p := &s.cfg.Providers[i]
		handle("GET", federationStartPath(p.Name()), s.pageHandler(s.handleFederationStart(p)))
		handle("GET", federationCallbackPath(p.Name()), s.pageHandler(s.handleFederationCallback(p)))
	}
	if p := s.cfg.HealthPath; p != "" && !s.paths[p] {
		handleAt("GET HEAD", p, s.handleHealthz)
		s.healthRouted = true
	}
}

// Owns reports whether r is for one of the server's routes, so a host
// (the Caddy handler) can pass other requests on, and serve them itself
// (a home or not-found page) only when nothing else answered.
func (s *Server) Owns(r *http.Request) bool { return s.paths[r.URL.Path] }

// ServeHTTP serves the authorization server's routes, and answers any
// other path with the home or the not-found page (home.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if s.hsts {
		// The issuer is https only: browsers that saw it once never try
		// plain http again (RFC 6797), so a network attacker cannot strip
		// TLS from a later visit to the login page.
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !s.Owns(r) {
		// Not a mux fallback: a catch-all pattern would also take the
		// routes' wrong methods, which must stay 405.
		s.pageHandler(s.handleUnowned)(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

var _ http.Handler = (*Server)(nil)

// maxFormBytes bounds every request body the server parses.
const maxFormBytes = 64 << 10

// parseForm parses a POST body (application/x-www-form-urlencoded only)
// within maxFormBytes and rejects repeated parameters (RFC 6749 §3.1,
// §3.2: parameters must not be included more than once).
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	var form url.Values
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
			return nil, errBadContentType
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errBodyTooLarge
			}
			return nil, errMalformedForm
		}
		form = r.PostForm
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, errMalformedForm
		}
		form = q
	}
	for k, v := range form {
		// RFC 8707 §2 lets resource appear several times.
		if len(v) > 1 && k != "resource" {
			return form, &duplicateParamError{name: k}
		}
	}
	return form, nil
}

var (
	errBadContentType = errors.New("the request body must be application/x-www-form-urlencoded")
	errBodyTooLarge   = errors.New("the request body is too large")
	errMalformedForm  = errors.New("the request parameters are malformed")
)

type duplicateParamError struct{ name string }

func (e *duplicateParamError) Error() string {
	return fmt.Sprintf("parameter %q is repeated", e.name)
}

// Interface guards
var (
	_ http.Handler = (*Server)(nil)
	_ error        = (*duplicateParamError)(nil)
)

// randomToken returns a type-prefixed 256-bit random token and the hex
// SHA-256 under which it is stored. The prefix makes leaked tokens
// recognisable to secret scanners.
func randomToken(prefix string) (raw, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	raw = prefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, hashToken(raw)
}

// hashToken is the storage key of a code, refresh token or session id.
func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// randomID returns a random identifier (jti, grant id), not a secret.
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

const (
	codePrefix         = "gh_ac_"
	refreshTokenPrefix = "gh_rt_"
	sessionIDPrefix    = "gh_sid_"
	accessTokenType    = "at+jwt"
)

// clientFor looks up a client, distinguishing unknown ids from failures.
func (s *Server) clientFor(ctx context.Context, id string) (*clients.Client, error) {
	if id == "" {
		return nil, clients.ErrUnknown
	}
	return s.cfg.Clients.Client(ctx, id)
}
