package authserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// The device authorization grant (RFC 8628): a device without a browser
// (a TV, a command-line tool) asks /device_authorization for a device code
// and a user code; the user enters the user code at /device on a phone or
// computer (device_verification.go) and approves; meanwhile the device
// polls the token endpoint with the device code.

const (
	deviceAuthorizationPath = "/device_authorization"
	devicePath              = "/device"
	deviceCodePrefix        = "gh_dc_"
	// deviceCodeLifetime is how long the user has to approve and the
	// device to collect its tokens (RFC 8628 §3.2 expires_in).
	deviceCodeLifetime = 10 * time.Minute
	// devicePollInterval is the minimum time between polls (RFC 8628
	// §3.2 interval); slow_down adds deviceSlowDownStep, up to
	// devicePollIntervalMax.
	devicePollInterval    = 5 * time.Second
	deviceSlowDownStep    = 5 * time.Second
	devicePollIntervalMax = time.Minute
	// devicePollLeeway forgives a poll that comes a little early: a
	// client's timer and the network add jitter to a correct interval.
	devicePollLeeway = time.Second
)

// userCodeAlphabet has no vowels (no words are spelt by accident) and no
// letters easily confused with another or a digit (RFC 8628 §6.1):
// 20^8, about 2^34.6, codes of 8 letters.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
)

// newUserCode returns a random user code, shown as XXXX-XXXX.
func newUserCode() string {
	var b [userCodeLength]byte
	out := make([]byte, 0, userCodeLength+1)
	for len(out) < userCodeLength+1 {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		for _, c := range b {
			// Rejection sampling keeps every letter equally likely:
			// 240 is the largest multiple of 20 below 256.
			if c >= 240 || len(out) == userCodeLength+1 {
				continue
			}
			if len(out) == userCodeLength/2 {
				out = append(out, '-')
			}
			out = append(out, userCodeAlphabet[c%20])
		}
	}
	return string(out)
}

// normalizeUserCode reads a user code as people type it: any case, with
// or without the dash or spaces (RFC 8628 §6.1). ok is false when what is
// left is not a code of the alphabet.
func normalizeUserCode(typed string) (code string, ok bool) {
	if len(typed) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(userCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// displayUserCode formats a normalised code as XXXX-XXXX.
func displayUserCode(code string) string {
	return code[:userCodeLength/2] + "-" + code[userCodeLength/2:]
}

// deviceAuthorizationResponse is RFC 8628 §3.2.
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization is the device authorization endpoint (RFC
// 8628 §3.1). Clients authenticate as at the token endpoint (§3.1: a
// confidential client must; a public one sends its client_id).
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	fail := func(client *clients.Client, err *oautherr.Error) {
		s.clientEndpointError(w, r, "device authorization", client, err)
	}
	form, err := parseForm(w, r)
	if err != nil {
		fail(nil, formError(err))
		return
	}
	client, oerr := s.authenticateClient(w, r, form)
	if oerr != nil {
		fail(nil, oerr)
		return
	}
	if !client.AllowsGrant(clients.GrantDeviceCode) {
		fail(client, oautherr.UnauthorizedClient("this app may not use the device authorization grant"))
		return
	}
	scopes, oerr := deviceScopes(client, form.Get("scope"))
	if oerr != nil {
		fail(client, oerr)
		return
	}
	var resources []string
	if res := form["resource"]; len(res) > 0 {
		if len(res) > 8 {
			fail(client, oautherr.InvalidTarget("too many resource parameters"))
			return
		}
		if resources, oerr = normalizeResources(res); oerr != nil {
			fail(client, oerr)
			return
		}
	}
	now := s.now()
	deviceCode, deviceHash := randomToken(deviceCodePrefix)
	d := store.DeviceAuthorization{
		DeviceCodeHash: deviceHash,
		GrantID:        randomID(),
		ClientID:       client.ID,
		Scopes:         scopes,
		Resources:      resources,
		Interval:       devicePollInterval,
		CreatedAt:      now,
		ExpiresAt:      now.Add(deviceCodeLifetime),
		Status:         store.DevicePending,
	}
	// A user code may collide with a live one (2^34 codes): draw again.
	var userCode string
	for attempt := 0; ; attempt++ {
		userCode = newUserCode()
		norm, _ := normalizeUserCode(userCode)
		d.UserCodeHash = hashToken(norm)
		err = s.cfg.Store.CreateDeviceAuthorization(r.Context(), d)
		if !errors.Is(err, store.ErrAlreadyExists) || attempt == 3 {
			break
		}
	}
	if err != nil {
		fail(client, oautherr.From(err))
		return
	}
	s.log.InfoContext(r.Context(), "device authorization started", "client_id", client.ID, "scope", joinScopes(scopes))
	verify := s.endpoint(devicePath)
	h := w.Header()
	oautherr.NoStore(h)
	h.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(deviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                userCode,
		VerificationURI:         verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {userCode}}.Encode(),
		ExpiresIn:               int64(deviceCodeLifetime / time.Second),
		Interval:                int64(devicePollInterval / time.Second),
	})
}

