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
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
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
	Clients *ClientRegistry
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
	limiter *rateLimiter
}

// minInitialAccessToken keeps initial access tokens out of guessing range.
const minInitialAccessToken = 16

// newRegistrar checks cfg; it returns nil when registration is off.
func newRegistrar(cfg Registration) (*registrar, error) {
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
	reg.limiter = newRateLimiter(burst, interval)
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
		oautherr.WriteJSON(w, oautherr.InvalidRequest("the query string is malformed"))
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
		oautherr.WriteJSON(w, e)
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
			s.registrationAuthError(w, tok != "")
			return
		}
	}
	body, oerr := readJSONObject(w, r)
	if oerr != nil {
		oautherr.WriteJSON(w, oerr)
		return
	}
	md, oerr := s.registrationMetadata(body, "")
	if oerr != nil {
		s.log.InfoContext(ctx, "client registration refused", "error", oerr.Code, "reason", oerr.Description)
		oautherr.WriteJSON(w, oerr)
		return
	}
	if reg.cfg.Policy == RegistrationOpen {
		if ok, retry := reg.limiter.take(rateLimitKey(reg.cfg.ClientIP(r)), s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
			e := oautherr.TemporarilyUnavailable("too many client registrations from this address; try again later")
			e.Status = http.StatusTooManyRequests
			oautherr.WriteJSON(w, e)
			return
		}
	}
	ratRaw, ratHash := randomToken(regTokenPrefix)
	rec, secret, err := reg.cfg.Clients.create(ctx, md, ratHash)
	if err != nil {
		oautherr.WriteJSON(w, registrationError(err))
		return
	}
	s.log.InfoContext(ctx, "client registered", "client_id", rec.ID, "type", rec.Type, "policy", string(reg.cfg.Policy))
	resp := s.registrationResponse(rec)
	resp.RegistrationAccessToken, resp.ClientSecret = ratRaw, secret
	w.Header().Set("Location", resp.RegistrationClientURI)
	writeJSONStatus(w, http.StatusCreated, resp)
}

// manageRegistration is RFC 7592 §2: read, replace or delete a registered
// client, authorized by its registration access token.
func (s *Server) manageRegistration(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	reg := s.registrar
	tok, ok := bearerHeader(r)
	if !ok {
		s.registrationAuthError(w, tok != "")
		return
	}
	// RFC 7592 §2.1: an unknown client is answered like a bad token, so
	// the endpoint does not reveal which clients exist.
	rec, err := reg.cfg.Clients.store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !registrationTokenMatches(rec, tok)) {
		s.registrationAuthError(w, true)
		return
	} else if err != nil {
		oautherr.WriteJSON(w, oautherr.ServerError("client lookup failed").WithCause(err))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSONStatus(w, http.StatusOK, s.registrationResponse(rec))
	case http.MethodDelete:
		if err := reg.cfg.Clients.DeleteClient(ctx, id); err != nil && !errors.Is(err, ErrUnknownClient) {
			oautherr.WriteJSON(w, registrationError(err))
			return
		}
		s.log.InfoContext(ctx, "registered client deleted by itself", "client_id", id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		body, oerr := readJSONObject(w, r)
		if oerr != nil {
			oautherr.WriteJSON(w, oerr)
			return
		}
		if oerr := checkUpdateRequest(body, rec); oerr != nil {
			oautherr.WriteJSON(w, oerr)
			return
		}
		md, oerr := s.registrationMetadata(body, ClientType(rec.Type))
		if oerr != nil {
			oautherr.WriteJSON(w, oerr)
			return
		}
		updated, err := reg.cfg.Clients.modify(ctx, id, func(cur *store.Client) error {
			// The token must still be the client's, and the client must
			// not have changed kind since it was read.
			if !registrationTokenMatches(*cur, tok) {
				return ErrUnknownClient
			}
			if ClientType(cur.Type) != md.Type {
				return metadataErr("token_endpoint_auth_method", "cannot change between none and a client secret; register a new client")
			}
			applyMetadata(cur, md)
			return nil
		})
		if errors.Is(err, ErrUnknownClient) {
			s.registrationAuthError(w, true)
			return
		} else if err != nil {
			oautherr.WriteJSON(w, registrationError(err))
			return
		}
		s.log.InfoContext(ctx, "registered client updated by itself", "client_id", id)
		writeJSONStatus(w, http.StatusOK, s.registrationResponse(updated))
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		e := oautherr.InvalidRequest("method %s is not allowed here", r.Method)
		e.Status = http.StatusMethodNotAllowed
		oautherr.WriteJSON(w, e)
	}
}

