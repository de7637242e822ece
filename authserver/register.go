package authserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// RegistrationPolicy says who may register clients dynamically
// (RFC 7591).
type RegistrationPolicy string

const (
	// RegistrationOff disables /register (the default).
	RegistrationOff RegistrationPolicy = "off"
	// RegistrationOpen lets anyone register, anonymously, a public
	// third-party client (token_endpoint_auth_method none), as Stytch
	// Connected Apps does. Such clients always get the consent page.
	// Registrations are rate-limited per client address.
	RegistrationOpen RegistrationPolicy = "open"
	// RegistrationToken requires an initial access token (RFC 7591 §3)
	// and allows confidential third-party clients too.
	RegistrationToken RegistrationPolicy = "token"
)

// Registration configures dynamic client registration (RFC 7591) and the
// management of registered clients (RFC 7592). Registered clients are
// always third-party: only the admin API creates first-party ones.
type Registration struct {
	// Policy is off (or empty), open or token.
	Policy RegistrationPolicy
	// InitialAccessTokens are accepted as Bearer tokens under the token
	// policy; at least 16 characters each.
	InitialAccessTokens []string
	// Clients stores the registered clients. Required unless off.
	Clients *clients.Registry
	// ClientIP returns the IP address of the client making a request.
	// Default: ClientIP (WithClientIP, else r.RemoteAddr). Behind a trusted proxy the host
	// supplies the real client address. Anonymous registrations are
	// counted per IPv4 address or IPv6 /64.
	ClientIP func(r *http.Request) string
	// RateBurst and RateInterval limit anonymous registrations per
	// address: RateBurst at once, then one every RateInterval. Defaults
	// DefaultRegistrationBurst and DefaultRegistrationInterval.
	RateBurst    int
	RateInterval time.Duration
}

// Defaults of the anonymous registration limit: enough for a developer or
// a test suite registering a few dozen clients, too little to pile up
// clients (at most 60 an hour per address after the burst).
const (
	DefaultRegistrationBurst    = 30
	DefaultRegistrationInterval = time.Minute
)

func (r Registration) enabled() bool {
	return r.Policy == RegistrationOpen || r.Policy == RegistrationToken
}

// registrar is the run-time state of dynamic registration.
type registrar struct {
	cfg     Registration
	digests [][sha256.Size]byte // of the initial access tokens
	limiter *throttle.RateLimiter
}

// minInitialAccessToken keeps initial access tokens out of guessing range.
const minInitialAccessToken = 16

// newRegistrar checks cfg; it returns nil when registration is off.
// buckets is what the rate limit remembers (Config.ThrottleState).
func newRegistrar(cfg Registration, buckets *throttle.Buckets) (*registrar, error) {
	switch cfg.Policy {
	case "", RegistrationOff:
		return nil, nil
	case RegistrationOpen, RegistrationToken:
	default:
		return nil, fmt.Errorf("authserver: registration: unknown policy %q (want off, open or token)", cfg.Policy)
	}
	if cfg.Clients == nil {
		return nil, errors.New("authserver: registration: a client registry is required")
	}
	reg := &registrar{cfg: cfg}
	if cfg.Policy == RegistrationToken {
		if len(cfg.InitialAccessTokens) == 0 {
			return nil, errors.New("authserver: registration: the token policy needs at least one initial access token")
		}
		for i, t := range cfg.InitialAccessTokens {
			if len(t) < minInitialAccessToken {
				return nil, fmt.Errorf("authserver: registration: initial access token %d is shorter than %d characters", i+1, minInitialAccessToken)
			}
			reg.digests = append(reg.digests, sha256.Sum256([]byte(t)))
		}
	}
	if cfg.ClientIP == nil {
		reg.cfg.ClientIP = ClientIP
	}
	burst, interval := cfg.RateBurst, cfg.RateInterval
	if burst <= 0 {
		burst = DefaultRegistrationBurst
	}
	if interval <= 0 {
		interval = DefaultRegistrationInterval
	}
	reg.limiter = throttle.NewRateLimiter(burst, interval, buckets)
	return reg, nil
}

// handleRegister serves the registration endpoint (POST, RFC 7591 §3) and,
// with ?client_id=, the client configuration endpoint (GET, PUT, DELETE,
// RFC 7592 §2) named in registration_client_uri.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	// No cookies are involved: credentials travel in the request.
	if allowCORS(w, r, "GET, POST, PUT, DELETE, OPTIONS", "WWW-Authenticate, Location, Retry-After") {
		return
	}
	h := w.Header()
	oautherr.NoStore(h)
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(query["client_id"]) > 1 {
		s.registrationFailed(w, r, "", oautherr.InvalidRequest("the query string is malformed"))
		return
	}
	switch id := query.Get("client_id"); {
	case !query.Has("client_id") && r.Method == http.MethodPost:
		s.registerClient(w, r)
	case query.Has("client_id") && r.Method != http.MethodPost:
		s.manageRegistration(w, r, id)
	default:
		h.Set("Allow", "POST")
		if query.Has("client_id") {
			h.Set("Allow", "GET, PUT, DELETE")
		}
		e := oautherr.InvalidRequest("method %s is not allowed here", r.Method)
		e.Status = http.StatusMethodNotAllowed
		s.registrationFailed(w, r, query.Get("client_id"), e)
	}
}

