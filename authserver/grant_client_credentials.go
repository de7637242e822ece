package authserver

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// userOnlyScopes are about a user (OIDC Core §3.1.2.1, §11): a client
// acting as itself may never hold them.
var userOnlyScopes = []string{"openid", "offline_access"}

// grantClientCredentials issues an access token to a confidential client
// acting on its own behalf (RFC 6749 §4.4). The token's sub is the client
// id (RFC 9068 §2.2), it carries neither auth_time nor grant_id, and no
// refresh token (RFC 6749 §4.4.3) or ID token comes with it.
func (s *Server) grantClientCredentials(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	c := req.client
	// RFC 6749 §4.4.2: the client MUST authenticate; public clients
	// cannot, so a bare client_id is never enough.
	if c.Type.Public() {
		return nil, oautherr.UnauthorizedClient("client_credentials is only for confidential clients")
	}
	scopes, oerr := clientCredentialsScopes(c, req)
	if oerr != nil {
		return nil, oerr
	}
	if len(req.form["resource"]) > 8 {
		return nil, oautherr.InvalidTarget("too many resource parameters")
	}
	audience, oerr := normalizeResources(req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}
	// RFC 9068 §5: a client's sub must never be mistaken for a user's.
	switch _, err := s.cfg.Users.UserByID(ctx, c.ID); {
	case err == nil:
		s.log.ErrorContext(ctx, "client_credentials refused: a user has the client's id as subject", "client_id", c.ID)
		return nil, oautherr.UnauthorizedClient("this app's id is also a user's id; it cannot act as itself")
	case !errors.Is(err, identity.ErrNotFound):
		return nil, userLookupFailed(err)
	}
	return s.issueClientToken(c, scopes, audience, req.now)
}

// clientCredentialsScopes are the scopes of a client_credentials request
// (RFC 6749 §3.3): each requested one must be allowed the client and not
// about a user; with none requested, the client's registered scopes less
// the user-only ones (none for a client registered without scopes, which
// would otherwise get every scope there is).
func clientCredentialsScopes(c *clients.Client, req *tokenRequest) ([]string, *oautherr.Error) {
	if !req.form.Has("scope") {
		return slices.DeleteFunc(slices.Clone(c.Scopes), func(sc string) bool { return slices.Contains(userOnlyScopes, sc) }), nil
	}
	requested, ok := clients.ParseScope(req.form.Get("scope"))
	if !ok {
		return nil, oautherr.InvalidScope("the scope parameter is malformed")
	}
	for _, sc := range requested {
		if slices.Contains(userOnlyScopes, sc) {
			return nil, oautherr.InvalidScope("scope %s needs a user; client_credentials has none", sc)
		}
		if !c.AllowsScope(sc, supportedScopes) {
			return nil, oautherr.InvalidScope("scope %q is not allowed for this app", truncate(sc, 64))
		}
	}
	return requested, nil
}

// issueClientToken signs an access token whose subject is the client
// itself (RFC 9068 §2.2).
func (s *Server) issueClientToken(c *clients.Client, scopes, audience []string, now time.Time) (*tokenResponse, error) {
	lifetime := s.accessTokenLifetime(c)
	if len(audience) == 0 {
		audience = []string{s.Issuer()}
	}
	at := token.AccessTokenClaims{
		Issuer:   s.Issuer(),
		Subject:  c.ID,
		Audience: audience,
		ClientID: c.ID,
		Scope:    joinScopes(scopes),
		Expiry:   token.NewNumericDate(now.Add(lifetime)),
		IssuedAt: token.NewNumericDate(now),
		JWTID:    randomID(),
	}
	raw, err := s.cfg.Keys.Sign("ES256", accessTokenType, at)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{
		AccessToken: raw,
		TokenType:   "Bearer",
		ExpiresIn:   int64(lifetime / time.Second),
		Scope:       joinScopes(scopes),
		subject:     c.ID, scopes: scopes,
	}, nil
}
