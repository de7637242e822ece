package authserver

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

type issueParams struct {
	client       *clients.Client
	user         *identity.User
	grant        store.Grant
	scopes       []string
	audience     []string // resource indicators; empty means the issuer
	nonce        string
	refreshToken string // raw refresh token to return, if any
	// jkt binds the access token to a DPoP key (RFC 9449 §6); "" for a
	// Bearer token.
	jkt string
	// actor is who acts for the user (token exchange, RFC 8693 §4.1).
	actor *token.Actor
	// notAfter, when set, caps the access token's expiry (an exchanged
	// token outlives not the one it came from).
	notAfter time.Time
	now      time.Time
}

func (s *Server) accessTokenLifetime(c *clients.Client) time.Duration {
	if c.AccessTokenLifetime > 0 {
		return c.AccessTokenLifetime
	}
	return s.cfg.Lifetimes.AccessToken
}

// issueTokens mints the access token (RFC 9068) and, for openid requests,
// the ID token (OIDC Core §2, §3.1.3.3).
func (s *Server) issueTokens(ctx context.Context, p issueParams) (*tokenResponse, error) {
	// How the user signed in, when an upstream provider did it
	// (federated.go): nil otherwise, and without a store read when no
	// provider is configured.
	origin := s.sessionOrigin(ctx, p.grant.SessionIDHash)
	lifetime := s.accessTokenLifetime(p.client)
	if !p.notAfter.IsZero() && p.now.Add(lifetime).After(p.notAfter) {
		lifetime = p.notAfter.Sub(p.now)
	}
	aud := p.audience
	switch {
	case len(aud) == 0:
		aud = []string{s.Issuer()}
	case slices.Contains(p.scopes, "openid") && !slices.Contains(aud, s.Issuer()):
		// The UserInfo endpoint is the issuer's resource: a token that
		// may read it (openid) names the issuer beside the resources the
		// client asked for (RFC 8707 §2 allows several), so OpenID
		// clients that also ask for an API keep one token for both.
		aud = append(slices.Clone(aud), s.Issuer())
	}
	at := token.AccessTokenClaims{
		Issuer:   s.Issuer(),
		Subject:  p.user.ID,
		Audience: aud,
		ClientID: p.client.ID,
		Scope:    joinScopes(p.scopes),
		Expiry:   token.NewNumericDate(p.now.Add(lifetime)),
		IssuedAt: token.NewNumericDate(p.now),
		JWTID:    randomID(),
		AuthTime: token.NewNumericDate(p.grant.AuthTime),
		GrantID:  p.grant.ID,
		Actor:    p.actor,
	}
	tokenType := "Bearer"
	if p.jkt != "" {
		at.Confirmation = &token.Confirmation{JKT: p.jkt}
		tokenType = "DPoP" // RFC 9449 §5.1
	}
	if origin != nil {
		at.IDP = origin.IDP
	}
	// Grants made before amr was recorded were all password sign-ins.
	amr := sessionAMR(p.grant.AMR)
	at.AMR, at.ACR = amr, acrOf(amr)
	accessToken, err := s.cfg.Keys.Sign("ES256", accessTokenType, at)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken:  accessToken,
		TokenType:    tokenType,
		ExpiresIn:    int64(lifetime / time.Second),
		Scope:        joinScopes(p.scopes),
		RefreshToken: p.refreshToken,
		subject:      p.user.ID, grantID: p.grant.ID, scopes: p.scopes,
	}
	if slices.Contains(p.scopes, "openid") {
		alg := p.client.IDTokenAlg()
		claims := userClaims(p.user, p.scopes)
		claims["iss"] = s.Issuer()
		claims["aud"] = p.client.ID
		claims["azp"] = p.client.ID
		claims["iat"] = p.now.Unix()
		claims["exp"] = p.now.Add(s.cfg.Lifetimes.IDToken).Unix()
		claims["auth_time"] = p.grant.AuthTime.Unix()
		claims["amr"] = amr // OIDC Core §2, RFC 8176
		claims["acr"] = at.ACR
		claims["at_hash"] = token.AtHash(alg, accessToken)
		if p.nonce != "" {
			claims["nonce"] = p.nonce
		}
		// Back-Channel Logout §2.1: sid lets the client match a logout
		// token to this session.
		if sid := sessionSID(p.grant.SessionIDHash); sid != "" {
			claims["sid"] = sid
		}
		if origin != nil {
			// idp names the provider the user signed in through; its RFC
			// 8176 methods are the session's amr, carried by the grant.
			claims["idp"] = origin.IDP
		}
		if resp.IDToken, err = s.cfg.Keys.Sign(alg, "JWT", claims); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// userClaims returns the user's claims released by scopes (OIDC Core
// §5.4), always including sub.
func userClaims(u *identity.User, scopes []string) map[string]any {
	c := map[string]any{"sub": u.ID}
	for _, sc := range scopes {
		switch sc {
		case "profile":
			c["preferred_username"] = u.Username
			if u.Name != "" {
				c["name"] = u.Name
			}
		case "email":
			if u.Email != "" {
				c["email"] = u.Email
				c["email_verified"] = u.EmailVerified
			}
		case "phone":
			if u.Phone != "" {
				c["phone_number"] = u.Phone
				c["phone_number_verified"] = u.PhoneVerified
			}
		case "groups":
			c["groups"] = append([]string{}, u.Groups...)
		}
	}
	return c
}
