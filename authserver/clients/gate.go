package clients

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// GateID is the client id under which the gates of this process (package
// gate) sign users in at this server.
const GateID = "gatehouse-gate"

// Gate is a Source that adds the gates' own first-party client to another
// source. A gate sits in front of sites this Caddy serves, so it is
// trusted (no consent) and public (it redeems codes in process with PKCE,
// no secret). Its redirect URIs are registered at run time, one per origin
// of each gated site, when the gate is provisioned.
type Gate struct {
	next Source

	mu     sync.Mutex // serialises Register
	client atomic.Pointer[Client]
}

// NewGate wraps next.
func NewGate(next Source) *Gate {
	g := &Gate{next: next}
	g.client.Store(&Client{
		ID: GateID,
		Metadata: Metadata{
			Name:                    "Gatehouse",
			Type:                    FirstPartyPublic,
			TokenEndpointAuthMethod: authMethodNone,
			Scopes:                  []string{"openid", "profile", "email", "groups"},
		},
	})
	return g
}

// Client implements Source.
func (g *Gate) Client(ctx context.Context, id string) (*Client, error) {
	if id == GateID {
		c := g.client.Load()
		if len(c.RedirectURIs) == 0 {
			return nil, ErrUnknown
		}
		return c, nil
	}
	return g.next.Client(ctx, id)
}

// Register adds redirect URIs to the gate client. Gates call it while
// they are provisioned, with the callback URL of each origin their
// configuration names; requests never add one. Readers see either the old
// or the new client, never a half-updated one.
func (g *Gate) Register(redirectURIs ...string) error {
	for _, u := range redirectURIs {
		if err := ValidateRedirectURI(u, true); err != nil {
			return fmt.Errorf("gate redirect URI: %w", err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.client.Load()
	c := *old
	c.RedirectURIs = slices.Clone(old.RedirectURIs)
	for _, u := range redirectURIs {
		if !slices.Contains(c.RedirectURIs, u) {
			c.RedirectURIs = append(c.RedirectURIs, u)
		}
	}
	g.client.Store(&c)
	return nil
}

// Interface guards
var _ Source = (*Gate)(nil)
