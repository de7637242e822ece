// Package authservertest builds a real authorization server for tests: an
// *authserver.Server over a fresh SQLite store (no mocks), with a clock
// that stands still until the test advances it, fixed signing keys, cheap
// password hashes, a user of each kind, a client of each of the four
// Connected App types and the gates' client; and helpers that drive it
// over HTTP as a browser and as the apps would (browser.go, tokens.go).
//
//	f := authservertest.New(t, authservertest.Options{})
//	code := f.NewBrowser(t).Code(f.AuthorizeQuery(authservertest.ThirdParty, "openid offline_access"))
//	tokens := f.Exchange(t, authservertest.ThirdParty, code)
//	f.Clock.Advance(time.Hour)
//
// Requests never touch the network: they are served in process with
// httptest. Throttling is off unless Options turns it on, so results do
// not depend on what ran before.
package authservertest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// Issuer is the fixture's issuer unless Options.Issuer says otherwise.
const Issuer = "https://issuer.example"

// Users. Every user's password is Password.
const (
	Password = "correct-horse-battery-staple"
	// Alice has every profile claim: name, verified email and phone,
	// groups.
	Alice   = "alice"
	AliceID = "user-alice"
	// Bob has a username and a password and nothing else.
	Bob   = "bob"
	BobID = "user-bob"
)

// Clients, one of each Connected App type. The confidential ones have
// generated (SHA-256 hashed) secrets.
const (
	// FirstParty is first_party: confidential, no consent page.
	FirstParty         = "first-party"
	FirstPartySecret   = "first-party-secret-0123456789abcdef"
	FirstPartyRedirect = "https://first.example/cb"
	FirstPartyLogout   = "https://first.example/signed-out"
	// FirstPartyPublic is first_party_public: a native app with a
	// private-use scheme, PKCE required, no consent page.
	FirstPartyPublic         = "first-party-public"
	FirstPartyPublicRedirect = "com.example.first:/cb"
	// ThirdParty is third_party: confidential, consent page. It has two
	// redirect URIs, so requests must name one.
	ThirdParty          = "third-party"
	ThirdPartySecret    = "third-party-secret-0123456789abcdef"
	ThirdPartyRedirect  = "https://third.example/cb"
	ThirdPartyRedirect2 = "https://third.example/other"
	ThirdPartyLogout    = "https://third.example/signed-out"
	// ThirdPartyPublic is third_party_public: a browser app on a
	// loopback redirect URI (any port matches), PKCE required, consent
	// page, and only the scopes openid, profile, email and
	// offline_access.
	ThirdPartyPublic         = "third-party-public"
	ThirdPartyPublicRedirect = "http://127.0.0.1/callback"
)

// The gates' client (clients.GateID) has one redirect URI, the callback
// of a gate guarding GateOrigin.
const (
	GateOrigin      = "https://gated.example"
	GateRedirectURI = GateOrigin + "/.gatehouse/callback"
)

// InitialAccessToken is accepted by /register under the token policy.
const InitialAccessToken = "authservertest-initial-access-token"

