package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// introspectionResponse is RFC 7662 §2.2. An inactive token gets only
// {"active": false}: nothing about why, or whose it was.
type introspectionResponse struct {
	Active    bool           `json:"active"`
	Scope     string         `json:"scope,omitempty"`
	ClientID  string         `json:"client_id,omitempty"`
	Username  string         `json:"username,omitempty"`
	TokenType string         `json:"token_type,omitempty"`
	Expiry    int64          `json:"exp,omitempty"`
	IssuedAt  int64          `json:"iat,omitempty"`
	NotBefore int64          `json:"nbf,omitempty"`
	Subject   string         `json:"sub,omitempty"`
	Audience  token.Audience `json:"aud,omitempty"`
	Issuer    string         `json:"iss,omitempty"`
	JWTID     string         `json:"jti,omitempty"`
	// Confirmation is a DPoP-bound token's key (RFC 9449 §6.2), Actor an
	// exchanged token's acting party (RFC 8693 §2.2.1, §4.1).
	Confirmation *token.Confirmation `json:"cnf,omitempty"`
	Actor        *token.Actor        `json:"act,omitempty"`
	// How the user authenticated, as the access token says (RFC 9470 §6.1
	// lists acr and auth_time among the introspection response's claims).
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// handleIntrospect is the introspection endpoint (RFC 7662 §2).
//
// The caller must authenticate as a client (§2.1), with the methods of the
// token endpoint. Who may learn what about a token (§4: the server decides):
// a client may introspect the tokens issued to it, public clients included,
// since they already hold them; a first_party (confidential, operator-run)
// client may introspect any token, so the operator's own resource servers
// can check the tokens that apps present to them. Any other token is
// reported inactive, exactly like an unknown one.
//
// token_type_hint is only a hint (§2.1): the token's own format decides
// how it is looked up, so a wrong or unknown hint changes nothing.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.clientEndpointError(w, r, "introspection", nil, formError(err))
		return
	}
	client, oerr := s.authenticateClient(w, r, form)
	if oerr != nil {
		s.clientEndpointError(w, r, "introspection", nil, oerr)
		return
	}
	raw := form.Get("token")
	if raw == "" {
		s.clientEndpointError(w, r, "introspection", client, oautherr.InvalidRequest("the token parameter is missing"))
		return
	}
	resp, err := s.introspect(r.Context(), raw)
	if err != nil {
		var oe *oautherr.Error // a failed user lookup says so itself (users.go)
		if !errors.As(err, &oe) {
			oe = oautherr.ServerError("introspection failed").WithCause(err)
		}
		s.clientEndpointError(w, r, "introspection", client, oe)
		return
	}
	if resp.Active && resp.ClientID != client.ID && client.Type != clients.FirstParty {
		resp = &introspectionResponse{}
	}
	s.log.DebugContext(r.Context(), "token introspected", "client_id", client.ID, "active", resp.Active)
	h := w.Header()
	oautherr.NoStore(h)
	h.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// introspect describes raw if it is one of ours and active, else returns
// an inactive response. An error means the store could not be asked.
func (s *Server) introspect(ctx context.Context, raw string) (*introspectionResponse, error) {
	inactive := &introspectionResponse{}
	if strings.HasPrefix(raw, refreshTokenPrefix) {
		rt, g, active, err := s.activeRefreshToken(ctx, raw)
		if err != nil || !active {
			return inactive, err
		}
		u, err := s.cfg.Users.UserByID(ctx, g.Subject)
		if errors.Is(err, identity.ErrNotFound) {
			return inactive, nil
		} else if err != nil {
			return inactive, userLookupFailed(err)
		}
		exp := rt.ExpiresAt
		if g.ExpiresAt.Before(exp) {
			exp = g.ExpiresAt
		}
		return &introspectionResponse{
			Active:   true,
			Scope:    joinScopes(g.Scopes),
			ClientID: g.ClientID,
			Username: u.Username,
			Expiry:   exp.Unix(),
			IssuedAt: rt.CreatedAt.Unix(),
			Subject:  g.Subject,
			Issuer:   s.Issuer(),
			AuthTime: g.AuthTime.Unix(),
			ACR:      acrOf(sessionAMR(g.AMR)),
			AMR:      sessionAMR(g.AMR),
		}, nil
	}
	claims, active, err := s.activeAccessToken(ctx, raw)
	if err != nil || !active {
		return inactive, err
	}
	if claims.IsClientToken() {
		// A client's own token (client_credentials) has no user to
		// look up; it names no username.
		return accessTokenIntrospection(claims, ""), nil
	}
	u, err := s.cfg.Users.UserByID(ctx, claims.Subject)
	if errors.Is(err, identity.ErrNotFound) {
		return inactive, nil
	} else if err != nil {
		return inactive, userLookupFailed(err)
	}
	return accessTokenIntrospection(claims, u.Username), nil
}

