// Package store defines how Gatehouse persists its state: browser sessions,
// authorization codes, grants with their refresh tokens, consents, signing
// keys and server secrets.
//
// The interface is deliberately dumb about cryptography: callers hash codes,
// refresh tokens and session ids before they reach the store, and seal
// private keys and secrets before storing them. A backend never sees a raw
// credential.
//
// Every race that matters (a code redeemed twice, a refresh token rotated
// twice) is decided inside the database by a conditional write, never by a
// read-then-write in Go. Time is always passed in by the caller so tests and
// backends agree on "now".
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap or return them so callers can use errors.Is.
var (
	// ErrNotFound means no record has that key (or it has expired where the
	// method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists means a create collided with an existing key.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrCodeReused means an authorization code had already been redeemed.
	// The backend has revoked the grant the first redemption created
	// (RFC 6749 §4.1.2) before returning it.
	ErrCodeReused = errors.New("store: authorization code already redeemed")
	// ErrRefreshTokenReused means a rotated refresh token was presented
	// again. The backend has revoked the whole grant (the token family,
	// RFC 9700 §4.14.2) before returning it.
	ErrRefreshTokenReused = errors.New("store: refresh token reused")
	// ErrRevoked means the grant behind a token has been revoked.
	ErrRevoked = errors.New("store: revoked")
	// ErrReplay means a one-time identifier (UseOnce) was used before.
	ErrReplay = errors.New("store: one-time identifier already used")
)

// ErrUnavailable means the database could not be asked: it did not answer
// within the store's deadline, the connection to it failed, or it refused
// the work for a passing reason (disk full, too many connections). It says
// nothing about the record: callers must never read it as ErrNotFound (a
// signed-in user is not signed out because the database is slow), and
// answer "temporarily unavailable, try again" instead. Backends wrap it
// together with the driver's error, so errors.Is finds both.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string { return "store: temporarily unavailable" }

// TemporarilyUnavailable marks the error for packages that must not import
// this one (oautherr maps it to temporarily_unavailable, RFC 6749 §4.1.2.1).
func (unavailableError) TemporarilyUnavailable() bool { return true }

// Session is the server-side record of a browser session at the issuer.
// The cookie carries the raw id; the store keeps only its hash.
type Session struct {
	IDHash    string    // hex SHA-256 of the session id
	Subject   string    // the user's stable id (OIDC "sub")
	AuthTime  time.Time // when the user last authenticated
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while the session is live
	// UserAgent is the browser's User-Agent when the session started
	// (shortened), for the user's list of their sessions.
	UserAgent string
	// AMR lists how the user authenticated (RFC 8176 values, e.g. "pwd",
	// "otp", "mfa"), in the order the methods were used.
	AMR []string
	// IDP names the upstream identity provider the user signed in
	// through ("" for Gatehouse's own sign-in); AMR then holds the RFC
	// 8176 methods that provider reported.
	IDP string
}

// AuthCode is an issued authorization code (RFC 6749 §4.1.2), stored by hash.
type AuthCode struct {
	Hash                string // hex SHA-256 of the code
	GrantID             string // id of the grant its redemption creates
	ClientID            string
	Subject             string
	SessionIDHash       string
	RedirectURI         string // exactly as sent in the authorization request
	Scopes              []string
	Resources           []string // RFC 8707 resource indicators
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	AuthTime            time.Time
	AMR                 []string // the session's authentication methods (RFC 8176)
	CreatedAt           time.Time
	ExpiresAt           time.Time
	RedeemedAt          time.Time // zero until redeemed
}

// Grant is what a redeemed code creates: the user's authorization of a client
// for a set of scopes. Refresh tokens belong to exactly one grant (their
// family); revoking the grant revokes all of them and every access token
// that names the grant.
type Grant struct {
	ID            string
	ClientID      string
	Subject       string
	SessionIDHash string
	Scopes        []string
	Resources     []string
	AuthTime      time.Time
	AMR           []string // how the user authenticated (RFC 8176), kept for refreshed tokens
	CreatedAt     time.Time
	ExpiresAt     time.Time // absolute end of the grant and its refresh tokens
	RevokedAt     time.Time // zero while live
	// DPoPJKT binds the grant's refresh tokens to a DPoP key (RFC 9449
	// §5: public clients); its JWK SHA-256 thumbprint, or "".
	DPoPJKT string
}

