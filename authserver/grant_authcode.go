package authserver

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/resource"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// grantAuthorizationCode exchanges a code for tokens (RFC 6749 §4.1.3).
func (s *Server) grantAuthorizationCode(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	rc, err := s.redeemCode(ctx, codeRedemption{
		client:      req.client,
		code:        req.form.Get("code"),
		redirectURI: req.form.Get("redirect_uri"),
		verifier:    req.form.Get("code_verifier"),
		resources:   req.form["resource"],
		refresh:     true,
		jkt:         req.jkt,
		now:         req.now,
	})
	if err != nil {
		return nil, err
	}
	return s.issueTokens(ctx, issueParams{
		client: req.client, user: rc.user, grant: rc.grant, scopes: rc.code.Scopes, audience: rc.audience,
		nonce: rc.code.Nonce, refreshToken: rc.refreshToken, jkt: req.jkt, now: req.now,
	})
}

// codeRedemption is one authorization_code grant request, from the token
// endpoint or from a gate in this process (RedeemGateCode). The client
// is already authenticated and allowed the grant type.
type codeRedemption struct {
	client      *clients.Client
	code        string
	redirectURI string
	verifier    string   // PKCE code_verifier (RFC 7636 §4.5)
	resources   []string // RFC 8707 §2.2 resource parameters
	// refresh lets the redemption issue a refresh token (still only with
	// offline_access and a client allowed the refresh_token grant).
	refresh bool
	// check, if set, is one more check of the stored code; like every
	// other it runs before the code is consumed.
	check func(store.AuthCode) *oautherr.Error
	// jkt is the DPoP key of the request; a public client's refresh
	// tokens are bound to it (RFC 9449 §5).
	jkt string
	now time.Time
}

// redeemedCode is what redeeming a code created.
type redeemedCode struct {
	code         store.AuthCode
	user         *identity.User
	grant        store.Grant
	audience     []string
	refreshToken string // raw; empty when none was issued
}

// redeemCode checks a code and consumes it, creating its grant (RFC 6749
// §4.1.3). Every check that can fail runs before the code is consumed, so
// a bad request never burns a good code; the consumption itself is atomic
// in the store, which alone decides a race between two redemptions.
func (s *Server) redeemCode(ctx context.Context, r codeRedemption) (*redeemedCode, error) {
	if r.code == "" {
		return nil, oautherr.InvalidRequest("the code parameter is missing")
	}
	hash := hashToken(r.code)
	code, err := s.cfg.Store.GetAuthCode(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oautherr.InvalidGrant("the authorization code is invalid")
	} else if err != nil {
		return nil, err
	}
	if !code.RedeemedAt.IsZero() {
		// RFC 6749 §4.1.2: a code used twice must be refused, and what it
		// issued revoked, since one of the two users may be an attacker.
		s.revokeReplayedCode(ctx, r.client.ID, code.GrantID, r.now)
		return nil, oautherr.InvalidGrant("the authorization code has already been used")
	}
	if !r.now.Before(code.ExpiresAt) {
		return nil, oautherr.InvalidGrant("the authorization code has expired")
	}
	if code.ClientID != r.client.ID {
		return nil, oautherr.InvalidGrant("the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: redirect_uri must be repeated, identically, when
	// the authorization request had it.
	switch ru := r.redirectURI; {
	case code.RedirectURI != "" && ru != code.RedirectURI:
		return nil, oautherr.InvalidGrant("redirect_uri does not match the authorization request")
	case code.RedirectURI == "" && ru != "" && !r.client.MatchRedirectURI(ru):
		return nil, oautherr.InvalidGrant("redirect_uri is not registered for this client")
	}
	if err := checkPKCE(code.CodeChallenge, r.verifier); err != nil {
		return nil, err
	}
	if r.check != nil {
		if err := r.check(code); err != nil {
			return nil, err
		}
	}
	user, oerr := s.grantUser(ctx, code.Subject)
	if oerr != nil {
		return nil, oerr
	}
	audience, oerr := narrowResources(code.Resources, r.resources)
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
		AMR:           code.AMR,
		CreatedAt:     r.now,
		ExpiresAt:     r.now.Add(s.accessTokenLifetime(r.client)),
	}
	if r.client.Type.Public() {
		grant.DPoPJKT = r.jkt
	}
	var rt *store.RefreshToken
	var rawRefresh string
	// Refresh tokens only with offline_access (OIDC Core §11).
	if r.refresh && slices.Contains(code.Scopes, "offline_access") && r.client.AllowsGrant("refresh_token") {
		grant.ExpiresAt = r.now.Add(s.cfg.Lifetimes.RefreshTokenMax)
		var rtHash string
		rawRefresh, rtHash = randomToken(refreshTokenPrefix)
		rt = &store.RefreshToken{Hash: rtHash, GrantID: grant.ID, CreatedAt: r.now, ExpiresAt: s.refreshExpiry(r.client, r.now, grant)}
	}
	switch err := s.cfg.Store.RedeemAuthCode(ctx, hash, r.now, grant, rt); {
	case errors.Is(err, store.ErrCodeReused):
		s.emit(ctx, Event{Type: EventCodeReplay, ClientID: r.client.ID, GrantID: code.GrantID, Subject: code.Subject})
		s.log.WarnContext(ctx, "authorization code replayed; its grant is revoked", "client_id", r.client.ID, "grant_id", code.GrantID)
		return nil, oautherr.InvalidGrant("the authorization code has already been used")
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.InvalidGrant("the authorization code has expired")
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "authorization code redeemed", "client_id", r.client.ID, "sub", code.Subject, "grant_id", grant.ID)
	return &redeemedCode{code: code, user: user, grant: grant, audience: audience, refreshToken: rawRefresh}, nil
}

func (s *Server) revokeReplayedCode(ctx context.Context, clientID, grantID string, now time.Time) {
	s.emit(ctx, Event{Type: EventCodeReplay, ClientID: clientID, GrantID: grantID})
	s.log.WarnContext(ctx, "authorization code replayed; its grant is revoked", "client_id", clientID, "grant_id", grantID)
	if err := s.cfg.Store.RevokeGrant(ctx, grantID, now); err != nil {
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
// 8707 §2.2): each must be one the grant covers, by URI equivalence; none
// means all of them. The audience can narrow, never widen.
func narrowResources(granted, requested []string) ([]string, *oautherr.Error) {
	if len(requested) == 0 {
		return granted, nil
	}
	for _, r := range requested {
		if !resource.Contains(granted, r) {
			return nil, oautherr.InvalidTarget("resource %q was not part of the authorization", truncate(r, 128))
		}
	}
	return normalizeResources(requested)
}