// deviceScopes are the scopes of a device authorization request: as at
// the authorization endpoint, the default when none is asked for.
func deviceScopes(c *clients.Client, raw string) ([]string, *oautherr.Error) {
	scopes, ok := clients.ParseScope(raw)
	if !ok {
		return nil, oautherr.InvalidScope("the scope parameter is malformed")
	}
	if len(scopes) == 0 {
		scopes = slices.DeleteFunc(slices.Clone(defaultScopes), func(sc string) bool { return !c.AllowsScope(sc, supportedScopes) })
	}
	for _, sc := range scopes {
		if !c.AllowsScope(sc, supportedScopes) {
			return nil, oautherr.InvalidScope("scope %q is not allowed for this app", truncate(sc, 64))
		}
	}
	return scopes, nil
}

// grantDeviceCode is the device's poll at the token endpoint (RFC 8628
// §3.4, §3.5): authorization_pending until the user decides, slow_down
// when it polls sooner than its interval (which then grows by 5 s),
// access_denied, expired_token, and tokens exactly once.
func (s *Server) grantDeviceCode(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	raw := req.form.Get("device_code")
	if raw == "" {
		return nil, oautherr.InvalidRequest("the device_code parameter is missing")
	}
	hash := hashToken(raw)
	d, err := s.cfg.Store.GetDeviceAuthorization(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oautherr.InvalidGrant("the device code is invalid")
	} else if err != nil {
		return nil, err
	}
	if d.ClientID != req.client.ID {
		return nil, oautherr.InvalidGrant("the device code was issued to another client")
	}
	if !d.RedeemedAt.IsZero() {
		return nil, oautherr.InvalidGrant("the device code has already been used")
	}
	if !req.now.Before(d.ExpiresAt) {
		return nil, oautherr.ExpiredToken("the device code has expired; start again")
	}
	interval := d.Interval
	tooSoon := !d.LastPolledAt.IsZero() && req.now.Sub(d.LastPolledAt) < d.Interval-devicePollLeeway
	if tooSoon {
		interval = min(interval+deviceSlowDownStep, devicePollIntervalMax)
	}
	switch err := s.cfg.Store.PollDeviceAuthorization(ctx, hash, d.LastPolledAt, req.now, interval); {
	case errors.Is(err, store.ErrConflict):
		// Another poll of this code came in at the same moment.
		return nil, oautherr.SlowDown("poll at most every %d seconds", int(d.Interval/time.Second))
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.InvalidGrant("the device code is invalid")
	case err != nil:
		return nil, err
	}
	if tooSoon {
		return nil, oautherr.SlowDown("poll at most every %d seconds", int(interval/time.Second))
	}
	switch d.Status {
	case store.DevicePending:
		return nil, oautherr.AuthorizationPending("the user has not answered yet")
	case store.DeviceDenied:
		return nil, oautherr.DeviceAccessDenied("the user denied access")
	case store.DeviceApproved:
	default:
		return nil, oautherr.ServerError("device authorization in unknown state %q", d.Status)
	}
	return s.redeemDevice(ctx, req, hash, d)
}

// redeemDevice issues the tokens of an approved device authorization,
// once: the store's conditional write decides between concurrent polls.
func (s *Server) redeemDevice(ctx context.Context, req *tokenRequest, hash string, d store.DeviceAuthorization) (*tokenResponse, error) {
	user, oerr := s.grantUser(ctx, d.Subject)
	if oerr != nil {
		return nil, oerr
	}
	audience, oerr := narrowResources(d.Resources, req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}
	// The grant is the device's, not the approving browser's: signing out
	// on the phone leaves the TV signed in (its session is not recorded on
	// the grant, so logout does not revoke it).
	grant := store.Grant{
		ID: d.GrantID, ClientID: d.ClientID, Subject: d.Subject, Scopes: d.Scopes, Resources: d.Resources,
		AuthTime: d.AuthTime, CreatedAt: req.now, ExpiresAt: req.now.Add(s.accessTokenLifetime(req.client)),
	}
	var rt *store.RefreshToken
	var rawRefresh string
	if slices.Contains(d.Scopes, "offline_access") && req.client.AllowsGrant("refresh_token") {
		grant.ExpiresAt = req.now.Add(s.cfg.Lifetimes.RefreshTokenMax)
		var rtHash string
		rawRefresh, rtHash = randomToken(refreshTokenPrefix)
		rt = &store.RefreshToken{Hash: rtHash, GrantID: grant.ID, CreatedAt: req.now, ExpiresAt: s.refreshExpiry(req.client, req.now, grant)}
	}
	switch err := s.cfg.Store.RedeemDeviceAuthorization(ctx, hash, req.now, grant, rt); {
	case errors.Is(err, store.ErrCodeReused):
		return nil, oautherr.InvalidGrant("the device code has already been used")
	case errors.Is(err, store.ErrNotFound):
		return nil, oautherr.ExpiredToken("the device code has expired; start again")
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "device code redeemed", "client_id", req.client.ID, "sub", d.Subject, "grant_id", grant.ID)
	return s.issueTokens(ctx, issueParams{
		client: req.client, user: user, grant: grant, scopes: d.Scopes, audience: audience,
		refreshToken: rawRefresh, now: req.now,
	})
}
