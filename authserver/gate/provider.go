package gate

import (
	"context"
	"net/url"
	"strings"

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

// authorizeURL appends the authorization request parameters (RFC 6749
// §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1) to endpoint.
func authorizeURL(endpoint, clientID string, p AuthRequest) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", clientID)
	q.Set("redirect_uri", p.RedirectURI)
	q.Set("scope", strings.Join(p.Scopes, " "))
	q.Set("state", p.State)
	q.Set("nonce", p.Nonce)
	q.Set("code_challenge", s256(p.Verifier))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
