package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `gatehouse` Caddy app: the authorization server's issuer,
// store, signing keys, users and clients, shared by every site that uses
// the authserver (or authgate) handler.
type App struct {
	// Issuer is the issuer identifier, e.g. https://auth.example.com: an
	// https URL (http only on loopback hosts) that is also the base URL
	// of every endpoint. Required.
	Issuer string `json:"issuer,omitempty"`

	// StorageRaw says where state is kept. Default: SQLite at
	// gatehouse/gatehouse.db in Caddy's data directory.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=gatehouse.storage inline_key=backend"`

	// KeyEncryptionKeys seal private signing keys and secrets at rest:
	// 32-byte keys in base64 or hex, newest first (older ones still open
	// what they sealed). Placeholders such as {env.GATEHOUSE_KEK} work.
	// Default: one key generated on first start and kept in Caddy's data
	// directory at gatehouse/kek (mode 0600). Required with storage shared
	// by several instances (postgres): they must all use the same key.
	KeyEncryptionKeys []string `json:"key_encryption_keys,omitempty"`

	// SigningAlgorithms adds signing key algorithms to the two always
	// kept, ES256 (access tokens) and RS256 (the ID token algorithm
	// OpenID Connect requires, and clients' default): PS256 and EdDSA, for
	// clients whose id_token_signed_response_alg names them. Each is one
	// more key to generate and rotate.
	SigningAlgorithms []string `json:"signing_algorithms,omitempty"`

	// KeyRotationInterval is how long a signing key signs before a new one
	// takes over. Default 720h (30 days).
	KeyRotationInterval caddy.Duration `json:"key_rotation_interval,omitempty"`
	// KeyPrePublication is how long a new signing key is published in the
	// JWKS before it signs, so that other instances and relying parties'
	// JWKS caches have it first. Default: 24h, or half the rotation
	// interval if that is shorter. Must exceed KeyReloadInterval.
	KeyPrePublication caddy.Duration `json:"key_prepublication,omitempty"`
	// KeyReloadInterval is how often keys are re-read from the store (and
	// a due rotation started), bounding how long instances disagree about
	// the key set. Default 1m.
	KeyReloadInterval caddy.Duration `json:"key_reload_interval,omitempty"`

	// CookieSecrets (32+ bytes each, newest first) protect the session
	// cookie and in-flight authorization requests. Default: a secret
	// generated once and kept, sealed, in the store, so every instance
	// sharing the store shares it.
	CookieSecrets []string `json:"cookie_secrets,omitempty"`

	// Lifetimes. Defaults: authorization code 60s, access token 10m, ID
	// token 1h, refresh token 720h idle (sliding) and 2160h absolute,
	// browser session 24h.
	AuthCodeLifetime        caddy.Duration `json:"authorization_code_lifetime,omitempty"`
	AccessTokenLifetime     caddy.Duration `json:"access_token_lifetime,omitempty"`
	IDTokenLifetime         caddy.Duration `json:"id_token_lifetime,omitempty"`
	RefreshTokenLifetime    caddy.Duration `json:"refresh_token_lifetime,omitempty"`
	RefreshTokenMaxLifetime caddy.Duration `json:"refresh_token_max_lifetime,omitempty"`
	SessionLifetime         caddy.Duration `json:"session_lifetime,omitempty"`

	// RevocationPollInterval bounds how long a revocation (logout,
	// revoked grant) made on another instance can go unnoticed by gates
	// and caches here. Default 5s.
	RevocationPollInterval caddy.Duration `json:"revocation_poll_interval,omitempty"`

	// HealthPath, when set, is a path of the issuer's site (e.g. /healthz)
	// answering 200 or 503, without detail, for load balancers. The
	// details are on the admin endpoint at /gatehouse/health.
	HealthPath string `json:"health_path,omitempty"`

	// AuditRetention is how long audit records are kept in the store,
	// where GET /gatehouse/audit on the admin endpoint reads them.
	// Default 2160h (90 days).
	AuditRetention caddy.Duration `json:"audit_retention,omitempty"`

	// MFA is the second-factor policy: off (the default), optional
	// (users may set up an authenticator app on their account page and
	// are then asked for a code at sign-in) or required (users without a
	// factor set one up at their next sign-in). A client's own mfa
	// replaces it for that client unless it is off.
	MFA string `json:"mfa,omitempty"`

	// Users who can sign in, defined in the configuration (read-only at
	// run time). Users created at run time (admin API, CLI) are kept in
	// the store.
	Users []*UserConfig `json:"users,omitempty"`
	// PasswordPolicy applies to the passwords of stored users.
	PasswordPolicy *PasswordPolicyConfig `json:"password_policy,omitempty"`
	// InvitationLifetime and PasswordResetLifetime bound how long the
	// single-use links of invitations and password resets work. Default
	// 24h each.
	InvitationLifetime    caddy.Duration `json:"invitation_lifetime,omitempty"`
	PasswordResetLifetime caddy.Duration `json:"password_reset_lifetime,omitempty"`
	// SMTP sends password reset links ("Forgot password?" on the login
	// page). Default: none, and no such link.
	SMTP *SMTPConfig `json:"smtp,omitempty"`
	// PasswordHashing bounds argon2id's share of the process's CPU and
	// memory. Default: one core always left free of hashing.
	PasswordHashing *PasswordHashingConfig `json:"password_hashing,omitempty"`
	// Clients are the statically configured Connected Apps.
	Clients []*ClientConfig `json:"clients,omitempty"`
	// UI brands the login and consent pages.
	UI *UIConfig `json:"ui,omitempty"`
	// Registration configures dynamic client registration (RFC 7591) at
	// /register. Default: off.
	Registration *RegistrationConfig `json:"registration,omitempty"`
	// ClientIDMetadataDocuments, when set, resolves https client ids by
	// their metadata documents. Default: off.
	ClientIDMetadataDocuments *MetadataDocumentsConfig `json:"client_id_metadata_documents,omitempty"`
	// ProtocolSwitches turn on the opt-in grants and endpoints
	// (protocol_switches.go). Default: all off.
	ProtocolSwitches
	// PrivateKeyJWT, when set, lets clients authenticate with signed
	// assertions (RFC 7523). Default: off.
	PrivateKeyJWT *PrivateKeyJWTConfig `json:"private_key_jwt,omitempty"`
	// DPoP, when set, turns on DPoP-bound tokens (RFC 9449). Default: off.
	DPoP *DPoPConfig `json:"dpop,omitempty"`
	// TokenExchange, when true, turns on the token exchange grant (RFC
	// 8693) for clients whose grant_types list it. Default: off.
	TokenExchange bool `json:"token_exchange,omitempty"`
	// LoginThrottle and ClientAuthThrottle slow down password and client
	// secret guessing. On by default (see ThrottleConfig).
	LoginThrottle      *ThrottleConfig `json:"login_throttle,omitempty"`
	ClientAuthThrottle *ThrottleConfig `json:"client_auth_throttle,omitempty"`
	// Providers are upstream identity providers users may sign in with
	// (federation_config.go). Default: none.
	Providers []*ProviderConfig `json:"providers,omitempty"`
	// PasswordOff hides the password form: users sign in only through
	// Providers (at least one is then required).
	PasswordOff bool `json:"password_off,omitempty"`

	server      *authserver.Server
	keys        *token.KeyManager
	gateClients *clients.Gate
	registry    *clients.Registry // static clients, then stored ones
	accounts    *accounts.Manager // configured users, then stored ones
	revocations *revocation.Watcher
	secrets     [][]byte
	renderer    *ui.Renderer
	store       store.Store
	poolKey     string
	throttleKey string // in throttleStates, once provisioned
	logger      *zap.Logger
	// stopRun ends the server's background work and waits for it.
	stopRun func()
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse",
		New: func() caddy.Module { return new(App) },
	}
}

