package authserver

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// grantRefreshToken exchanges a refresh token for new tokens (RFC 6749
// §6). Public clients get a new refresh token on every use and a reused
// one revokes the whole family (RFC 9700 §4.14.2); confidential clients
// keep theirs, with a sliding expiry.
func (s *Server) grantRefreshToken(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	raw := req.form.Get("refresh_token")
	if raw == "" {
		return nil, oautherr.InvalidRequest("the refresh_token parameter is missing")
	}
	hash := hashToken(raw)
	rt, grant, err := s.cfg.Store.GetRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oautherr.InvalidGrant("the refresh token is invalid")
	} else if err != nil {
		return nil, err
	}
	// Checks that leave state untouched come first: a token presented by
	// the wrong client is refused without rotating or revoking anything.
	if grant.ClientID != req.client.ID {
		return nil, oautherr.InvalidGrant("the refresh token was issued to another client")
	}
	if !grant.RevokedAt.IsZero() {
		return nil, oautherr.InvalidGrant("the refresh token has been revoked")
	}
	if !rt.RotatedAt.IsZero() {
		s.emit(ctx, Event{Type: EventRefreshReuse, ClientID: req.client.ID, GrantID: grant.ID, Subject: grant.Subject})
		s.log.WarnContext(ctx, "rotated refresh token reused; its family is revoked", "client_id", req.client.ID, "grant_id", grant.ID)
		if err := s.cfg.Store.RevokeGrant(ctx, grant.ID, req.now); err != nil {
			return nil, err
		}
		return nil, oautherr.InvalidGrant("the refresh token has already been used")
	}
	if !req.now.Before(rt.ExpiresAt) || !req.now.Before(grant.ExpiresAt) {
		return nil, oautherr.InvalidGrant("the refresh token has expired")
	}
	// RFC 9449 §5: a public client's refresh token bound to a DPoP key is
	// used only with a proof of that key.
	if grant.DPoPJKT != "" && req.jkt != grant.DPoPJKT {
		return nil, oautherr.InvalidGrant("the refresh token is bound to a DPoP key this request does not prove")
	}
	scopes := grant.Scopes
	if req.form.Has("scope") {
		// RFC 6749 §6: a narrower scope may be requested, never a wider one.
		requested, ok := clients.ParseScope(req.form.Get("scope"))
		if !ok || len(requested) == 0 {
			return nil, oautherr.InvalidScope("the scope parameter is malformed")
		}
		if !containsAll(grant.Scopes, requested) {
			return nil, oautherr.InvalidScope("the requested scope exceeds what was granted")
		}
		scopes = requested
	}
	audience, oerr := narrowResources(grant.Resources, req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}
	user, oerr := s.grantUser(ctx, grant.Subject)
	if oerr != nil {
		return nil, oerr
	}

	var newRaw string
	if req.client.Type.Public() {
		var newHash string
		newRaw, newHash = randomToken(refreshTokenPrefix)
		next := store.RefreshToken{Hash: newHash, GrantID: grant.ID, CreatedAt: req.now, ExpiresAt: s.refreshExpiry(req.client, req.now, grant)}
		grant, err = s.cfg.Store.RotateRefreshToken(ctx, hash, req.now, next)
	} else {
		grant, err = s.cfg.Store.ExtendRefreshToken(ctx, hash, req.now, s.refreshExpiry(req.client, req.now, grant))
	}
	switch {
	case errors.Is(err, store.ErrRefreshTokenReused):
		s.emit(ctx, Event{Type: EventRefreshReuse, ClientID: req.client.ID})
		s.log.WarnContext(ctx, "refresh token used twice at once; its family is revoked", "client_id", req.client.ID)
		return nil, oautherr.InvalidGrant("the refresh token has already been used")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRevoked):
		return nil, oautherr.InvalidGrant("the refresh token is no longer valid")
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "refresh token used", "client_id", req.client.ID, "sub", grant.Subject, "grant_id", grant.ID, "rotated", newRaw != "")
	return s.issueTokens(ctx, issueParams{
		client: req.client, user: user, grant: grant, scopes: scopes, audience: audience,
		refreshToken: newRaw, jkt: req.jkt, now: req.now,
	})
}

// refreshExpiry is the sliding expiry of a refresh token used now, never
// past its grant's absolute end.
func (s *Server) refreshExpiry(c *clients.Client, now time.Time, g store.Grant) time.Time {
	idle := s.cfg.Lifetimes.RefreshTokenIdle
	if c.RefreshTokenLifetime > 0 {
		idle = c.RefreshTokenLifetime
	}
	exp := now.Add(idle)
	if exp.After(g.ExpiresAt) {
		exp = g.ExpiresAt
	}
	return exp
}
