package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// tokenRequest is a parsed, client-authenticated token request.
type tokenRequest struct {
	client *clients.Client
	form   url.Values
	now    time.Time
	// jkt is the thumbprint of the request's DPoP key (RFC 9449 §5), ""
	// for a Bearer request.
	jkt string
}

// tokenResponse is the successful response of RFC 6749 §5.1 and OIDC
// Core §3.1.3.3.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	// IssuedTokenType answers a token exchange (RFC 8693 §2.2.1).
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	// What the tokens were issued for, for the token_issued event; not
	// part of the response.
	subject, grantID string
	scopes           []string
}

// grantHandler performs one grant type's exchange. Client authentication,
// form parsing and response writing happen once, in handleToken.
type grantHandler func(ctx context.Context, req *tokenRequest) (*tokenResponse, error)

func (s *Server) grants() map[string]grantHandler {
	g := map[string]grantHandler{
		"authorization_code": s.grantAuthorizationCode,
		"refresh_token":      s.grantRefreshToken,
	}
	// Opt-in grants exist only when enabled (RFC 6749 §5.2:
	// unsupported_grant_type otherwise).
	if s.cfg.ClientCredentials {
		g["client_credentials"] = s.grantClientCredentials
	}
	if s.cfg.DeviceAuthorization {
		g[clients.GrantDeviceCode] = s.grantDeviceCode
	}
	if s.cfg.TokenExchange {
		g[clients.GrantTypeTokenExchange] = s.grantTokenExchange // grant_token_exchange.go
	}
	return g
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.tokenError(w, r, nil, formError(err))
		return
	}
	client, oerr := s.authenticateClient(w, r, form)
	if oerr != nil {
		s.tokenError(w, r, nil, oerr)
		return
	}
	gt := form.Get("grant_type")
	grant, ok := s.grants()[gt]
	switch {
	case gt == "":
		s.tokenError(w, r, client, oautherr.InvalidRequest("the grant_type parameter is missing"))
		return
	case !ok:
		s.tokenError(w, r, client, oautherr.UnsupportedGrantType("grant_type %q is not supported", truncate(gt, 64)))
		return
	case !client.AllowsGrant(gt):
		s.tokenError(w, r, client, oautherr.UnauthorizedClient("this app may not use grant_type %s", gt))
		return
	}
	jkt, oerr := s.tokenProof(w, r, client.DPoPBoundAccessTokens) // dpop_server.go
	if oerr != nil {
		s.tokenError(w, r, client, oerr)
		return
	}
	resp, err := grant(r.Context(), &tokenRequest{client: client, form: form, now: s.now(), jkt: jkt})
	if err != nil {
		s.tokenError(w, r, client, err)
		return
	}
	s.emitFrom(r, Event{Type: EventTokenIssued, GrantType: gt, ClientType: clientTypeOf(client), ClientID: client.ID,
		Subject: resp.subject, GrantID: resp.grantID, Scopes: resp.scopes})
	h := w.Header()
	oautherr.NoStore(h)
	h.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// formError maps a parseForm failure to its OAuth error.
func formError(err error) *oautherr.Error {
	oe := oautherr.InvalidRequest("%s", err.Error())
	if errors.Is(err, errBodyTooLarge) {
		oe.Status = http.StatusRequestEntityTooLarge
	}
	return oe
}

// tokenError answers a failed token request (RFC 6749 §5.2). A grant may
// fail with any error; one that is not an *oautherr.Error is a
// server_error.
func (s *Server) tokenError(w http.ResponseWriter, r *http.Request, client *clients.Client, err error) {
	s.clientEndpointError(w, r, "token", client, oautherr.From(err))
}

// authenticateClient identifies the client (RFC 6749 §2.3): HTTP Basic
// (client_secret_basic), form fields (client_secret_post), or a bare
// client_id for public clients (none). Using two methods at once is an
// error (RFC 6749 §2.3).
//
// Secret guessing is throttled (throttle.go) per client IP and, for
// clients whose secrets an operator chose, per client: failures with an
// unknown client_id or a wrong secret count; a request that must wait is
// answered 429 before any secret is checked. Requests without a secret
// (public clients) are not throttled: they guess nothing.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (*clients.Client, *oautherr.Error) {
	id, secret, basic, err := basicCredentials(r)
	if err != nil {
		return nil, oautherr.InvalidClient("malformed Basic authorization header")
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return s.authenticateAssertion(r, form, basic) // client_assertion.go
	}
	if basic {
		if form.Has("client_secret") {
			return nil, oautherr.InvalidRequest("use only one client authentication method")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, oautherr.InvalidRequest("client_id does not match the authenticated client")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, oautherr.InvalidClient("client authentication is required")
	}
	client, lerr := s.clientFor(r.Context(), id)
	if lerr != nil && !errors.Is(lerr, clients.ErrUnknown) {
		return nil, oautherr.ServerError("client lookup failed").WithCause(lerr)
	}
	if client != nil && client.Type.Public() {
		if basic || secret != "" {
			return nil, oautherr.InvalidClient("this app is public and must not authenticate with a secret")
		}
		return client, nil
	}
	if secret == "" {
		if client == nil {
			return nil, oautherr.InvalidClient("client authentication failed")
		}
		return nil, oautherr.InvalidClient("client authentication is required")
	}
	subject, ip := "", ClientIP(r)
	if client != nil && client.HasChosenSecret() {
		subject = throttle.ClientKey(client.ID)
	}
	if ok, wait := s.clientAuths.AdmitWait(r.Context(), subject, ip, s.now); !ok {
		s.emitFrom(r, Event{Type: EventThrottled, Kind: "client_auth", ClientID: truncate(id, 64)})
		s.log.InfoContext(r.Context(), "client authentication throttled", "client_id", truncate(id, 64), "client_ip", ip, "retry_after", throttle.RetryAfter(wait))
		return nil, errClientThrottled(w, wait)
	}
	result := throttle.Failed
	defer func() {
		lockedSubject, lockedIP := s.clientAuths.Done(subject, ip, result, s.now())
		if lockedSubject {
			s.log.WarnContext(r.Context(), "too many failed client authentications; client locked", "client_id", id, "lockout", s.clientAuths.Policy().Lockout.String())
		}
		if lockedIP {
			s.log.WarnContext(r.Context(), "too many failed client authentications; address locked", "client_ip", ip, "lockout", s.clientAuths.Policy().Lockout.String())
		}
	}()
	if client == nil {
		return nil, oautherr.InvalidClient("client authentication failed")
	}
	switch err := client.CheckSecret(r.Context(), s.cfg.Hasher, secret); {
	case errors.Is(err, identity.ErrBusy):
		// Nothing was checked: not a failure (issue 19).
		result = throttle.Abandoned
		return nil, errHashingBusy(w)
	case err != nil && r.Context().Err() != nil:
		result = throttle.Abandoned
		return nil, oautherr.InvalidClient("client authentication failed")
	case err != nil:
		return nil, oautherr.InvalidClient("client authentication failed")
	}
	result = throttle.Succeeded
	return client, nil
}

// basicCredentials reads client_secret_basic credentials. RFC 6749 §2.3.1
// form-urlencodes the id and secret before Base64, so they are decoded
// after splitting.
func basicCredentials(r *http.Request) (id, secret string, ok bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", false, nil
	}
	scheme, payload, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, errors.New("not a Basic authorization")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", false, err
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false, errors.New("no colon in Basic credentials")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", false, err
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false, err
	}
	return id, secret, true, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
