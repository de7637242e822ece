package gate

import (
	"context"
	"slices"
)

// offlineAccessProvider is a Provider that says whether it issues refresh
// tokens to clients that ask for offline_access (OIDC Core §11).
type offlineAccessProvider interface {
	OfflineAccess(ctx context.Context) bool
}

// offlineAccess reports whether the gate's metadata should list
// offline_access among its scopes. MCP clients ask for exactly the
// scopes a protected resource advertises (RFC 9728 scopes_supported), so
// without it they never get a refresh token and sign in again each time
// an access token expires.
func (g *Gate) offlineAccess(ctx context.Context) bool {
	p, ok := g.cfg.Provider.(offlineAccessProvider)
	return ok && p.OfflineAccess(ctx)
}

// OfflineAccess implements offlineAccessProvider: this server issues
// refresh tokens for offline_access (rotated for public clients, RFC 9700
// §4.14.2), after the user's consent for third-party apps.
func (p *LocalProvider) OfflineAccess(context.Context) bool { return true }

// OfflineAccess implements offlineAccessProvider, from the provider's
// discovery document (scopes_supported).
func (p *OIDCProvider) OfflineAccess(ctx context.Context) bool {
	d, err := p.discover(ctx)
	return err == nil && slices.Contains(d.meta.ScopesSupported, "offline_access")
}
