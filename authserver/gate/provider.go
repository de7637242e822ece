package gate

import (
	"context"
	"net/url"
	"strconv"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// Provider is the OpenID Connect provider a gate relies on.
type Provider interface {
	// Issuer is the provider's issuer identifier.
	Issuer(ctx context.Context) (string, error)
	// SendsIssuer reports whether the provider's authorization responses
	// carry iss (RFC 9207 authorization_response_iss_parameter_supported);
	// the gate then refuses responses without it (§2.4).
	SendsIssuer(ctx context.Context) bool
	// Keys verifies the provider's access tokens.
	Keys() token.KeySource
	// AuthCodeURL returns the authorization request for a login.
	AuthCodeURL(ctx context.Context, p AuthRequest) (string, error)
	// Exchange redeems an authorization code, verifies the ID token
	// (signature, issuer, audience, expiry, nonce) and returns the login.
	Exchange(ctx context.Context, p AuthRequest, code string) (*Login, error)
	// EndSession ends what a login started at the provider, where the
	// provider allows it (the same-Caddy issuer does).
	EndSession(ctx context.Context, l Login) error
}

// AuthRequest is one login's authorization request parameters.
type AuthRequest struct {
	RedirectURI string
	State       string
	Nonce       string
	Verifier    string // PKCE code_verifier; the challenge is its S256
	Scopes      []string
	// ACRValues, when set, asks the provider for that authentication
	// class (OIDC Core §3.1.2.1 acr_values): a step-up.
	ACRValues string
	// MaxAge, when positive, asks for a sign-in at most that many seconds
	// old (OIDC Core §3.1.2.1 max_age).
	MaxAge int64
}

// Login is the outcome of a completed login.
type Login struct {
	Identity Identity
	AuthTime int64
	// GrantID and SessionID identify, at a same-Caddy issuer, what the
	// login created, so revoking either ends the gate session.
	GrantID   string
	SessionID string
}

// authorizeURL is the authorization request (RFC 6749 §4.1.1, OIDC Core
// §3.1.2.1) at endpoint, with the nonce and the S256 PKCE challenge of
// the login's verifier (RFC 7636 §4.3).
func authorizeURL(endpoint, clientID string, p AuthRequest) (string, error) {
	if _, err := url.Parse(endpoint); err != nil {
		return "", err
	}
	c := oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{AuthURL: endpoint}, RedirectURL: p.RedirectURI, Scopes: p.Scopes}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)}
	if p.ACRValues != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", p.ACRValues))
	}
	if p.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(p.MaxAge, 10)))
	}
	return c.AuthCodeURL(p.State, opts...), nil
}
