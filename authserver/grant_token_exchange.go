package authserver

import (
	"context"
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// Token exchange (RFC 8693): a service that received a user's access
// token (an upstream behind a gate, such as an MCP server) trades it for
// one aimed at a downstream API, acting for the user. The new token names
// the user (sub), the exchanging client (client_id, and act, §4.1), and
// only a resource the user's grant covers: the exchange can narrow what
// the user consented to, never widen it. It lives no longer than the
// token it came from and dies with the same grant.

// tokenTypeAccessToken is RFC 8693 §3's identifier of an access token.
const tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"

// grantTokenExchange is RFC 8693 §2.1's grant. The client is
// authenticated and allowed the grant type (handleToken).
func (s *Server) grantTokenExchange(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	f := req.form
	switch {
	case req.client.Type.Public():
		return nil, oautherr.UnauthorizedClient("token exchange is for confidential clients")
	case f.Get("subject_token") == "":
		return nil, oautherr.InvalidRequest("the subject_token parameter is missing")
	case f.Get("subject_token_type") != tokenTypeAccessToken:
		return nil, oautherr.InvalidRequest("subject_token_type must be %s", tokenTypeAccessToken)
	case f.Has("requested_token_type") && f.Get("requested_token_type") != tokenTypeAccessToken:
		return nil, oautherr.InvalidRequest("only access tokens are issued (requested_token_type %s)", tokenTypeAccessToken)
	case f.Has("actor_token") || f.Has("actor_token_type"):
		// §2.1: the actor is the authenticated client; a separate actor
		// token is not supported.
		return nil, oautherr.InvalidRequest("actor_token is not supported; the acting party is the authenticated client")
	}
	// RFC 8693 §2.1 audience names a target as resource does; both are
	// resource identifiers here.
	requested := append(slices.Clone(f["resource"]), f["audience"]...)
	if len(requested) == 0 {
		return nil, oautherr.InvalidRequest("name the downstream API with resource (RFC 8707) or audience")
	}

	// The subject token: signed by this server, unexpired, an access
	// token, its grant live and the token not revoked on its own.
	var claims token.AccessTokenClaims
	if err := s.verifier.Verify(ctx, f.Get("subject_token"), &claims); err != nil {
		return nil, oautherr.InvalidGrant("the subject_token is invalid or expired")
	}
	if claims.GrantID == "" {
		return nil, oautherr.InvalidGrant("the subject_token was not issued for a user's grant")
	}
	grant, err := s.cfg.Store.GetGrant(ctx, claims.GrantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.InvalidGrant("the subject_token has been revoked")
	case err != nil:
		return nil, err
	case !grant.RevokedAt.IsZero() || !req.now.Before(grant.ExpiresAt):
		return nil, oautherr.InvalidGrant("the subject_token has been revoked")
	}
	if denied, err := s.cfg.Store.IsTokenDenylisted(ctx, claims.JWTID); err != nil {
		return nil, err
	} else if denied {
		return nil, oautherr.InvalidGrant("the subject_token has been revoked")
	}

	// Only what the user consented to: resources of the grant, scopes of
	// the subject token (never openid or offline_access: no ID or
	// refresh token comes out of an exchange).
	audience, oerr := narrowResources(grant.Resources, requested)
	if oerr != nil {
		return nil, oerr
	}
	scopes := slices.DeleteFunc(claims.Scopes(), func(sc string) bool { return sc == "openid" || sc == "offline_access" })
	if f.Has("scope") {
		want, ok := clients.ParseScope(f.Get("scope"))
		if !ok || len(want) == 0 {
			return nil, oautherr.InvalidScope("the scope parameter is malformed")
		}
		if !containsAll(scopes, want) {
			return nil, oautherr.InvalidScope("the requested scope exceeds the subject_token's")
		}
		scopes = want
	}
	user, oerr := s.grantUser(ctx, claims.Subject)
	if oerr != nil {
		return nil, oerr
	}
	// §4.1: the exchanging client acts; a chain keeps who acted before.
	actor := &token.Actor{Subject: req.client.ID, ClientID: req.client.ID, Actor: claims.Actor}
	s.log.InfoContext(ctx, "token exchanged", "client_id", req.client.ID, "sub", claims.Subject, "grant_id", grant.ID,
		"from_client_id", claims.ClientID)
	resp, err := s.issueTokens(ctx, issueParams{
		client: req.client, user: user, grant: grant, scopes: scopes, audience: audience,
		jkt: req.jkt, actor: actor, notAfter: claims.Expiry.Time(), now: req.now,
	})
	if err != nil {
		return nil, err
	}
	resp.IssuedTokenType = tokenTypeAccessToken // §2.2.1
	return resp, nil
}
