package gate

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// errNoBearer marks an Authorization header that is not a Bearer token.
var errNoBearer = errors.New("the Authorization header is not a Bearer token")

// bearer verifies an RFC 6750 Bearer access token for resource. A token
// verified once is served from the cache until it expires; revocations
// are checked on every use.
func (g *Gate) bearer(ctx context.Context, header, resource string) (*Identity, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errNoBearer
	}
	now := g.now()
	key := keyOf(resource, raw)
	if e, ok := g.tokens.get(key, now); ok {
		if e.id == nil {
			return nil, errInactive // a recent negative introspection answer
		}
		if g.revoked(e.id) {
			g.tokens.remove(key)
			return nil, token.ErrInvalidSignature // reported as invalid_token
		}
		return e.id, nil
	}
	if g.cfg.Introspect {
		id, expires, err := g.introspect(ctx, g.cfg.Provider.(Introspector), raw, resource)
		if errors.Is(err, errInactive) {
			// Remember refusals briefly too, so a flood of made-up
			// tokens is not relayed to the provider one by one.
			g.tokens.put(key, cacheEntry{expires: now.Add(negativeIntrospectionTTL)}, now)
		}
		if err != nil {
			return nil, err
		}
		if err := g.addProfile(ctx, id, raw, now, &expires); err != nil {
			return nil, err
		}
		g.tokens.put(key, cacheEntry{id: g.prepare(id), expires: expires}, now)
		return id, nil
	}
	issuer, err := g.cfg.Provider.Issuer(ctx)
	if err != nil {
		return nil, err
	}
	v := token.Verifier{
		Keys:   g.cfg.Provider.Keys(),
		Issuer: issuer,
		// aud is checked below, by URI equivalence.
		// Asymmetric algorithms only; token.Verifier refuses none and
		// HMAC whatever is listed here.
		Algorithms: []string{"ES256", "RS256", "PS256", "EdDSA"},
		Type:       "at+jwt",
		Now:        g.now,
	}
	var c token.AccessTokenClaims
	if err := v.Verify(ctx, raw, &c); err != nil {
		return nil, err
	}
	if !audienceIncludes(c.Audience, resource) {
		return nil, token.ErrInvalidAudience
	}
	id := &Identity{
		Subject:  c.Subject,
		Scopes:   c.Scopes(),
		ClientID: c.ClientID,
		Issuer:   c.Issuer,
		Source:   bearerSource(c.IsClientToken()),
		IDP:      c.IDP,
		ACR:      c.ACR,
		AMR:      c.AMR,
		AuthTime: int64(c.AuthTime),
		grantID:  c.GrantID,
		tokenID:  c.JWTID,
	}
	if c.Confirmation != nil {
		id.jkt = c.Confirmation.JKT
	}
	if g.revoked(id) {
		return nil, token.ErrInvalidSignature
	}
	expires := c.Expiry.Time()
	if err := g.addProfile(ctx, id, raw, now, &expires); err != nil {
		return nil, err
	}
	g.tokens.put(key, cacheEntry{id: g.prepare(id), expires: expires}, now)
	return id, nil
}

// revoked reports whether the grant or issuer session behind id, or the
// access token itself (RFC 7009 revocation), has been revoked at the
// issuer (same-Caddy issuer only).
func (g *Gate) revoked(id *Identity) bool {
	w := g.cfg.Revocations
	if w == nil {
		return false
	}
	return w.Revoked(store.RevokedGrant, id.grantID) || w.Revoked(store.RevokedSession, id.sessionID) ||
		w.Revoked(store.RevokedToken, id.tokenID)
}
