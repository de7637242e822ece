package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID
// Connect Core 1.0 §9): the client signs a short-lived JWT about itself
// with a key whose public half it registered (jwks or jwks_uri).

// clientAssertionType is RFC 7523 §2.2's client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const (
	// maxClientAssertion bounds the assertion before it is parsed.
	maxClientAssertion = 8 * 1024
	// maxAssertionLifetime: an assertion whose exp is further away is
	// refused, so that a captured one is useless soon and the replay
	// record (UseOnce) stays short.
	maxAssertionLifetime = 5 * time.Minute
	// assertionLeeway absorbs clock differences between client and server.
	assertionLeeway = 30 * time.Second
	maxJTILength    = 256
)

// authenticateAssertion authenticates a client by its client_assertion.
// basic says the request also had a Basic authorization header.
func (s *Server) authenticateAssertion(r *http.Request, form url.Values, basic bool) (*clients.Client, *oautherr.Error) {
	ctx := r.Context()
	if basic || form.Has("client_secret") {
		return nil, oautherr.InvalidRequest("use only one client authentication method")
	}
	// RFC 7521 §4.2: both parameters, the type being the JWT bearer one.
	switch form.Get("client_assertion_type") {
	case "":
		return nil, oautherr.InvalidRequest("the client_assertion_type parameter is missing")
	case clientAssertionType:
	default:
		return nil, oautherr.InvalidClient("unsupported client_assertion_type")
	}
	raw := form.Get("client_assertion")
	switch {
	case raw == "":
		return nil, oautherr.InvalidRequest("the client_assertion parameter is missing")
	case len(raw) > maxClientAssertion:
		return nil, oautherr.InvalidClient("the client assertion is too large")
	case s.cfg.ClientKeys == nil:
		return nil, oautherr.InvalidClient("private_key_jwt client authentication is not enabled")
	}
	tok, err := jwt.ParseSigned(raw, clients.AssertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, oautherr.InvalidClient("the client assertion is not a signed JWT with an accepted algorithm")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, oautherr.InvalidClient("the client assertion's claims are malformed")
	}
	// RFC 7523 §3: iss and sub are both the client_id.
	id := unverified.Subject
	switch {
	case id == "" || unverified.Issuer != id:
		return nil, oautherr.InvalidClient("the client assertion's iss and sub must both be the client_id")
	case form.Has("client_id") && form.Get("client_id") != id:
		return nil, oautherr.InvalidClient("client_id does not match the client assertion")
	}
	client, lerr := s.clientFor(ctx, id)
	switch {
	case errors.Is(lerr, clients.ErrUnknown):
		return nil, oautherr.InvalidClient("client authentication failed")
	case lerr != nil:
		return nil, oautherr.ServerError("client lookup failed").WithCause(lerr)
	case !client.UsesKeys():
		return nil, oautherr.InvalidClient("this app does not authenticate with private_key_jwt")
	}
	h := tok.Headers[0]
	keys, kerr := s.cfg.ClientKeys.Keys(ctx, client, h.KeyID, h.Algorithm)
	if kerr != nil {
		s.log.WarnContext(ctx, "client keys unavailable", "client_id", client.ID, "error", kerr)
		return nil, oautherr.InvalidClient("the client's keys could not be read")
	}
	var claims jwt.Claims
	verified := false
	for _, k := range keys {
		if tok.Claims(k.Key, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, oautherr.InvalidClient("the client assertion's signature does not verify with the client's keys")
	}
	now := s.now()
	if oerr := s.checkAssertionClaims(r, client.ID, claims, now); oerr != nil {
		return nil, oerr
	}
	// RFC 7523 §3 item 7: a jti is used once. The record lives as long as
	// the assertion could be accepted, and the store decides races, so
	// this holds across instances.
	switch err := s.cfg.Store.UseOnce(ctx, "ca:"+hashToken(client.ID+"\x00"+claims.ID), now, claims.Expiry.Time().Add(assertionLeeway)); {
	case errors.Is(err, store.ErrReplay):
		s.emitFrom(r, Event{Type: EventReplay, Kind: "client_assertion", ClientID: client.ID})
		s.log.WarnContext(ctx, "client assertion replayed", "client_id", client.ID)
		return nil, oautherr.InvalidClient("the client assertion has already been used")
	case err != nil:
		return nil, oautherr.ServerError("recording the client assertion failed").WithCause(err)
	}
	return client, nil
}

// checkAssertionClaims applies RFC 7523 §3: iss, sub, aud, exp (required,
// and soon), nbf, iat, jti.
func (s *Server) checkAssertionClaims(r *http.Request, clientID string, c jwt.Claims, now time.Time) *oautherr.Error {
	switch {
	case c.Expiry == nil:
		return oautherr.InvalidClient("the client assertion has no exp")
	case c.ID == "" || len(c.ID) > maxJTILength:
		return oautherr.InvalidClient("the client assertion needs a jti of at most %d characters", maxJTILength)
	case c.Expiry.Time().After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return oautherr.InvalidClient("the client assertion's exp is more than %s away", maxAssertionLifetime)
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return oautherr.InvalidClient("the client assertion was issued in the future")
	}
	// The audience is this server: its issuer identifier or the token
	// endpoint (RFC 7523 §3 item 3), or the endpoint the assertion is sent
	// to (introspection, revocation).
	expected := jwt.Expected{
		Issuer:      clientID,
		Subject:     clientID,
		AnyAudience: jwt.Audience{s.Issuer(), s.endpoint("/token"), s.requestURL(r)},
		Time:        now,
	}
	switch err := c.ValidateWithLeeway(expected, assertionLeeway); {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidAudience):
		return oautherr.InvalidClient("the client assertion's aud is not this server")
	case errors.Is(err, jwt.ErrExpired):
		return oautherr.InvalidClient("the client assertion has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return oautherr.InvalidClient("the client assertion is not valid yet")
	default:
		return oautherr.InvalidClient("the client assertion's claims are invalid")
	}
}

// requestURL is the URL the request was sent to, without query: the
// issuer's scheme and host with the request's path.
func (s *Server) requestURL(r *http.Request) string {
	u := url.URL{Scheme: s.issuer.Scheme, Host: s.issuer.Host, Path: r.URL.Path}
	return u.String()
}