// accessTokenIntrospection describes an active access token (RFC 7662
// §2.2); a DPoP-bound one has token_type DPoP and its cnf (RFC 9449
// §6.2), an exchanged one its act (RFC 8693 §4.1).
func accessTokenIntrospection(claims *token.AccessTokenClaims, username string) *introspectionResponse {
	tokenType := "Bearer"
	if claims.Confirmation != nil && claims.Confirmation.JKT != "" {
		tokenType = "DPoP"
	}
	return &introspectionResponse{
		Active:       true,
		Confirmation: claims.Confirmation,
		Actor:        claims.Actor,
		Scope:        claims.Scope,
		ClientID:     claims.ClientID,
		Username:     username,
		TokenType:    tokenType,
		Expiry:       int64(claims.Expiry),
		IssuedAt:     int64(claims.IssuedAt),
		NotBefore:    int64(claims.NotBefore),
		Subject:      claims.Subject,
		Audience:     claims.Audience,
		Issuer:       claims.Issuer,
		JWTID:        claims.JWTID,
		AuthTime:     int64(claims.AuthTime),
		ACR:          claims.ACR,
		AMR:          claims.AMR,
	}
}

// activeAccessToken verifies raw as one of this server's access tokens
// (signature, typ, iss, exp) and checks that neither its grant nor the
// token itself has been revoked. A token that fails verification is
// simply inactive.
func (s *Server) activeAccessToken(ctx context.Context, raw string) (*token.AccessTokenClaims, bool, error) {
	var claims token.AccessTokenClaims
	if err := s.verifier.Verify(ctx, raw, &claims); err != nil {
		if isInvalidToken(err) {
			return nil, false, nil
		}
		return nil, false, err // the keys could not be read
	}
	if claims.JWTID == "" || claims.ClientID == "" {
		return nil, false, nil
	}
	if claims.GrantID != "" {
		g, err := s.cfg.Store.GetGrant(ctx, claims.GrantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		case !g.RevokedAt.IsZero():
			return nil, false, nil
		}
	}
	denied, err := s.cfg.Store.IsTokenDenylisted(ctx, claims.JWTID)
	if err != nil || denied {
		return nil, false, err
	}
	return &claims, true, nil
}

// activeRefreshToken looks raw up as a refresh token and reports whether
// it could still be used: current (not rotated), unexpired, and its grant
// neither revoked nor expired. It never changes state, not even for a
// rotated token, which the token endpoint would treat as reuse.
func (s *Server) activeRefreshToken(ctx context.Context, raw string) (store.RefreshToken, store.Grant, bool, error) {
	rt, g, err := s.cfg.Store.GetRefreshToken(ctx, hashToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return rt, g, false, nil
	} else if err != nil {
		return rt, g, false, err
	}
	now := s.now()
	active := rt.RotatedAt.IsZero() && now.Before(rt.ExpiresAt) && g.RevokedAt.IsZero() && now.Before(g.ExpiresAt)
	return rt, g, active, nil
}

// clientEndpointError logs and writes the JSON error of an endpoint that
// authenticates clients (token, introspection, revocation), with the
// challenge RFC 6749 §5.2 requires on an invalid_client 401.
func (s *Server) clientEndpointError(w http.ResponseWriter, r *http.Request, endpoint string, client *clients.Client, err *oautherr.Error) {
	err.Log(r.Context(), s.log, endpoint+" request failed", "client_id", clientIDOf(client))
	if err.Code == oautherr.CodeInvalidClient {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+s.Issuer()+`", charset="UTF-8"`)
	}
	oautherr.WriteJSON(w, err)
}

// isInvalidToken reports whether a verification error is about the token
// (so it is simply not valid) rather than the server's keys.
func isInvalidToken(err error) bool {
	for _, known := range []error{token.ErrMalformed, token.ErrInvalidAlgorithm, token.ErrUnknownKey,
		token.ErrInvalidSignature, token.ErrInvalidType, token.ErrExpired, token.ErrNotYetValid,
		token.ErrInvalidIssuer, token.ErrInvalidAudience} {
		if errors.Is(err, known) {
			return true
		}
	}
	return false
}