// registrationAuthError answers a missing or bad Bearer token (RFC 6750 §3,
// as RFC 7591 §3 and RFC 7592 §2 require).
func (s *Server) registrationAuthError(w http.ResponseWriter, presented bool) {
	if !presented {
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), nil))
		oautherr.WriteJSON(w, oautherr.InvalidToken("a Bearer token is required"))
		return
	}
	e := oautherr.InvalidToken("the token is invalid")
	w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(s.Issuer(), e))
	oautherr.WriteJSON(w, e)
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

func registrationTokenMatches(rec store.Client, tok string) bool {
	if !rec.Dynamic || rec.RegistrationAccessTokenHash == "" || tok == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(tok)), []byte(rec.RegistrationAccessTokenHash)) == 1
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
func checkUpdateRequest(body jsonObject, rec store.Client) *oautherr.Error {
	id, err := body.str("client_id")
	if err != nil || id != rec.ID {
		return oautherr.InvalidRequest("client_id must be sent and equal the client's id")
	}
	for _, f := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := body[f]; ok {
			return oautherr.InvalidRequest("%s must not be sent in an update", f)
		}
	}
	secret, err := body.str("client_secret")
	if err != nil {
		return oautherr.InvalidClientMetadata("%v", err)
	}
	if secret != "" {
		// The client may repeat its secret, never choose a new one.
		digest := HashClientSecret(secret)
		ok := 0
		for _, h := range append(slices.Clone(rec.SecretHashes), rec.PendingSecretHash) {
			if h != "" {
				ok |= subtle.ConstantTimeCompare([]byte(digest), []byte(h))
			}
		}
		if ok != 1 {
			return oautherr.InvalidClientMetadata("client_secret: does not match the client's secret; a client cannot choose its secret")
		}
	}
	return nil
}