// RefreshToken is one member of a grant's refresh token family, stored by
// hash. A rotated token has RotatedAt set and must never be accepted again.
type RefreshToken struct {
	Hash      string // hex SHA-256 of the token
	GrantID   string
	CreatedAt time.Time
	// ExpiresAt is the sliding (idle) expiry. RedeemAuthCode and
	// RotateRefreshToken store it as given (callers cap it at the grant's
	// end); ExtendRefreshToken caps it itself.
	ExpiresAt time.Time
	RotatedAt time.Time // zero while current
}

// Consent records which scopes a user has granted a client, and for
// which protected resources (RFC 8707 resource indicators, normalised).
type Consent struct {
	Subject  string
	ClientID string
	Scopes   []string
	// Resources the user allowed the client to reach; a request for any
	// other asks again.
	Resources []string
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastUsedAt is when tokens were last issued to the client for the
	// user under this consent (see TouchConsent); zero if never.
	LastUsedAt time.Time
}

// SigningKey is a JWS signing key. The private key is sealed by the caller
// (see package seal) before it is stored.
type SigningKey struct {
	ID        string // the JWK "kid"
	Algorithm string // JWS alg, e.g. "ES256", "RS256"
	Sealed    []byte // encrypted PKCS#8 private key
	CreatedAt time.Time
	NotAfter  time.Time // stop signing with it after this; zero = no limit
	RetireAt  time.Time // drop it from the JWKS after this; zero = never
}

// Revocation is one entry of the revocation feed: a grant, session or
// access token that was revoked, and until when it matters (its own expiry).
type Revocation struct {
	Kind      RevocationKind
	ID        string // grant id, session id hash, or access token jti
	RevokedAt time.Time
	ExpiresAt time.Time
}

// RevocationKind says what a Revocation is about.
type RevocationKind string

const (
	RevokedGrant   RevocationKind = "grant"
	RevokedSession RevocationKind = "session"
	// RevokedToken is a single access token denylisted by its jti
	// (DenylistToken, RFC 7009).
	RevokedToken RevocationKind = "token"
)

