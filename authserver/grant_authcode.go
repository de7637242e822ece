package authserver

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// grantAuthorizationCode exchanges a code for tokens (RFC 6749 §4.1.3).
// Every check that can fail runs before the code is consumed, so a bad
// request never burns a good code; the consumption itself is atomic in
// the store.
func (s *Server) grantAuthorizationCode(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	raw := req.form.Get("code")
	if raw == "" {
		return nil, oautherr.InvalidRequest("the code parameter is missing")
	}
	hash := hashToken(raw)
	code, err := s.cfg.Store.GetAuthCode(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oautherr.InvalidGrant("the authorization code is invalid")
	} else if err != nil {
		return nil, err
	}
	if !code.RedeemedAt.IsZero() {
		// RFC 6749 §4.1.2: a code used twice must be refused, and what it
		// issued revoked, since one of the two users may be an attacker.
		s.revokeReplayedCode(ctx, req, code.GrantID)
		return nil, oautherr.InvalidGrant("the authorization code has already been used")
	}
	if !req.now.Before(code.ExpiresAt) {
		return nil, oautherr.InvalidGrant("the authorization code has expired")
	}
	if code.ClientID != req.client.ID {
		return nil, oautherr.InvalidGrant("the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: redirect_uri must be repeated, identically, when
	// the authorization request had it.
	ru := req.form.Get("redirect_uri")
	switch {
	case code.RedirectURI != "" && ru != code.RedirectURI:
		return nil, oautherr.InvalidGrant("redirect_uri does not match the authorization request")
	case code.RedirectURI == "" && ru != "" && !req.client.MatchRedirectURI(ru):
		return nil, oautherr.InvalidGrant("redirect_uri is not registered for this client")
	}
	if err := checkPKCE(code.CodeChallenge, req.form.Get("code_verifier")); err != nil {
		return nil, err
	}
	user, oerr := s.grantUser(ctx, code.Subject)
	if oerr != nil {
		return nil, oerr
	}
	audience, oerr := narrowResources(code.Resources, req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}

	grant := store.Grant{
		ID:            code.GrantID,
		ClientID:      code.ClientID,
		Subject:       code.Subject,
		SessionIDHash: code.SessionIDHash,
		Scopes:        code.Scopes,
		Resources:     code.Resources,
		AuthTime:      code.AuthTime,
		CreatedAt:     req.now,
		ExpiresAt:     req.now.Add(s.accessTokenLifetime(req.client)),
	}
	var rt *store.RefreshToken
	var rawRefresh string
	// Refresh tokens only with offline_access (OIDC Core §11).
	if slices.Contains(code.Scopes, "offline_access") && req.client.AllowsGrant("refresh_token") {
		grant.ExpiresAt = req.now.Add(s.cfg.Lifetimes.RefreshTokenMax)
		var rtHash string
		rawRefresh, rtHash = randomToken(refreshTokenPrefix)
		rt = &store.RefreshToken{Hash: rtHash, GrantID: grant.ID, CreatedAt: req.now, ExpiresAt: s.refreshExpiry(req, grant)}
	}
	switch err := s.cfg.Store.RedeemAuthCode(ctx, hash, req.now, grant, rt); {
	case errors.Is(err, store.ErrCodeReused):
		s.log.WarnContext(ctx, "authorization code replayed; its grant is revoked", "client_id", req.client.ID, "grant_id", code.GrantID)
		return nil, oautherr.InvalidGrant("the authorization code has already been used")
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.InvalidGrant("the authorization code has expired")
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "authorization code redeemed", "client_id", req.client.ID, "sub", code.Subject, "grant_id", grant.ID)
	s.touchConsent(ctx, req.client, code.Subject, req.now)
	return s.issueTokens(ctx, issueParams{
		client: req.client, user: user, grant: grant, scopes: code.Scopes, audience: audience,
		nonce: code.Nonce, refreshToken: rawRefresh, now: req.now,
	})
}

func (s *Server) revokeReplayedCode(ctx context.Context, req *tokenRequest, grantID string) {
	s.log.WarnContext(ctx, "authorization code replayed; its grant is revoked", "client_id", req.client.ID, "grant_id", grantID)
	if err := s.cfg.Store.RevokeGrant(ctx, grantID, req.now); err != nil {
		s.log.ErrorContext(ctx, "revoking the grant of a replayed code failed", "grant_id", grantID, "error", err)
	}
}

// checkPKCE verifies code_verifier against the code's challenge (RFC 7636
// §4.6). A verifier sent for a code issued without a challenge is refused
// too, which defeats PKCE downgrade (RFC 9700 §4.8.2).
func checkPKCE(challenge, verifier string) *oautherr.Error {
	switch {
	case challenge == "" && verifier == "":
		return nil
	case challenge == "":
		return oautherr.InvalidGrant("code_verifier sent but the authorization request had no code_challenge")
	case verifier == "":
		return oautherr.InvalidGrant("code_verifier is required")
	case !isPKCEValue(verifier, 43, 128):
		return oautherr.InvalidGrant("code_verifier is malformed")
	case !verifyS256(verifier, challenge):
		return oautherr.InvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// narrowResources applies the token request's resource parameters (RFC
// 8707 §2.2): each must be one the grant covers; none means all of them.
func narrowResources(granted, requested []string) ([]string, *oautherr.Error) {
	if len(requested) == 0 {
		return granted, nil
	}
	for _, r := range requested {
		if !slices.Contains(granted, r) {
			return nil, oautherr.InvalidTarget("resource %q was not part of the authorization", truncate(r, 128))
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(requested))), nil
}
