package authserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// accessTokenRevocationSlack keeps a denylist entry a little past the
// token's exp, to cover the clock leeway verifiers allow
// (token.DefaultLeeway here, and the gate's own).
const accessTokenRevocationSlack = time.Minute

// handleRevoke is the revocation endpoint (RFC 7009 §2).
//
// Clients authenticate as at the token endpoint (§2.1); public clients
// send their client_id. A refresh token revokes its whole grant (the token
// family) and with it every access token issued under the grant, which
// userinfo, introspection and the gate check. An access token is
// denylisted by its jti until it expires, so the other tokens of its grant
// live on (§2.1 makes revoking the refresh token too optional).
//
// The answer is 200 whenever the request is well formed and the client
// authenticated (§2.2): for unknown, invalid or expired tokens, and for
// tokens issued to another client, which are left alone because only
// their owner may revoke them (§2.1). token_type_hint is only a hint: the
// token's format decides, so no hint is rejected and unsupported_token_type
// (§2.2.1) is never sent.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.clientEndpointError(w, r, "revocation", nil, formError(err))
		return
	}
	client, oerr := s.authenticateClient(w, r, form)
	if oerr != nil {
		s.clientEndpointError(w, r, "revocation", nil, oerr)
		return
	}
	raw := form.Get("token")
	if raw == "" {
		s.clientEndpointError(w, r, "revocation", client, oautherr.InvalidRequest("the token parameter is missing"))
		return
	}
	if err := s.revoke(r.Context(), client, raw); err != nil {
		// §2.2.1: with a 503 the client must assume the token still
		// exists, and may retry.
		oe := oautherr.ServerError("the token could not be revoked; try again").WithCause(err)
		oe.Status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		s.clientEndpointError(w, r, "revocation", client, oe)
		return
	}
	oautherr.NoStore(w.Header())
	w.WriteHeader(http.StatusOK)
}

// revoke revokes raw if it is a live token of client. An error means the
// store failed and the token may still be valid.
func (s *Server) revoke(ctx context.Context, client *clients.Client, raw string) error {
	now := s.now()
	if strings.HasPrefix(raw, refreshTokenPrefix) {
		_, g, err := s.cfg.Store.GetRefreshToken(ctx, hashToken(raw))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case g.ClientID != client.ID:
			s.log.WarnContext(ctx, "revocation of another client's refresh token ignored", "client_id", client.ID)
			return nil
		}
		if err := s.cfg.Store.RevokeGrant(ctx, g.ID, now); err != nil {
			return err
		}
		s.emit(ctx, Event{Type: EventTokenRevoked, Result: "refresh_token", ClientID: client.ID, Subject: g.Subject, GrantID: g.ID})
		s.log.InfoContext(ctx, "refresh token revoked with its grant", "client_id", client.ID, "sub", g.Subject, "grant_id", g.ID)
		return nil
	}
	var claims token.AccessTokenClaims
	if err := s.verifier.Verify(ctx, raw, &claims); err != nil {
		if isInvalidToken(err) {
			return nil // not ours, or already unusable
		}
		return err
	}
	if claims.ClientID != client.ID {
		s.log.WarnContext(ctx, "revocation of another client's access token ignored", "client_id", client.ID)
		return nil
	}
	if claims.JWTID == "" {
		return nil // never issued by this server; nothing could match it
	}
	if err := s.cfg.Store.DenylistToken(ctx, claims.JWTID, now, claims.Expiry.Time().Add(accessTokenRevocationSlack)); err != nil {
		return err
	}
	s.emit(ctx, Event{Type: EventTokenRevoked, Result: "access_token", ClientID: client.ID, Subject: claims.Subject})
	s.log.InfoContext(ctx, "access token revoked", "client_id", client.ID, "sub", claims.Subject, "jti", claims.JWTID)
	return nil
}
