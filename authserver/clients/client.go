package clients

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/factor"
)

// Type is one of the four Connected App types.
type Type string

const (
	// FirstParty: confidential, trusted, consent skipped.
	FirstParty Type = "first_party"
	// FirstPartyPublic: no secret, PKCE S256 required, consent skipped.
	FirstPartyPublic Type = "first_party_public"
	// ThirdParty: confidential, consent required.
	ThirdParty Type = "third_party"
	// ThirdPartyPublic: no secret, PKCE S256 required, consent required.
	ThirdPartyPublic Type = "third_party_public"
)

// Valid reports whether t is one of the four types.
func (t Type) Valid() bool {
	switch t {
	case FirstParty, FirstPartyPublic, ThirdParty, ThirdPartyPublic:
		return true
	}
	return false
}

// Public reports whether clients of this type hold no secret (RFC 6749
// §2.1) and therefore must use PKCE with S256.
func (t Type) Public() bool { return t == FirstPartyPublic || t == ThirdPartyPublic }

// Trusted reports whether the type is first-party, which skips consent.
func (t Type) Trusted() bool { return t == FirstParty || t == FirstPartyPublic }

// Client is a registered Connected App: its metadata, and what the server
// alone knows about it.
type Client struct {
	ID string
	Metadata
	// SecretHashes are argon2id PHC strings or "sha256:<hex>" digests of
	// the client's secrets; several are accepted during rotation.
	SecretHashes []string
	// Dynamic clients registered themselves (RFC 7591): nobody vetted
	// their redirect URIs, so errors are redirected to them only after
	// the user has seen the consent page (RFC 9700 §4.18).
	Dynamic bool
	// MFA is this client's second-factor policy, replacing the server's
	// (authserver.Config.MFA) unless that is off; "" keeps the server's.
	// Set for configured clients only.
	MFA factor.Policy

	secrets []*secret
}

// Source finds clients by id.
type Source interface {
	// Client returns the client with that id, or ErrUnknown.
	Client(ctx context.Context, id string) (*Client, error)
}

// ErrUnknown is returned by a Source for an unknown id.
var ErrUnknown = errors.New("unknown client")

// Static is a fixed set of clients, e.g. from the Caddyfile.
type Static map[string]*Client

// NewStatic prepares clients and indexes them by id.
func NewStatic(clients []*Client, supportedScopes []string) (Static, error) {
	m := Static{}
	for i, c := range clients {
		if err := c.Prepare(supportedScopes); err != nil {
			return nil, err
		}
		if _, dup := m[c.ID]; dup {
			return nil, fmt.Errorf("client %d: duplicate client id %q", i, c.ID)
		}
		m[c.ID] = c
	}
	return m, nil
}

// Client implements Source.
func (s Static) Client(_ context.Context, id string) (*Client, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, ErrUnknown
}

// Prepare makes c ready to serve: it fills in defaults, checks every field
// with the rules all clients follow (those created at run time passed the
// stricter Metadata.Validate too), naming the first bad one as the
// configuration does, and parses the secret hashes.
func (c *Client) Prepare(supportedScopes []string) error {
	if c.ID == "" {
		return errors.New("client: id is required")
	}
	errf := func(field, format string, args ...any) error {
		return fmt.Errorf("client %q: %s: %s", c.ID, field, fmt.Sprintf(format, args...))
	}
	if len(c.ID) > 255 || strings.ContainsAny(c.ID, " \t\r\n:") {
		return errf("id", "must be at most 255 characters without spaces or colons")
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	c.normalize()
	if err := c.validate(supportedScopes, false); err != nil {
		return fmt.Errorf("client %q: %w", c.ID, ConfigJSON.Label(err, nil))
	}
	if c.Type.Public() && len(c.SecretHashes) > 0 {
		return errf("secret_hash", "public client type %s must not have a secret", c.Type)
	}
	keyAuth := c.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT
	if !c.Type.Public() && !keyAuth && len(c.SecretHashes) == 0 {
		return errf("secret_hash", "confidential client type %s requires a secret hash", c.Type)
	}
	if keyAuth && len(c.SecretHashes) > 0 {
		return errf("secret_hash", "a private_key_jwt client authenticates with its keys and has no secret")
	}
	c.secrets = c.secrets[:0]
	for _, h := range c.SecretHashes {
		s, err := parseSecret(h)
		if err != nil {
			return errf("secret_hash", "%v", err)
		}
		c.secrets = append(c.secrets, s)
	}
	return nil
}

// AllowsScope reports whether the client may request scope.
func (c *Client) AllowsScope(scope string, supported []string) bool {
	if len(c.Scopes) == 0 {
		return slices.Contains(supported, scope)
	}
	return slices.Contains(c.Scopes, scope)
}

// UsesKeys reports whether the client authenticates with a signed
// assertion (private_key_jwt) instead of a secret.
func (c *Client) UsesKeys() bool { return c.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT }

// AllowsGrant reports whether the client may use grant type gt.
func (c *Client) AllowsGrant(gt string) bool {
	if len(c.GrantTypes) == 0 {
		return gt == "authorization_code" || gt == "refresh_token"
	}
	return slices.Contains(c.GrantTypes, gt)
}

// Interface guards
var _ Source = Static(nil)