// stores shares one open store per database across config reloads.
var stores = caddy.NewUsagePool()

// StorageBackend is implemented by gatehouse.storage.* modules.
type StorageBackend interface {
	// PoolKey identifies the database, so reloads share one store.
	PoolKey() string
	// OpenStore opens the store and applies migrations.
	OpenStore(ctx caddy.Context) (store.Store, error)
}

type pooledStore struct{ store.Store }

func (p pooledStore) Destruct() error { return p.Close() }

// Provision builds the authorization server from the configuration. Every
// configuration error names the field it is about.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	if err := registerMetrics(ctx); err != nil {
		return err
	}

	mfa, err := parseMFA(a.MFA)
	if err != nil {
		return errorf("mfa: %v", err)
	}
	issuer := repl.ReplaceKnown(a.Issuer, "")
	if issuer == "" {
		return errorf("issuer is required (e.g. issuer https://auth.example.com)")
	}
	iss, err := authserver.ParseIssuer(issuer)
	if err != nil {
		return errorf("%v", err)
	}
	if iss.Scheme == "http" {
		a.logger.Warn("issuer uses plain http; cookies are not Secure. Use this only for local development", zap.String("issuer", issuer))
	}

	backend, err := a.storageBackend(ctx)
	if err != nil {
		return err
	}
	if sh, ok := backend.(sharedStorage); ok && sh.SharedAcrossInstances() && len(a.KeyEncryptionKeys) == 0 {
		// A per-machine generated key would leave each instance unable to
		// open the signing keys and cookie secret another one created.
		return errorf("key_encryption_key is required with shared storage (postgres): every instance must use the same key, e.g. key_encryption_key {env.GATEHOUSE_KEK} (32 random bytes in hex or base64: openssl rand -hex 32)")
	}
	a.poolKey = backend.PoolKey()
	val, _, err := stores.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		st, err := backend.OpenStore(ctx)
		if err != nil {
			return nil, err
		}
		return pooledStore{st}, nil
	})
	if err != nil {
		return errorf("storage: %v", err)
	}
	a.store = val.(pooledStore).Store

	users := make([]*identity.User, 0, len(a.Users))
	for _, uc := range a.Users {
		u, err := uc.user()
		if err != nil {
			return err
		}
		users = append(users, u)
	}
	dir, err := identity.NewStaticDirectory(users)
	if err != nil {
		return errorf("users: %v", err)
	}
	policy, inviteLifetime, resetLifetime, err := a.accountsConfig()
	if err != nil {
		return err
	}
	hashLimits, err := a.PasswordHashing.limits()
	if err != nil {
		return err
	}
	hasher := hasherFor(hashLimits)
	// Users created at run time live in the store, after the configured
	// ones (which they can never shadow).
	a.accounts, err = accounts.New(accounts.Config{Store: a.store, Static: dir, Hasher: hasher, Policy: policy,
		InviteLifetime: inviteLifetime, ResetLifetime: resetLifetime, Logger: ctx.Slogger()})
	if err != nil {
		return errorf("%v", err)
	}
	configured := make([]*clients.Client, 0, len(a.Clients))
	for _, cc := range a.Clients {
		configured = append(configured, cc.client())
	}
	static, err := clients.NewStatic(configured, authserver.SupportedScopes())
	if err != nil {
		return errorf("clients: %v", err)
	}
	algs, err := signingAlgorithms(a.SigningAlgorithms)
	if err != nil {
		return err
	}
	// Clients created at run time (admin API, dynamic registration) are
	// kept in the store and served after the static ones; their ID token
	// algorithm must be one there are keys for.
	a.registry = clients.NewRegistry(static, a.store, authserver.SupportedScopes(), clients.RegistryOptions{IDTokenAlgorithms: algs})
	registration, err := a.registration(repl)
	if err != nil {
		return err
	}
	// Agents known by their client metadata documents come after the
	// registered clients.
	var source clients.Source = a.registry
	if a.ClientIDMetadataDocuments != nil {
		if source, err = a.ClientIDMetadataDocuments.source(a.registry, algs); err != nil {
			return err
		}
	}
	// Gates in this Caddy sign users in through their own first-party
	// client, registered at run time (see authgate).
	a.gateClients = clients.NewGate(source)

	lifetimes := authserver.Lifetimes{
		AuthCode:         time.Duration(a.AuthCodeLifetime),
		AccessToken:      time.Duration(a.AccessTokenLifetime),
		IDToken:          time.Duration(a.IDTokenLifetime),
		RefreshTokenIdle: time.Duration(a.RefreshTokenLifetime),
		RefreshTokenMax:  time.Duration(a.RefreshTokenMaxLifetime),
		Session:          time.Duration(a.SessionLifetime),
	}
	// The core derives how long replaced keys stay published from the
	// token lifetimes and the clients.
	keyOpts, err := authserver.KeySchedule{
		RotationInterval: time.Duration(a.KeyRotationInterval),
		PrePublication:   time.Duration(a.KeyPrePublication),
		ReloadInterval:   time.Duration(a.KeyReloadInterval),
	}.KeyOptions(lifetimes, a.gateClients)
	if err != nil {
		return errorf("%v", err)
	}
	keyOpts.Algorithms = algs
	sealer, err := a.sealer(repl)
	if err != nil {
		return err
	}
	a.keys = token.NewKeyManager(a.store, sealer, keyOpts)
	if err := a.keys.Load(ctx); err != nil {
		return errorf("signing keys: %v", err)
	}
	if a.secrets, err = a.cookieSecrets(ctx, repl, sealer); err != nil {
		return err
	}

	a.revocations = revocation.New(a.store, time.Duration(a.RevocationPollInterval), nil)
	if err := a.revocations.Poll(ctx); err != nil {
		return errorf("storage: reading revocations: %v", err)
	}
	if err := a.registerRevocationFeedAge(ctx); err != nil {
		return err
	}

	uiCfg := a.UI
	if uiCfg == nil {
		uiCfg = &UIConfig{}
	}
	if a.renderer, err = ui.New(ui.Branding{ProductName: uiCfg.ProductName, LogoURL: uiCfg.LogoURL, PrimaryColor: uiCfg.PrimaryColor}, uiCfg.TemplatesDir); err != nil {
		return errorf("ui: %v", err)
	}

	mailer, err := a.SMTP.mailer(repl)
	if err != nil {
		return err
	}
	cfg := authserver.Config{
		Issuer:                    issuer,
		Store:                     a.store,
		Keys:                      a.keys,
		Accounts:                  a.accounts,
		Clients:                   a.gateClients,
		UI:                        a.renderer,
		Hasher:                    hasher,
		CookieSecrets:             a.secrets,
		Lifetimes:                 lifetimes,
		Logger:                    ctx.Slogger(),
		Registration:              registration,
		LoginThrottle:             a.LoginThrottle.policy(),
		ClientThrottle:            a.ClientAuthThrottle.policy(),
		ThrottleState:             a.throttleState(iss.String()),
		Revocations:               a.revocations,
		ClientIDMetadataDocuments: a.ClientIDMetadataDocuments != nil,
		ClientCredentials:         a.ClientCredentials,
		DeviceAuthorization:       a.DeviceAuthorization,
		PushedAuthorization:       a.PushedAuthorizationRequests,
		Observers:                 []authserver.Observer{metrics(), authserver.AuditLog(auditLogger(ctx))},
		HealthPath:                a.HealthPath,
		AuditRetention:            a.auditRetention(),
		MFA:                       mfa,
		Sealer:                    sealer,
	}
	if mailer != nil {
		cfg.Mailer = mailer
	}
	if cfg.Providers, err = a.providers(repl, nil); err != nil {
		return err
	}
	cfg.PasswordLoginOff = a.PasswordOff
	cfg.DPoP = a.DPoP.core()
	cfg.TokenExchange = a.TokenExchange
	if a.PrivateKeyJWT != nil {
		if cfg.ClientKeys, err = a.PrivateKeyJWT.keySets(); err != nil {
			return err
		}
	} else if err := refuseKeyClients(a.Clients); err != nil {
		return err
	}
	a.server, err = authserver.New(cfg)
	if err != nil {
		return errorf("%v", err)
	}
	return nil
}