// Store is the persistence interface every backend implements and the
// storetest conformance suite checks.
type Store interface {
	// CreateSession stores a new session. ErrAlreadyExists on a duplicate id.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with that id hash, revoked or not.
	// ErrNotFound when there is none.
	GetSession(ctx context.Context, idHash string) (Session, error)
	// RevokeSession marks a session revoked. Revoking an unknown or already
	// revoked session is not an error.
	RevokeSession(ctx context.Context, idHash string, now time.Time) error

	// CreateAuthCode stores a new code. ErrAlreadyExists on a duplicate hash.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// GetAuthCode returns a code by hash whether redeemed or expired.
	// ErrNotFound when there is none.
	GetAuthCode(ctx context.Context, hash string) (AuthCode, error)
	// RedeemAuthCode atomically marks the code redeemed and creates the
	// grant (g.ID must equal the code's GrantID) and, when rt is non-nil,
	// its first refresh token, and records the use on the grant's consent
	// (as TouchConsent) in the same transaction. Exactly one of any number of concurrent
	// calls for the same code succeeds. When the code was already redeemed
	// the backend revokes the grant it created and returns ErrCodeReused.
	// ErrNotFound when the code is unknown or expired at now.
	RedeemAuthCode(ctx context.Context, hash string, now time.Time, g Grant, rt *RefreshToken) error

	// GetGrant returns a grant by id, revoked or not. ErrNotFound if none.
	GetGrant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant marks the grant revoked, which revokes its refresh tokens
	// (they are only valid through a live grant). Unknown or already
	// revoked grants are not an error; a second revocation keeps the first
	// time.
	RevokeGrant(ctx context.Context, id string, now time.Time) error

	// GetRefreshToken returns a refresh token and its grant by token hash,
	// whatever their state. ErrNotFound when there is none.
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, Grant, error)
	// RotateRefreshToken atomically retires the token with oldHash and
	// stores next (which must belong to the same grant); it records the use
	// on the grant's consent, as RedeemAuthCode does. Exactly one of any
	// number of concurrent rotations of the same token succeeds; a rotation
	// of a token that was already rotated revokes the grant and returns
	// ErrRefreshTokenReused. ErrNotFound when the token is unknown or
	// expired at now; ErrRevoked when its grant is revoked or expired.
	RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, next RefreshToken) (Grant, error)
	// ExtendRefreshToken slides the expiry of a current (not rotated) token
	// to expiresAt, capped at its grant's ExpiresAt, and records the use on
	// the grant's consent, as RedeemAuthCode does. Errors as for
	// RotateRefreshToken (a rotated token gives ErrRefreshTokenReused and
	// revokes the grant).
	ExtendRefreshToken(ctx context.Context, hash string, now, expiresAt time.Time) (Grant, error)

	// GetConsent returns what subject granted clientID. ErrNotFound if none.
	GetConsent(ctx context.Context, subject, clientID string) (Consent, error)
	// SaveConsent creates or replaces the consent for (Subject, ClientID):
	// its scopes, resources and UpdatedAt. On replace, CreatedAt and
	// LastUsedAt of the existing record are kept.
	SaveConsent(ctx context.Context, c Consent) error
	// ListConsents returns every consent subject has given, oldest first
	// (by CreatedAt, then ClientID); none is an empty list, not an error.
	ListConsents(ctx context.Context, subject string) ([]Consent, error)
	// DeleteConsent removes what subject granted clientID. ErrNotFound
	// when there is no such consent.
	DeleteConsent(ctx context.Context, subject, clientID string) error
	// TouchConsent sets the consent's LastUsedAt to now unless it is
	// already later. Without a consent (first-party clients) it does
	// nothing and is not an error. The token methods above do the same in
	// their own transaction; this is for tokens issued without one.
	TouchConsent(ctx context.Context, subject, clientID string, now time.Time) error

	// RevokeGrantsFor revokes every unrevoked grant of subject for clientID
	// (their refresh token families with them) and returns how many it
	// revoked. Grants already revoked keep their first revocation time.
	RevokeGrantsFor(ctx context.Context, subject, clientID string, now time.Time) (int, error)
	// ListGrantsBySession returns the grants created from the browser
	// session with that id hash, revoked or expired or not, oldest first,
	// at most limit of them.
	ListGrantsBySession(ctx context.Context, sessionIDHash string, limit int) ([]Grant, error)

	// DenylistToken records that the access token with this jti is revoked
	// at now, until expiresAt (after which the token is refused anyway).
	// Denylisting a jti again keeps the first record.
	DenylistToken(ctx context.Context, jti string, now, expiresAt time.Time) error
	// UseOnce records the one-time identifier id (a client assertion's or
	// a DPoP proof's jti, namespaced by the caller) until expiresAt.
	// ErrReplay when it is already recorded and unexpired at now; the
	// store alone decides between two concurrent uses, so the check holds
	// across instances.
	UseOnce(ctx context.Context, id string, now, expiresAt time.Time) error
	// IsTokenDenylisted reports whether jti has been denylisted (and not
	// yet garbage collected).
	IsTokenDenylisted(ctx context.Context, jti string) (bool, error)

	// CreateSigningKey stores a new key. ErrAlreadyExists on a duplicate id.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every stored key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKeys deletes the keys with these ids, in one
	// statement, and returns how many it deleted; ids not stored (already
	// deleted by another instance) are skipped.
	DeleteSigningKeys(ctx context.Context, ids []string) (int, error)

	// GetOrCreateSecret returns the sealed secret stored under name. When
	// there is none it stores candidate, created at now, and returns it.
	// Concurrent callers (even in other processes) all get the same value.
	GetOrCreateSecret(ctx context.Context, name string, now time.Time, candidate []byte) ([]byte, error)

	// RevokedSince lists grants, sessions and denylisted access tokens
	// revoked at or after since that have not expired at now, oldest
	// revocation first, at most limit of them. Caches poll it to learn of
	// revocations within a bounded time without a store round trip per
	// request.
	RevokedSince(ctx context.Context, since, now time.Time, limit int) ([]Revocation, error)

	// GarbageCollect deletes up to limit records of each kind that expired
	// before now: codes, sessions, grants with their refresh tokens,
	// expired (or rotated and expired) refresh tokens of live grants,
	// denylisted access tokens, invitation and reset tokens, device
	// authorizations and pushed requests. It returns the number of rows deleted,
	// refresh tokens included.
	GarbageCollect(ctx context.Context, now time.Time, limit int) (int, error)

	// Close releases the backend's resources.
	Close() error

	ClientStore
	UserStore
	DeviceStore
	FactorStore
}