// registrationMetadata reads the client metadata of RFC 7591 §2 (and
// OpenID Connect Dynamic Client Registration's id_token_signed_response_alg
// and post_logout_redirect_uris). Metadata it does not know is ignored, as
// §2 requires. current is the type of the client being updated, or ""
// for a new registration.
func (s *Server) registrationMetadata(body jsonObject, current ClientType) (ClientMetadata, *oautherr.Error) {
	var md ClientMetadata
	var err error
	strFields := []struct {
		name string
		dst  *string
	}{
		{"client_name", &md.Name}, {"client_uri", &md.ClientURI}, {"logo_uri", &md.LogoURI},
		{"tos_uri", &md.TOSURI}, {"policy_uri", &md.PolicyURI}, {"software_id", &md.SoftwareID},
		{"software_version", &md.SoftwareVersion}, {"id_token_signed_response_alg", &md.IDTokenSigningAlg},
		{"token_endpoint_auth_method", &md.TokenEndpointAuthMethod},
		{"backchannel_logout_uri", &md.BackchannelLogoutURI},
	}
	for _, f := range strFields {
		if *f.dst, err = body.str(f.name); err != nil {
			return md, oautherr.InvalidClientMetadata("%v", err)
		}
	}
	listFields := []struct {
		name string
		dst  *[]string
	}{
		{"redirect_uris", &md.RedirectURIs}, {"post_logout_redirect_uris", &md.PostLogoutRedirectURIs},
		{"contacts", &md.Contacts}, {"grant_types", &md.GrantTypes},
	}
	for _, f := range listFields {
		if *f.dst, err = body.strs(f.name); err != nil {
			if f.name == "redirect_uris" {
				return md, oautherr.InvalidRedirectURI("%v", err)
			}
			return md, oautherr.InvalidClientMetadata("%v", err)
		}
	}
	responseTypes, err := body.strs("response_types")
	if err != nil {
		return md, oautherr.InvalidClientMetadata("%v", err)
	}
	scope, err := body.str("scope")
	if err != nil {
		return md, oautherr.InvalidClientMetadata("%v", err)
	}

	// The client's kind follows from how it authenticates.
	policy := s.registrar.cfg.Policy
	switch md.TokenEndpointAuthMethod {
	case "":
		// RFC 7591 §2's default is client_secret_basic. An anonymous
		// registration can only be public, so there it is none; an
		// update keeps the client's kind.
		md.TokenEndpointAuthMethod = authMethodBasic
		if (current == "" && policy == RegistrationOpen) || current.Public() {
			md.TokenEndpointAuthMethod = authMethodNone
		}
	case authMethodNone, authMethodBasic, authMethodPost:
	default:
		return md, oautherr.InvalidClientMetadata("token_endpoint_auth_method: unsupported method %q (supported: none, client_secret_basic, client_secret_post)", truncate(md.TokenEndpointAuthMethod, 64))
	}
	md.Type = ThirdParty
	if md.TokenEndpointAuthMethod == authMethodNone {
		md.Type = ThirdPartyPublic
	}
	switch {
	case current != "" && md.Type != current:
		return md, oautherr.InvalidClientMetadata("token_endpoint_auth_method: cannot change between none and a client secret; register a new client")
	case current == "" && policy == RegistrationOpen && md.Type != ThirdPartyPublic:
		return md, oautherr.InvalidClientMetadata("token_endpoint_auth_method: anonymous registration allows only public clients (none)")
	}
	// The server itself calls a back-channel logout URI, so an anonymous
	// one could aim it at internal services.
	if policy == RegistrationOpen && md.BackchannelLogoutURI != "" {
		return md, oautherr.InvalidClientMetadata("backchannel_logout_uri: is not accepted from anonymous registrations")
	}

	// Grant and response types must agree (RFC 7591 §2.1): only the
	// authorization code flow exists here, with response type code.
	if _, given := body["grant_types"]; !given {
		md.GrantTypes = []string{"authorization_code"}
	}
	if _, given := body["response_types"]; !given {
		responseTypes = []string{"code"}
	}
	for _, rt := range responseTypes {
		if rt != "code" {
			return md, oautherr.InvalidClientMetadata("response_types: unsupported response type %q (supported: code)", truncate(rt, 64))
		}
	}
	if len(responseTypes) == 0 {
		return md, oautherr.InvalidClientMetadata("response_types: must include code")
	}
	if !slices.Contains(md.GrantTypes, "authorization_code") {
		return md, oautherr.InvalidClientMetadata("grant_types: must include authorization_code, which response type code requires")
	}
	if len(md.RedirectURIs) == 0 {
		return md, oautherr.InvalidRedirectURI("redirect_uris: at least one redirect URI is required")
	}
	if scope != "" {
		scopes, ok := parseScope(scope)
		if !ok {
			return md, oautherr.InvalidClientMetadata("scope: is malformed")
		}
		md.Scopes = scopes
	}
	md.normalize()
	if err := md.validate(supportedScopes); err != nil {
		return md, registrationError(err)
	}
	return md, nil
}

// registrationError maps a management error to its RFC 7591 §3.2.2 error,
// naming fields as RFC 7591 does.
func registrationError(err error) *oautherr.Error {
	var me *MetadataError
	if !errors.As(err, &me) {
		return oautherr.From(err)
	}
	field := me.Field
	switch field {
	case "name":
		field = "client_name"
	case "scopes":
		field = "scope"
	case "redirect_uris":
		return oautherr.InvalidRedirectURI("%s: %s", field, me.Reason)
	}
	return oautherr.InvalidClientMetadata("%s: %s", field, me.Reason)
}