func (a *App) storageBackend(ctx caddy.Context) (StorageBackend, error) {
	if a.StorageRaw == nil {
		return &SQLiteStorage{}, nil
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return nil, errorf("storage: %v", err)
	}
	backend, ok := mod.(StorageBackend)
	if !ok {
		return nil, errorf("storage: module %T is not a Gatehouse storage backend", mod)
	}
	return backend, nil
}

// sealer builds the key-encryption sealer from configured keys, or from
// a key kept in Caddy's data directory.
func (a *App) sealer(repl *caddy.Replacer) (*seal.Sealer, error) {
	var keks [][]byte
	for i, raw := range a.KeyEncryptionKeys {
		k, err := seal.ParseKey(repl.ReplaceKnown(raw, ""))
		if err != nil {
			return nil, errorf("key_encryption_key %d: %v", i+1, err)
		}
		keks = append(keks, k)
	}
	if len(keks) == 0 {
		k, err := dataDirKEK()
		if err != nil {
			return nil, errorf("key_encryption_key: no key configured and %v", err)
		}
		keks = append(keks, k)
	}
	s, err := seal.New(keks...)
	if err != nil {
		return nil, errorf("key_encryption_key: %v", err)
	}
	return s, nil
}

// dataDirKEK reads, or creates once, the default key-encryption key.
func dataDirKEK() ([]byte, error) {
	path := filepath.Join(caddy.AppDataDir(), "gatehouse", "kek")
	if b, err := os.ReadFile(path); err == nil {
		return seal.ParseKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	k := seal.GenerateKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it first; use theirs.
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return seal.ParseKey(string(b))
	} else if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := fmt.Fprintf(f, "%x\n", k); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// cookieSecrets returns the configured cookie secrets, or the one the core
// keeps sealed in the store (authserver.StoredCookieSecret).
func (a *App) cookieSecrets(ctx context.Context, repl *caddy.Replacer, sealer *seal.Sealer) ([][]byte, error) {
	var out [][]byte
	for i, raw := range a.CookieSecrets {
		s := repl.ReplaceKnown(raw, "")
		if len(s) < 32 {
			return nil, errorf("cookie_secret %d: must be at least 32 characters", i+1)
		}
		out = append(out, []byte(s))
	}
	if len(out) > 0 {
		return out, nil
	}
	secret, err := authserver.StoredCookieSecret(ctx, a.store, sealer, time.Now())
	if err != nil {
		return nil, errorf("cookie_secret: %v", err)
	}
	return [][]byte{secret}, nil
}

// Start runs the server's background work (authserver.Server.Run):
// reloading and rotating signing keys, the revocation feed, and garbage
// collection of expired state.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.server.Run(ctx) }()
	a.stopRun = func() { cancel(); <-done }
	return nil
}