// registerClient is RFC 7591 §3: validate the metadata, create the client,
// answer 201 with its credentials.
func (s *Server) registerClient(w http.ResponseWriter, r *http.Request) {
	reg := s.registrar
	ctx := r.Context()
	if reg.cfg.Policy == RegistrationToken {
		tok, ok := bearerHeader(r)
		if !ok || !reg.validInitialToken(tok) {
			s.registrationAuthError(w, r, "", tok != "")
			return
		}
	}
	body, oerr := readJSONObject(w, r)
	if oerr != nil {
		s.registrationFailed(w, r, "", oerr)
		return
	}
	md, err := clients.DecodeRegistration(body, reg.request(""))
	if err == nil {
		err = s.featuresEnabled(md) // discovery_extensions.go
	}
	if err != nil {
		s.registrationFailed(w, r, "", err)
		return
	}
	if reg.cfg.Policy == RegistrationOpen {
		if ok, retry := reg.limiter.Allow(reg.cfg.ClientIP(r), s.now()); !ok {
			s.emitFrom(r, Event{Type: EventThrottled, Kind: "registration"})
			w.Header().Set("Retry-After", throttle.RetryAfter(retry))
			e := oautherr.TemporarilyUnavailable("too many client registrations from this address; try again later")
			e.Status = http.StatusTooManyRequests
			s.registrationFailed(w, r, "", e)
			return
		}
	}
	info, secret, token, err := reg.cfg.Clients.Register(ctx, md)
	if err != nil {
		s.registrationFailed(w, r, "", err)
		return
	}
	s.emitFrom(r, Event{Type: EventRegistration, Result: "created", ClientType: string(info.Type), ClientID: info.ID})
	s.log.InfoContext(ctx, "client registered", "client_id", info.ID, "type", string(info.Type), "policy", string(reg.cfg.Policy))
	uri := s.registrationClientURI(info.ID)
	w.Header().Set("Location", uri)
	writeJSONStatus(w, http.StatusCreated, clients.RegistrationResponse(&info, uri, supportedScopes, secret, token))
}

// manageRegistration is RFC 7592 §2: read, replace or delete a registered
// client, authorized by its registration access token.
func (s *Server) manageRegistration(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	reg := s.registrar
	tok, ok := bearerHeader(r)
	if !ok {
		s.registrationAuthError(w, r, id, tok != "")
		return
	}
	// RFC 7592 §2.1: an unknown client is answered like a bad token, so
	// the endpoint does not reveal which clients exist.
	cur, err := reg.cfg.Clients.Registered(ctx, id, tok)
	if errors.Is(err, clients.ErrUnknown) {
		s.registrationAuthError(w, r, id, true)
		return
	} else if err != nil {
		s.registrationFailed(w, r, id, oautherr.ServerError("client lookup failed").WithCause(err))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSONStatus(w, http.StatusOK, clients.RegistrationResponse(&cur.Info, s.registrationClientURI(id), supportedScopes, "", ""))
	case http.MethodDelete:
		if err := reg.cfg.Clients.Delete(ctx, id); err != nil && !errors.Is(err, clients.ErrUnknown) {
			s.registrationFailed(w, r, id, err)
			return
		}
		s.emitFrom(r, Event{Type: EventRegistration, Result: "deleted", ClientID: id})
		s.log.InfoContext(ctx, "registered client deleted by itself", "client_id", id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		body, oerr := readJSONObject(w, r)
		if oerr != nil {
			s.registrationFailed(w, r, id, oerr)
			return
		}
		if oerr := checkUpdateRequest(body, cur); oerr != nil {
			s.registrationFailed(w, r, id, oerr)
			return
		}
		md, err := clients.DecodeRegistration(body, reg.request(cur.Type))
		if err == nil {
			err = s.featuresEnabled(md)
		}
		if err != nil {
			s.registrationFailed(w, r, id, err)
			return
		}
		// The token must still be the client's, and the client must not
		// have changed kind since it was read.
		updated, err := reg.cfg.Clients.UpdateRegistered(ctx, id, tok, md)
		if errors.Is(err, clients.ErrUnknown) {
			s.registrationAuthError(w, r, id, true)
			return
		} else if err != nil {
			s.registrationFailed(w, r, id, err)
			return
		}
		s.emitFrom(r, Event{Type: EventRegistration, Result: "updated", ClientID: id})
		s.log.InfoContext(ctx, "registered client updated by itself", "client_id", id)
		writeJSONStatus(w, http.StatusOK, clients.RegistrationResponse(&updated, s.registrationClientURI(id), supportedScopes, "", ""))
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		e := oautherr.InvalidRequest("method %s is not allowed here", r.Method)
		e.Status = http.StatusMethodNotAllowed
		s.registrationFailed(w, r, id, e)
	}
}

// registrationClientURI is the client configuration endpoint of client id
// (RFC 7592 §2).
func (s *Server) registrationClientURI(id string) string {
	return s.endpoint("/register") + "?" + url.Values{"client_id": {id}}.Encode()
}

// request says how the metadata of a registration or update (of a client
// of type current) is read.
func (reg *registrar) request(current clients.Type) clients.RegistrationRequest {
	return clients.RegistrationRequest{Open: reg.cfg.Policy == RegistrationOpen, Current: current, SupportedScopes: supportedScopes}
}

// registrationAuthError answers a missing or bad Bearer token (RFC 6750 §3,
// as RFC 7591 §3 and RFC 7592 §2 require).
func (s *Server) registrationAuthError(w http.ResponseWriter, r *http.Request, clientID string, presented bool) {
	if !presented {
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), nil))
		s.registrationFailed(w, r, clientID, oautherr.InvalidToken("a Bearer token is required"))
		return
	}
	e := oautherr.InvalidToken("the token is invalid")
	w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), e))
	s.registrationFailed(w, r, clientID, e)
}

