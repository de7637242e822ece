package authserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// handleUserinfo is the UserInfo endpoint (OIDC Core §5.3): the claims of
// the token's user released by its scopes. The token comes in the
// Authorization header (RFC 6750 §2.1) or, for POST, the form body (§2.2);
// never in the query (RFC 9700 §4.3.2 discourages it).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	scheme, raw, oerr := authorizationToken(w, r) // dpop_server.go
	if oerr != nil {
		s.userinfoError(w, r, oerr)
		return
	}
	if raw == "" {
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), nil))
		oautherr.NoStore(w.Header())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var claims token.AccessTokenClaims
	if err := s.verifier.Verify(r.Context(), raw, &claims); err != nil {
		s.userinfoError(w, r, oautherr.InvalidToken("the access token is invalid or expired"))
		return
	}
	if oerr := s.resourceProof(w, r, scheme, raw, &claims); oerr != nil {
		s.userinfoError(w, r, oerr)
		return
	}
	// The UserInfo endpoint is a resource of this issuer: a token whose
	// audience was restricted to other resources (RFC 8707 §2) is not for
	// it (RFC 9068 §4). Tokens requested without resource name the issuer.
	if !claims.Audience.Contains(s.Issuer()) {
		s.userinfoError(w, r, oautherr.InvalidToken("the access token is not for this resource"))
		return
	}
	// A revoked grant kills its access tokens at once here.
	if claims.GrantID != "" {
		g, err := s.cfg.Store.GetGrant(r.Context(), claims.GrantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.userinfoError(w, r, oautherr.InvalidToken("the access token has been revoked"))
			return
		case err != nil:
			s.userinfoError(w, r, oautherr.ServerError("userinfo lookup failed").WithCause(err))
			return
		case !g.RevokedAt.IsZero():
			s.userinfoError(w, r, oautherr.InvalidToken("the access token has been revoked"))
			return
		}
	}
	// So is an access token revoked on its own (RFC 7009, revoke.go).
	if denied, err := s.cfg.Store.IsTokenDenylisted(r.Context(), claims.JWTID); err != nil {
		s.userinfoError(w, r, oautherr.ServerError("userinfo lookup failed").WithCause(err))
		return
	} else if denied {
		s.userinfoError(w, r, oautherr.InvalidToken("the access token has been revoked"))
		return
	}
	scopes, _ := clients.ParseScope(claims.Scope)
	if !slices.Contains(scopes, "openid") {
		s.userinfoError(w, r, oautherr.InsufficientScope("the access token lacks the openid scope"))
		return
	}
	u, err := s.cfg.Users.UserByID(r.Context(), claims.Subject)
	if errors.Is(err, identity.ErrNotFound) {
		s.userinfoError(w, r, oautherr.InvalidToken("the user no longer exists"))
		return
	} else if err != nil {
		s.userinfoError(w, r, userLookupFailed(err))
		return
	}
	h := w.Header()
	oautherr.NoStore(h)
	h.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(userClaims(u, scopes))
}

// bearerToken extracts an RFC 6750 bearer token. It returns "" with no
// error when the request carries none.
func bearerToken(w http.ResponseWriter, r *http.Request) (string, *oautherr.Error) {
	var fromHeader, fromBody string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", oautherr.InvalidRequest("the Authorization header must use the Bearer scheme")
		}
		fromHeader = strings.TrimSpace(tok)
	}
	if r.URL.Query().Has("access_token") {
		return "", oautherr.InvalidRequest("access tokens are not accepted in the query string")
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "" {
		form, err := parseForm(w, r)
		if err != nil && !errors.Is(err, errBadContentType) {
			return "", formError(err)
		}
		fromBody = form.Get("access_token")
	}
	if fromHeader != "" && fromBody != "" {
		// RFC 6750 §2: clients must not use more than one method.
		return "", oautherr.InvalidRequest("use only one way to send the access token")
	}
	return fromHeader + fromBody, nil
}

// userinfoError logs and writes a failed UserInfo request's error (OIDC
// Core §5.3.3). An error about the request or its token comes with the
// RFC 6750 §3 challenge; a server_error or temporarily_unavailable says
// nothing about the token, so it has none.
func (s *Server) userinfoError(w http.ResponseWriter, r *http.Request, err *oautherr.Error) {
	err.Log(r.Context(), s.log, "userinfo request failed")
	switch {
	case err.Code == oautherr.CodeServerError || err.Code == oautherr.CodeTemporarilyUnavailable:
	case s.dpop != nil && strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "dpop "),
		err.Code == oautherr.CodeInvalidDPoPProof || err.Code == oautherr.CodeUseDPoPNonce:
		w.Header().Set("WWW-Authenticate", oautherr.DPoPChallenge(s.Issuer(), err, dpop.Algorithms()))
	default:
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), err))
	}
	oautherr.WriteJSON(w, err)
}