// ---- Clients created at run time (admin API, dynamic registration) ----

// ErrConflict means an optimistic update lost: the record changed since it
// was read. Read it again and reapply the change.
var ErrConflict = errors.New("store: record changed since it was read")

// Client is a Connected App created at run time, through the admin API or
// dynamic client registration (RFC 7591). Clients from the configuration
// are never stored. Secrets and the registration access token are kept
// only as hashes.
type Client struct {
	ID          string
	Name        string
	Description string
	Type        string // first_party, first_party_public, third_party, third_party_public
	// SecretHashes are the accepted secrets' hashes ("sha256:<hex>"), the
	// current secret first; empty for public clients.
	SecretHashes []string
	// PendingSecretHash is the new secret of a rotation in progress, accepted
	// alongside SecretHashes until the rotation is completed or cancelled.
	PendingSecretHash      string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string   // OIDC Back-Channel Logout §2.2
	Scopes                 []string // allowed scopes; empty means all
	LogoURI                string
	ClientURI              string
	PolicyURI              string
	TOSURI                 string
	GrantTypes             []string // empty means authorization_code and refresh_token
	// TokenEndpointAuthMethod as registered (RFC 7591 §2): none,
	// client_secret_basic, client_secret_post or private_key_jwt.
	TokenEndpointAuthMethod string
	// JWKS (a JSON Web Key Set, as JSON) or JWKSURI hold the public keys
	// of a private_key_jwt client (RFC 7591 §2); at most one is set.
	JWKS    string
	JWKSURI string
	// DPoPBoundAccessTokens: the client's access tokens are always
	// DPoP-bound (RFC 9449 §5.2).
	DPoPBoundAccessTokens         bool
	IDTokenSigningAlg             string
	AccessTokenLifetime           time.Duration // zero: the server's default; kept to the millisecond
	RefreshTokenLifetime          time.Duration // zero: the server's default; kept to the millisecond
	BypassConsentForOfflineAccess bool
	// RequirePushedAuthorizationRequests is RFC 9126 §6's metadata.
	RequirePushedAuthorizationRequests bool
	Contacts                           []string // RFC 7591 §2 contacts
	SoftwareID                         string
	SoftwareVersion                    string
	// Dynamic marks a client created by dynamic client registration; it is
	// managed (RFC 7592) with the registration access token whose hex
	// SHA-256 is RegistrationAccessTokenHash.
	Dynamic                     bool
	RegistrationAccessTokenHash string
	CreatedAt                   time.Time
	UpdatedAt                   time.Time
	// Revision counts updates. CreateClient stores 1 whatever is given;
	// UpdateClient applies only if it still matches, and increments it.
	Revision int64
}

// ClientStore keeps the clients created at run time.
type ClientStore interface {
	// CreateClient stores a new client with Revision 1. ErrAlreadyExists
	// on a duplicate id.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns the client with that id. ErrNotFound if none.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns at most limit clients whose id sorts after
	// after, in id order: keyset pagination that stays stable while
	// clients are added or removed. The order is the database's for the
	// id column (byte order in SQLite), the same on every call. limit
	// must be positive.
	ListClients(ctx context.Context, after string, limit int) ([]Client, error)
	// UpdateClient replaces every field of the stored client c.ID except
	// CreatedAt, provided its Revision still equals c.Revision; the stored
	// Revision becomes c.Revision+1. ErrNotFound if there is no such
	// client, ErrConflict if it changed since it was read.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient deletes the client together with its consents and
	// authorization codes, and revokes its grants at now, all at once, so
	// none of its tokens works afterwards. ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string, now time.Time) error
}

// Pinger is a Store that can check that its database answers, for health
// checks. A Store without it is probed with a read.
type Pinger interface {
	Ping(ctx context.Context) error
}