// registrationFailed logs and writes the error of a registration or
// client configuration request (RFC 7591 §3.2.2, RFC 7592 §2). clientID
// is the client being managed, "" for a registration.
func (s *Server) registrationFailed(w http.ResponseWriter, r *http.Request, clientID string, err error) {
	oe := registrationError(err)
	oe.Log(r.Context(), s.log, "registration request failed", "client_id", clientID)
	oautherr.WriteJSON(w, oe)
}

// validInitialToken compares tok with every initial access token in
// constant time.
func (reg *registrar) validInitialToken(tok string) bool {
	d := sha256.Sum256([]byte(tok))
	ok := 0
	for _, want := range reg.digests {
		ok |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	return ok == 1
}

// bearerHeader returns the Bearer token of the Authorization header; ok is
// false when there is none or it is not a well-formed Bearer credential
// (tok is then what was sent, if anything).
func bearerHeader(r *http.Request) (tok string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, v, found := strings.Cut(h, " ")
	v = strings.TrimSpace(v)
	if !found || !strings.EqualFold(scheme, "Bearer") || v == "" {
		return h, false
	}
	return v, true
}

// checkUpdateRequest enforces RFC 7592 §2.2 on a replacement request.
func checkUpdateRequest(body map[string]json.RawMessage, cur *clients.Registered) *oautherr.Error {
	var id, secret string
	if json.Unmarshal(body["client_id"], &id) != nil || id != cur.ID {
		return oautherr.InvalidRequest("client_id must be sent and equal the client's id")
	}
	for _, f := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := body[f]; ok {
			return oautherr.InvalidRequest("%s must not be sent in an update", f)
		}
	}
	if raw, ok := body["client_secret"]; ok && string(raw) != "null" && json.Unmarshal(raw, &secret) != nil {
		return oautherr.InvalidClientMetadata("client_secret: must be a string")
	}
	// The client may repeat its secret, never choose a new one.
	if secret != "" && !cur.IsSecret(secret) {
		return oautherr.InvalidClientMetadata("client_secret: does not match the client's secret; a client cannot choose its secret")
	}
	return nil
}

// registrationError maps a management error to its RFC 7591 §3.2.2 error:
// invalid_redirect_uri for the redirect URIs, invalid_client_metadata
// naming the field for any other metadata.
func registrationError(err error) *oautherr.Error {
	var me *clients.MetadataError
	switch {
	case !errors.As(err, &me):
		return oautherr.From(err)
	case me.Field == "redirect_uris":
		return oautherr.InvalidRedirectURI("%s", me.Error())
	}
	return oautherr.InvalidClientMetadata("%s", me.Error())
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSONObject reads an application/json body holding one JSON object,
// within maxFormBytes.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, *oautherr.Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		e := oautherr.InvalidRequest("the request body must be application/json")
		e.Status = http.StatusUnsupportedMediaType
		return nil, e
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e := oautherr.InvalidRequest("the request body is too large")
			e.Status = http.StatusRequestEntityTooLarge
			return nil, e
		}
		return nil, oautherr.InvalidRequest("the request body could not be read")
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, oautherr.InvalidClientMetadata("the request body must be one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, oautherr.InvalidClientMetadata("the request body must be one JSON object")
	}
	return obj, nil
}
