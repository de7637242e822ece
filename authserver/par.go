package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Pushed authorization requests (RFC 9126): a client posts its
// authorization request to /par, authenticated, and gets a request_uri
// that stands for it at /authorize. The parameters never travel through
// the browser, so they cannot be read or changed there, and the request
// is checked while the client is known. The request is kept in the store
// (so any instance can serve /authorize), used once, for a minute.

const (
	parPath = "/par"
	// requestURIPrefix is RFC 9126 §2.2's URN namespace for request_uri.
	requestURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// pushedRequestLifetime is short (RFC 9126 §2.2 suggests 5 to 600 s):
	// the client redirects the browser right away.
	pushedRequestLifetime = 60 * time.Second
)

// parResponse is RFC 9126 §2.2.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// handlePAR is the pushed authorization request endpoint (RFC 9126 §2).
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) {
	fail := func(err *oautherr.Error) {
		s.clientEndpointError(w, r, "pushed authorization request", nil, err)
	}
	form, err := parseForm(w, r)
	if err != nil {
		fail(formError(err))
		return
	}
	client, oerr := s.authenticateClient(w, r, form)
	if oerr != nil {
		fail(oerr)
		return
	}
	// RFC 9126 §2.1: request_uri must not be pushed.
	if form.Has("request_uri") {
		fail(oautherr.InvalidRequest("request_uri cannot be pushed"))
		return
	}
	// What is stored is the request alone: the client's credentials
	// stay out, and its id is the authenticated one (authenticateClient
	// refused a different client_id).
	params := url.Values{}
	for k, v := range form {
		if k != "client_secret" {
			params[k] = v
		}
	}
	params.Set("client_id", client.ID)
	if _, _, oerr := s.checkAuthorizeForm(r.Context(), params, nil, true); oerr != nil {
		// RFC 9126 §2.3: the authorization endpoint's error, as JSON.
		oerr.NoRedirect = false
		if oerr.Status == 0 || oerr.Status == http.StatusForbidden {
			oerr.Status = http.StatusBadRequest
		}
		s.clientEndpointError(w, r, "pushed authorization request", client, oerr)
		return
	}
	now := s.now()
	raw, hash := randomToken(requestURIPrefix)
	err = s.cfg.Store.CreatePushedRequest(r.Context(), store.PushedRequest{
		Hash: hash, ClientID: client.ID, Params: params.Encode(), CreatedAt: now, ExpiresAt: now.Add(pushedRequestLifetime),
	})
	if err != nil {
		s.clientEndpointError(w, r, "pushed authorization request", client, oautherr.From(err))
		return
	}
	s.log.InfoContext(r.Context(), "authorization request pushed", "client_id", client.ID)
	h := w.Header()
	oautherr.NoStore(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(parResponse{RequestURI: raw, ExpiresIn: int64(pushedRequestLifetime / time.Second)})
}

// pushedRequest replaces an authorization request carrying request_uri
// with the request pushed under it (RFC 9126 §4), using it up: a second
// use, another client's request_uri, or an expired one is
// invalid_request_uri. Errors are never redirected: the redirect URI is
// the pushed request's, not yet read.
func (s *Server) pushedRequest(ctx context.Context, form url.Values) (url.Values, *oautherr.Error) {
	raw, clientID := form.Get("request_uri"), form.Get("client_id")
	if clientID == "" {
		return nil, oautherr.InvalidRequest("the client_id parameter is missing")
	}
	if !strings.HasPrefix(raw, requestURIPrefix) || len(raw) > 200 {
		return nil, oautherr.InvalidRequestURI("request_uri is not one this server issued")
	}
	p, err := s.cfg.Store.UsePushedRequest(ctx, hashToken(raw), clientID, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.log.InfoContext(ctx, "unknown, used or expired request_uri", "client_id", truncate(clientID, 64))
		return nil, oautherr.InvalidRequestURI("the request_uri is unknown, already used or expired")
	} else if err != nil {
		return nil, oautherr.From(err)
	}
	params, err := url.ParseQuery(p.Params)
	if err != nil {
		return nil, oautherr.ServerError("a stored pushed request is malformed").WithCause(err)
	}
	return params, nil
}