// Values of the authorization requests AuthorizeQuery makes.
const (
	State = "state-0123"
	Nonce = "nonce-4567"
	// Verifier is the PKCE code_verifier (RFC 7636 Appendix B's); its
	// S256 challenge is Challenge(Verifier).
	Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// CookieSecret returns the fixture server's cookie secret.
func CookieSecret() []byte {
	return []byte("authservertest-cookie-secret-0123456789")
}

// Options are what tests vary. The zero value is the standard fixture.
type Options struct {
	// Issuer; default Issuer.
	Issuer string
	// Lifetimes; zero fields take the server's defaults.
	Lifetimes authserver.Lifetimes
	// LoginThrottle and ClientThrottle: nil turns the defence off (the
	// default); a policy turns it on, its zero fields taking the
	// server's defaults.
	LoginThrottle, ClientThrottle *throttle.Policy
	// Registration is the dynamic registration policy; default off. The
	// token policy accepts InitialAccessToken.
	Registration authserver.RegistrationPolicy
	// Clients are added to the standard clients (an id already used
	// replaces that client). Secrets holds the plaintext secrets of the
	// confidential ones, for the helpers that authenticate clients.
	Clients []*clients.Client
	Secrets map[string]string
	// Users are added to Alice and Bob. HashPassword makes cheap hashes
	// for them.
	Users []*identity.User
	// SigningAlgorithms are added to ES256 and RS256, whose keys are
	// fixed: keys of these (PS256, EdDSA) are generated, and clients may
	// name them as id_token_signed_response_alg.
	SigningAlgorithms []string
	// Logger receives the server's logs; default: none.
	Logger *slog.Logger
	// MFA is the server's second-factor policy; default off. The
	// fixture's sealer seals the factors' secrets.
	MFA factor.Policy
	// Configure, if set, edits the configuration last, just before
	// authserver.New.
	Configure func(*authserver.Config)
	// StoreOptions are passed to the SQLite store (for example a
	// sqlstore.WithOpTimer that counts database calls).
	StoreOptions []sqlstore.Option
}

// Fixture is a running authorization server and what it is made of.
type Fixture struct {
	Server *authserver.Server
	// Config is what Server was built from.
	Config authserver.Config
	Store  store.Store
	Keys   *token.KeyManager
	Clock  *Clock
	// Clients is the server's client source: the static clients and those
	// stored in Registry, with the gates' client.
	Clients  *clients.Gate
	Registry *clients.Registry
	Users    *identity.StaticDirectory
	// Accounts manages the stored users (Config.Accounts); its directory
	// is the server's: Alice and Bob, then the stored users.
	Accounts *accounts.Manager
	// Revocations is the server's revocation watcher (Config.Revocations);
	// it is polled only when a test calls Poll or runs Server.Run.
	Revocations *revocation.Watcher

	secrets map[string]string
	issuer  *url.URL
}

// shared are built once per process: each costs a full-price argon2id
// hash or template parsing.
var (
	sharedHasher   = sync.OnceValue(func() *identity.Hasher { return identity.NewHasher(0) })
	sharedRenderer = sync.OnceValues(func() (*ui.Renderer, error) { return ui.New(ui.Branding{}, "") })
	passwordHash   = sync.OnceValues(func() (*identity.PasswordHash, error) { return HashPassword(Password) })
)

// CheapParams are argon2id parameters tests can afford (8 KiB, one
// pass): real hashing, at a low cost. The fixture's Accounts hash with
// them.
var CheapParams = identity.Argon2idParams{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// HashPassword returns a cheap argon2id hash of password (CheapParams).
func HashPassword(password string) (*identity.PasswordHash, error) {
	phc, err := identity.HashPassword(password, CheapParams)
	if err != nil {
		return nil, err
	}
	return identity.ParsePasswordHash(phc)
}

// Challenge is the S256 code_challenge of verifier (RFC 7636 §4.2).
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// StandardClients returns new copies of the fixture's four clients.
func StandardClients() []*clients.Client {
	return []*clients.Client{
		{ID: FirstParty, SecretHashes: []string{clients.HashSecret(FirstPartySecret)}, Metadata: clients.Metadata{
			Name: "First App", Type: clients.FirstParty,
			RedirectURIs: []string{FirstPartyRedirect}, PostLogoutRedirectURIs: []string{FirstPartyLogout}}},
		{ID: FirstPartyPublic, Metadata: clients.Metadata{
			Name: "First Native App", Type: clients.FirstPartyPublic, RedirectURIs: []string{FirstPartyPublicRedirect}}},
		{ID: ThirdParty, SecretHashes: []string{clients.HashSecret(ThirdPartySecret)}, Metadata: clients.Metadata{
			Name: "Third App", Type: clients.ThirdParty,
			RedirectURIs: []string{ThirdPartyRedirect, ThirdPartyRedirect2}, PostLogoutRedirectURIs: []string{ThirdPartyLogout},
			ClientURI: "https://third.example/", PolicyURI: "https://third.example/privacy", TOSURI: "https://third.example/terms"}},
		{ID: ThirdPartyPublic, Metadata: clients.Metadata{
			Name: "Third SPA", Type: clients.ThirdPartyPublic, RedirectURIs: []string{ThirdPartyPublicRedirect},
			Scopes: []string{"openid", "profile", "email", "offline_access"}}},
	}
}

// New builds a fixture; the test's cleanup shuts it down.
func New(t testing.TB, opts Options) *Fixture {
	t.Helper()
	ctx := context.Background()
	clock := NewClock(Epoch())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"), clock.Now(), opts.StoreOptions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New(sealKey[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := storeKeys(ctx, st, sealer); err != nil {
		t.Fatal(err)
	}
	algs := append([]string{"ES256", "RS256"}, opts.SigningAlgorithms...)
	keys := token.NewKeyManager(st, sealer, token.KeyOptions{Algorithms: algs, Now: clock.Now})
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}

	pw, err := passwordHash()
	if err != nil {
		t.Fatal(err)
	}
	userList := []*identity.User{
		{ID: AliceID, Username: Alice, Name: "Alice Liddell", Email: "alice@example.com", EmailVerified: true,
			Phone: "+1 555 0100", PhoneVerified: true, Groups: []string{"staff", "admins"}, Password: pw},
		{ID: BobID, Username: Bob, Password: pw},
	}
	users, err := identity.NewStaticDirectory(append(userList, opts.Users...))
	if err != nil {
		t.Fatal(err)
	}

	secrets := map[string]string{FirstParty: FirstPartySecret, ThirdParty: ThirdPartySecret}
	for _, c := range opts.Clients {
		delete(secrets, c.ID) // a replaced standard client's secret is gone
	}
	for id, s := range opts.Secrets {
		secrets[id] = s
	}
	byID := map[string]*clients.Client{}
	var order []string
	for _, c := range append(StandardClients(), opts.Clients...) {
		if byID[c.ID] == nil {
			order = append(order, c.ID)
		}
		byID[c.ID] = c
	}
	var list []*clients.Client
	for _, id := range order {
		list = append(list, byID[id])
	}
	static, err := clients.NewStatic(list, authserver.SupportedScopes())
	if err != nil {
		t.Fatal(err)
	}
	registry := clients.NewRegistry(static, st, authserver.SupportedScopes(), clients.RegistryOptions{Now: clock.Now, IDTokenAlgorithms: algs})
	gate := clients.NewGate(registry)
	if err := gate.Register(GateRedirectURI); err != nil {
		t.Fatal(err)
	}

	renderer, err := sharedRenderer()
	if err != nil {
		t.Fatal(err)
	}
	issuer := opts.Issuer
	if issuer == "" {
		issuer = Issuer
	}
	throttleOf := func(p *throttle.Policy) throttle.Policy {
		if p == nil {
			return throttle.Policy{Off: true}
		}
		return *p
	}
	revocations := revocation.New(st, time.Second, clock.Now)
	manager, err := accounts.New(accounts.Config{Store: st, Static: users, Hasher: sharedHasher(),
		Params: CheapParams, Logger: opts.Logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := authserver.Config{
		Issuer: issuer, Store: st, Keys: keys, Users: manager.Directory(), Accounts: manager, Clients: gate, UI: renderer,
		Hasher:         sharedHasher(),
		CookieSecrets:  [][]byte{CookieSecret()},
		Lifetimes:      opts.Lifetimes,
		Logger:         opts.Logger,
		Now:            clock.Now,
		LoginThrottle:  throttleOf(opts.LoginThrottle),
		ClientThrottle: throttleOf(opts.ClientThrottle),
		Revocations:    revocations,
		MFA:            opts.MFA,
		Sealer:         sealer,
	}
	if opts.Registration != "" {
		cfg.Registration = authserver.Registration{Policy: opts.Registration, Clients: registry,
			InitialAccessTokens: []string{InitialAccessToken}}
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	s, err := authserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Back-channel deliveries in flight end before the store closes.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	iss, _ := url.Parse(s.Issuer())
	return &Fixture{
		Server: s, Config: cfg, Store: st, Keys: keys, Clock: clock,
		Clients: gate, Registry: registry, Users: users, Accounts: manager, Revocations: revocations,
		secrets: secrets, issuer: iss,
	}
}

// Secret returns the plaintext secret of a confidential client, "" for
// a public or unknown one.
func (f *Fixture) Secret(clientID string) string { return f.secrets[clientID] }

// SetSecret records the plaintext secret of a client created during the
// test (through Registry or /register), for the helpers that
// authenticate clients.
func (f *Fixture) SetSecret(clientID, secret string) { f.secrets[clientID] = secret }

// Client returns a client of the server, or nil.
func (f *Fixture) Client(id string) *clients.Client {
	c, err := f.Clients.Client(context.Background(), id)
	if err != nil {
		return nil
	}
	return c
}

// RedirectURI is the first redirect URI registered for clientID, "" for
// an unknown client.
func (f *Fixture) RedirectURI(clientID string) string {
	if c := f.Client(clientID); c != nil && len(c.RedirectURIs) > 0 {
		return c.RedirectURIs[0]
	}
	return ""
}

// AuthorizeQuery is a complete, valid authorization request of clientID:
// response_type=code, its first redirect URI, State, Nonce and the S256
// challenge of Verifier, and scope unless scope is empty (the server then
// takes its default scopes). Tests change it to make it invalid.
func (f *Fixture) AuthorizeQuery(clientID, scope string) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {f.RedirectURI(clientID)},
		"state":                 {State},
		"nonce":                 {Nonce},
		"code_challenge":        {Challenge(Verifier)},
		"code_challenge_method": {"S256"},
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	return q
}

// URL is the absolute URL of path (with its query), relative to the
// issuer URL: "/token" is https://h/auth/token for the issuer https://h/auth.
func (f *Fixture) URL(path string) string { return f.issuer.String() + path }

// Path is the absolute path of path at the issuer, as the server's pages
// and redirects spell it: "/token" is "/auth/token" for the issuer
// https://h/auth.
func (f *Fixture) Path(path string) string { return f.issuer.Path + path }

// relative undoes Path.
func (f *Fixture) relative(abs string) string { return strings.TrimPrefix(abs, f.issuer.Path) }
