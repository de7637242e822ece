package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// GateCodeRequest is a gate's redemption of the authorization code its
// login got back: the authorization_code grant (RFC 6749 §4.1.3) made by
// a call in this process instead of a request to the token endpoint.
type GateCodeRequest struct {
	Code string
	// RedirectURI is the redirect_uri of the authorization request.
	RedirectURI string
	// Verifier is the PKCE code_verifier whose S256 challenge the
	// authorization request carried (RFC 7636 §4.5).
	Verifier string
	// Nonce is the nonce of the authorization request (OIDC Core
	// §3.1.2.1), which the code must have been issued for.
	Nonce string
}

// GateLogin is a redeemed gate code: who signed in, with the identity
// claims the granted scopes release (those the ID token would carry),
// and what the redemption created, so revoking either ends the login.
type GateLogin struct {
	Subject           string
	PreferredUsername string
	Name              string
	Email             string
	EmailVerified     bool
	Groups            []string
	AuthTime          time.Time
	// AMR and ACR say how the user authenticated (RFC 8176; amr.go).
	AMR     []string
	ACR     string
	GrantID string
	// SessionIDHash identifies the issuer session the login was made in.
	SessionIDHash string
	// IDP names the upstream provider the user signed in through, or "".
	IDP string
}

// RedeemGateCode redeems an authorization code issued to the gates'
// first-party client (clients.GateID). It runs the token endpoint's
// authorization_code checks, shared with it (redeemCode): the code is the
// client's, unexpired and unused, its redirect URI is repeated, PKCE S256
// verifies, a replayed code revokes what it issued, and the store alone
// decides which of two concurrent redemptions wins. Nothing is signed:
// the caller reads the result, not tokens. Errors are *oautherr.Error.
func (s *Server) RedeemGateCode(ctx context.Context, req GateCodeRequest) (*GateLogin, error) {
	now := s.now()
	l, err := s.redeemGateCode(ctx, req, now)
	if err != nil {
		oe := oautherr.From(err)
		oe.Log(ctx, s.log, "token request failed", "client_id", clients.GateID)
		return nil, oe
	}
	return l, nil
}

func (s *Server) redeemGateCode(ctx context.Context, req GateCodeRequest, now time.Time) (*GateLogin, error) {
	client, err := s.clientFor(ctx, clients.GateID)
	switch {
	case errors.Is(err, clients.ErrUnknown):
		return nil, oautherr.InvalidClient("the gate's client is not registered")
	case err != nil:
		return nil, oautherr.ServerError("client lookup failed").WithCause(err)
	// The gate holds no secret: only a first-party public client may
	// redeem without one, and public clients must use PKCE (RFC 9700
	// §2.1.1), so a code without a challenge is refused here too.
	case client.ID != clients.GateID || client.Type != clients.FirstPartyPublic:
		return nil, oautherr.InvalidClient("the gate's client must be first-party and public")
	case !client.AllowsGrant("authorization_code"):
		return nil, oautherr.UnauthorizedClient("this app may not use grant_type authorization_code")
	case req.Verifier == "":
		return nil, oautherr.InvalidGrant("code_verifier is required")
	case req.RedirectURI == "":
		return nil, oautherr.InvalidRequest("the redirect_uri parameter is missing")
	}
	rc, err := s.redeemCode(ctx, codeRedemption{
		client:      client,
		code:        req.Code,
		redirectURI: req.RedirectURI,
		verifier:    req.Verifier,
		now:         now,
		// The nonce check a relying party makes on the ID token (OIDC
		// Core §3.1.3.7 step 11), made on the code itself, before it
		// is consumed.
		check: func(c store.AuthCode) *oautherr.Error {
			if subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(req.Nonce)) != 1 {
				return oautherr.InvalidGrant("the nonce does not match the authorization request")
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	// The claims the ID token would carry for these scopes (OIDC Core
	// §5.4), from the same function, so the gate sees what a relying
	// party would.
	claims := userClaims(rc.user, rc.code.Scopes)
	l := &GateLogin{
		Subject:       rc.user.ID,
		AuthTime:      rc.grant.AuthTime,
		AMR:           sessionAMR(rc.grant.AMR),
		ACR:           acrOf(sessionAMR(rc.grant.AMR)),
		GrantID:       rc.grant.ID,
		SessionIDHash: rc.grant.SessionIDHash,
	}
	l.PreferredUsername, _ = claims["preferred_username"].(string)
	l.Name, _ = claims["name"].(string)
	l.Email, _ = claims["email"].(string)
	l.EmailVerified, _ = claims["email_verified"].(bool)
	l.Groups, _ = claims["groups"].([]string)
	if o := s.sessionOrigin(ctx, rc.grant.SessionIDHash); o != nil {
		l.IDP = o.IDP
	}
	return l, nil
}