// Stop ends background work and waits for it, so nothing touches the
// store after Cleanup releases it.
func (a *App) Stop() error {
	if a.stopRun != nil {
		a.stopRun()
	}
	if a.server != nil {
		// Back-channel logouts in flight get a moment to be delivered.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.server.Shutdown(ctx); err != nil {
			a.logger.Warn("back-channel logouts abandoned at shutdown", zap.Error(err))
		}
	}
	return nil
}

// Cleanup releases this config's hold on the shared store and throttle
// state.
func (a *App) Cleanup() error {
	a.releaseThrottleState()
	if a.poolKey != "" {
		_, err := stores.Delete(a.poolKey)
		return err
	}
	return nil
}

// Server returns the provisioned authorization server.
func (a *App) Server() *authserver.Server { return a.server }

// Accounts returns the app's user manager.
func (a *App) Accounts() *accounts.Manager { return a.accounts }

// ClientRegistry returns the app's clients: static, then stored ones.
func (a *App) ClientRegistry() *clients.Registry { return a.registry }

func errorf(format string, args ...any) error {
	return fmt.Errorf("gatehouse: "+format, args...)
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// signingAlgorithms returns the algorithms to keep signing keys for: the
// defaults (ES256, RS256) and those configured.
func signingAlgorithms(configured []string) ([]string, error) {
	algs := token.DefaultAlgorithms()
	for _, alg := range configured {
		if len(clients.IDTokenAlgs([]string{alg})) == 0 {
			return nil, errorf("signing_algorithms: unsupported algorithm %q (supported: ES256, RS256, PS256, EdDSA)", alg)
		}
		if !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs, nil
}

// parseMFA reads an mfa option; empty is off.
func parseMFA(s string) (factor.Policy, error) {
	if s == "" {
		return factor.Off, nil
	}
	return factor.ParsePolicy(s)
}