// registrationResponse is the client information response (RFC 7591
// §3.2.1, RFC 7592 §3). The registration access token and the secret are
// added only when they are issued: just their hashes are kept.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
	IDTokenSignedAlg        string   `json:"id_token_signed_response_alg,omitempty"`
}

func (s *Server) registrationResponse(rec store.Client) *registrationResponse {
	scopes := rec.Scopes
	if len(scopes) == 0 {
		scopes = supportedScopes
	}
	grantTypes := rec.GrantTypes
	if len(grantTypes) == 0 {
		grantTypes = []string{"authorization_code", "refresh_token"}
	}
	resp := &registrationResponse{
		ClientID:                rec.ID,
		ClientIDIssuedAt:        rec.CreatedAt.Unix(),
		RegistrationClientURI:   s.endpoint("/register") + "?" + url.Values{"client_id": {rec.ID}}.Encode(),
		ClientName:              rec.Name,
		RedirectURIs:            rec.RedirectURIs,
		PostLogoutRedirectURIs:  rec.PostLogoutRedirectURIs,
		BackchannelLogoutURI:    rec.BackchannelLogoutURI,
		GrantTypes:              grantTypes,
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: rec.TokenEndpointAuthMethod,
		Scope:                   joinScopes(scopes),
		ClientURI:               rec.ClientURI, LogoURI: rec.LogoURI, TOSURI: rec.TOSURI, PolicyURI: rec.PolicyURI,
		Contacts: rec.Contacts, SoftwareID: rec.SoftwareID, SoftwareVersion: rec.SoftwareVersion,
		IDTokenSignedAlg: rec.IDTokenSigningAlg,
	}
	if !ClientType(rec.Type).Public() {
		never := int64(0) // RFC 7591 §3.2.1: 0 means the secret does not expire
		resp.ClientSecretExpiresAt = &never
	}
	return resp
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonObject is a request body's top-level members, decoded lazily so each
// field's type can be checked and reported by name.
type jsonObject map[string]json.RawMessage

// readJSONObject reads an application/json body holding one JSON object,
// within maxFormBytes.
func readJSONObject(w http.ResponseWriter, r *http.Request) (jsonObject, *oautherr.Error) {
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
	var obj jsonObject
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, oautherr.InvalidClientMetadata("the request body must be one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, oautherr.InvalidClientMetadata("the request body must be one JSON object")
	}
	return obj, nil
}

// str returns the string member name: "" when absent or null.
func (o jsonObject) str(name string) (string, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%s: must be a string", name)
	}
	return v, nil
}

// strs returns the string array member name: nil when absent or null.
func (o jsonObject) strs(name string) ([]string, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: must be an array of strings", name)
	}
	return v, nil
}

// rateLimitKey counts an IPv6 address by its /64, the block one host
// usually controls, and anything else as it is.
func rateLimitKey(addr string) string {
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return addr
}

// rateLimiter is a token bucket per key. It holds at most maxBuckets keys;
// when full of active keys it refuses new ones, so a flood from many
// addresses pauses registration instead of exhausting memory.
type rateLimiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 10000

func newRateLimiter(burst int, interval time.Duration) *rateLimiter {
	return &rateLimiter{burst: float64(burst), interval: interval, buckets: map[string]*bucket{}}
}

// take spends one token of key's bucket; when there is none it reports how
// long until there will be.
func (l *rateLimiter) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.pruneLocked(now)
			if len(l.buckets) >= maxBuckets {
				return false, l.interval
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.interval))
	}
	b.tokens--
	return true, 0
}

func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.interval))
		b.last = now
	}
}

// pruneLocked forgets buckets that have refilled: they hold nothing a new
// bucket would not.
func (l *rateLimiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
