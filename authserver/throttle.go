package authserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// Brute-force defence at the login form (login.go, device.go) and at
// client authentication (token.go). Package throttle counts failures and
// decides who waits; this file builds its Guards from the Config and
// turns a wait into an answer: 429 Too Many Requests with Retry-After
// (RFC 6585 §4), the password or secret unchecked.
//
// The counters live in memory, in Config.ThrottleState: one per instance,
// kept across config reloads when the host passes the same State (Caddy
// does); see SECURITY.md for what that means behind a load balancer.

// humanWait says how long to wait, for people, from the message catalog.
func humanWait(d time.Duration) string {
	switch {
	case d <= time.Minute:
		n := int((d + time.Second - 1) / time.Second)
		if n <= 1 {
			return ui.Message("login.error.wait_second")
		}
		return ui.Message("login.error.wait_seconds", n)
	case d <= 2*time.Hour:
		return ui.Message("login.error.wait_minutes", int((d+time.Minute-1)/time.Minute))
	default:
		return ui.Message("login.error.wait_hours", int((d+time.Hour-1)/time.Hour))
	}
}

// newThrottles builds the login and client authentication defences over
// the configured state, which the host may keep across config reloads.
func (s *Server) newThrottles() error {
	login, err := s.cfg.LoginThrottle.WithDefaults(throttle.DefaultLogin())
	if err != nil {
		return fmt.Errorf("authserver: login throttle: %w", err)
	}
	client, err := s.cfg.ClientThrottle.WithDefaults(throttle.DefaultClientAuth())
	if err != nil {
		return fmt.Errorf("authserver: client authentication throttle: %w", err)
	}
	full := func(name string) func(string) {
		return func(table string) {
			s.log.Warn("the " + name + " throttle is full of live counters; new " + table + " keys go uncounted for now")
		}
	}
	s.logins = throttle.NewGuard(login, s.cfg.ThrottleState.Logins(), full("login"))
	s.clientAuths = throttle.NewGuard(client, s.cfg.ThrottleState.ClientAuths(), full("client authentication"))
	return nil
}

// loginSubject is the throttle key of a login attempt: the account when
// the username is known, else the name as typed (normalised), so unknown
// names are throttled exactly like real ones and a lock reveals nothing.
func loginSubject(username string, u *identity.User, known bool) string {
	if known && u != nil {
		return throttle.AccountKey(u.ID)
	}
	return throttle.UsernameKey(username)
}

// throttledLogin answers a login attempt that must wait: 429 with
// Retry-After (RFC 6585 §4), and the login form saying how long. The
// password was not checked.
func (s *Server) throttledLogin(w http.ResponseWriter, r *http.Request, sealed string, ar *authRequest, client *clients.Client, username string, wait time.Duration) {
	s.emitFrom(r, Event{Type: EventLogin, Result: "throttled", Method: "password", Username: username, ClientID: clientIDOf(client)})
	s.emitFrom(r, Event{Type: EventThrottled, Kind: "login", Username: username, ClientID: clientIDOf(client)})
	s.log.InfoContext(r.Context(), "login throttled", "username", username, "client_ip", ClientIP(r), "retry_after", throttle.RetryAfter(wait))
	w.Header().Set("Retry-After", throttle.RetryAfter(wait))
	s.renderLogin(w, r, sealed, ar, client, username, ui.Message("login.error.throttled", humanWait(wait)), http.StatusTooManyRequests)
}

// logLoginLock notes a lock the failure just caused. trusted: the attempt
// was counted on a device cookie, not on the account.
func (s *Server) logLoginLock(r *http.Request, username string, trusted, lockedSubject, lockedIP bool) {
	switch {
	case lockedSubject && trusted:
		s.log.WarnContext(r.Context(), "too many failed logins from a trusted device; it is throttled like any browser until its lock ends",
			"username", username, "lockout", s.logins.Policy().Lockout.String())
	case lockedSubject:
		s.log.WarnContext(r.Context(), "too many failed logins; account locked", "username", username, "lockout", s.logins.Policy().Lockout.String())
	}
	if lockedIP {
		s.log.WarnContext(r.Context(), "too many failed logins; address locked", "client_ip", ClientIP(r), "lockout", s.logins.Policy().Lockout.String())
	}
}

// errClientThrottled is the answer to client authentication that must
// wait. RFC 6749 has no throttling error: 429 with Retry-After (RFC 6585
// §4) tells any HTTP client to come back later, and
// temporarily_unavailable is the closest registered code. invalid_client
// would tell a client holding the right secret that it is wrong.
func errClientThrottled(w http.ResponseWriter, wait time.Duration) *oautherr.Error {
	w.Header().Set("Retry-After", throttle.RetryAfter(wait))
	e := oautherr.TemporarilyUnavailable("too many failed client authentications; try again in %s", humanWait(wait))
	e.Status = http.StatusTooManyRequests
	return e
}

// busyRetryAfter is the Retry-After of a "busy, retry" answer: the
// hasher's queue is about a second long.
const busyRetryAfter = "1"

// errHashingBusy answers client authentication that found password
// hashing saturated (identity.ErrBusy): 503 with Retry-After (RFC 9110
// §15.6.4), temporarily_unavailable, the secret unchecked and nothing
// counted against the client.
func errHashingBusy(w http.ResponseWriter) *oautherr.Error {
	w.Header().Set("Retry-After", busyRetryAfter)
	e := oautherr.TemporarilyUnavailable("the server is busy; try again in a second")
	e.Status = http.StatusServiceUnavailable
	return e
}

// busyLogin answers a login attempt that found password hashing
// saturated by a storm of attempts (identity.ErrBusy): 503 with
// Retry-After (RFC 9110 §15.6.4) and the form again, the password
// unchecked and the attempt not counted. Refusing costs far less than
// the hash, which is what keeps a login storm from starving the gate.
func (s *Server) busyLogin(w http.ResponseWriter, r *http.Request, sealed string, ar *authRequest, client *clients.Client, username string) {
	s.emitFrom(r, Event{Type: EventLogin, Result: "busy", Method: "password", Username: username, ClientID: clientIDOf(client)})
	s.log.InfoContext(r.Context(), "login refused: password hashing busy", "client_ip", ClientIP(r))
	w.Header().Set("Retry-After", busyRetryAfter)
	s.renderLogin(w, r, sealed, ar, client, username, ui.Message("login.error.busy"), http.StatusServiceUnavailable)
}
