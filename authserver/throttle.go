package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// Throttle configures one brute-force defence: failed attempts are counted
// per subject (an account at the login form, a client at client
// authentication) and per client IP address (an IPv6 /64 counts as one
// address), and a subject or address that keeps failing is made to wait.
//
// For a subject: the first failure costs nothing (typos happen); from the
// second on, the next attempt must wait Backoff, then twice that, and so
// on; at MaxFailures the subject is locked for Lockout, and every further
// failure doubles the lock (up to a day, or Lockout if longer). An
// address gets no back-off, only the lock at MaxFailuresPerIP, because
// many people may share it. Failures are forgotten once Lockout has passed
// without a failure and without a lock. An attempt refused while waiting
// is not checked at all, so it tells nothing about the password.
//
// A success resets its subject, never its address: otherwise an attacker
// with one account could sign into it between guesses at others.
//
// At the login form, a browser presenting a valid device cookie for the
// account (device.go) is counted on that cookie as its subject, and not
// on the account or its address, until the cookie's own counter locks.
//
// The counters live in memory, per Server (one per instance and config
// load); see SECURITY.md for what that means behind a load balancer.
type Throttle struct {
	// Off disables the defence.
	Off bool
	// MaxFailures per subject before it is locked.
	MaxFailures int
	// MaxFailuresPerIP from one address, across subjects, before the
	// address is locked.
	MaxFailuresPerIP int
	// Lockout is the first lock's length and how long failures are
	// remembered.
	Lockout time.Duration
	// Backoff is the wait after the second failure of a subject, doubling
	// with each further one until MaxFailures. Negative: no back-off.
	Backoff time.Duration
}

// Defaults of the two throttles; see Config.LoginThrottle and
// Config.ClientThrottle.
var (
	// The doubling back-off already holds an account to about ten guesses
	// in its first four minutes, so the lock itself can be short: a long
	// one mostly helps whoever wants to lock a user out.
	DefaultLoginThrottle  = Throttle{MaxFailures: 10, MaxFailuresPerIP: 100, Lockout: 5 * time.Minute, Backoff: time.Second}
	DefaultClientThrottle = Throttle{MaxFailures: 10, MaxFailuresPerIP: 100, Lockout: 5 * time.Minute, Backoff: -1}
)

// withDefaults fills zero fields from def and checks the result.
func (t Throttle) withDefaults(def Throttle) (Throttle, error) {
	if t.MaxFailures < 0 || t.MaxFailuresPerIP < 0 || t.Lockout < 0 {
		return t, errors.New("max_failures, max_failures_per_ip and lockout must not be negative")
	}
	if t.MaxFailures == 0 {
		t.MaxFailures = def.MaxFailures
	}
	if t.MaxFailuresPerIP == 0 {
		t.MaxFailuresPerIP = def.MaxFailuresPerIP
	}
	if t.Lockout == 0 {
		t.Lockout = def.Lockout
	}
	if t.Backoff == 0 {
		t.Backoff = def.Backoff
	}
	if t.Lockout < time.Second {
		return t, fmt.Errorf("lockout %v is shorter than a second", t.Lockout)
	}
	if t.Backoff > t.Lockout {
		return t, fmt.Errorf("backoff %v is longer than the lockout %v", t.Backoff, t.Lockout)
	}
	return t, nil
}

// maxThrottleEntries bounds each counter table. Failed logins cost an
// argon2id hash each, which caps how fast an attacker can fill the
// tables; when one is full of live counters anyway, new keys go
// uncounted (and a warning is logged) rather than memory growing.
const maxThrottleEntries = 100_000

// maxLock caps the escalating lock, unless Lockout itself is longer.
const maxLock = 24 * time.Hour

// throttle is the run-time state of one Throttle.
type throttle struct {
	cfg      Throttle
	mu       sync.Mutex
	subjects map[string]*failures
	ips      map[string]*failures
	// full is called (outside the lock, at most once a minute) when a
	// table refuses a new key.
	full     func(table string)
	lastFull atomic.Int64 // unix seconds
}

type failures struct {
	n        int       // failures remembered
	last     time.Time // of the last failure
	until    time.Time // attempts wait until then
	inflight int       // admitted attempts not yet done
}

// forgotten reports whether f's failures are old enough to drop.
func (f *failures) forgotten(now time.Time, lockout time.Duration) bool {
	end := f.last
	if f.until.After(end) {
		end = f.until
	}
	return !now.Before(end.Add(lockout))
}

func newThrottle(cfg Throttle, full func(table string)) *throttle {
	return &throttle{cfg: cfg, subjects: map[string]*failures{}, ips: map[string]*failures{}, full: full}
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	// attemptAbandoned: nothing was learnt (the client went away, the
	// server failed); only the reservation is released.
	attemptAbandoned outcome = iota
	attemptFailed
	attemptSucceeded
)

// admit reserves an attempt for subject and ip (either may be "": not
// counted). When one of them must wait it returns false and how long.
// Every admitted attempt must be finished with done.
//
// Attempts in flight count as failures-to-be, so a burst of parallel
// guesses cannot outrun the counters: at most MaxFailures attempts of a
// subject are ever in flight, and once it has reached MaxFailures one at
// a time.
func (t *throttle) admit(subject, ip string, now time.Time) (bool, time.Duration) {
	if t == nil || t.cfg.Off {
		return true, 0
	}
	ip = ipKey(ip)
	t.mu.Lock()
	var refused []string
	wait := max(t.wait(t.subjects, subject, t.cfg.MaxFailures, now), t.wait(t.ips, ip, t.cfg.MaxFailuresPerIP, now))
	if wait == 0 {
		if !t.reserve(t.subjects, subject, now) {
			refused = append(refused, "subject")
		}
		if !t.reserve(t.ips, ip, now) {
			refused = append(refused, "address")
		}
	}
	t.mu.Unlock()
	if len(refused) > 0 && t.full != nil {
		if last := t.lastFull.Load(); now.Unix()-last >= 60 && t.lastFull.CompareAndSwap(last, now.Unix()) {
			t.full(strings.Join(refused, " and "))
		}
	}
	return wait == 0, wait
}

// exempts reports whether a trusted device (device.go) still earns its
// exemption from the account and address counters: it does unless its own
// counter is locked, having reached MaxFailures, and the lock has not
// ended. A device that is only backing off keeps the exemption and waits
// out its own back-off (admit tells how long).
func (t *throttle) exempts(device string, now time.Time) bool {
	if device == "" {
		return false
	}
	if t == nil || t.cfg.Off {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.subjects[device]
	return f == nil || f.n < t.cfg.MaxFailures || !now.Before(f.until)
}

// wait is how long key must wait before its next attempt.
func (t *throttle) wait(table map[string]*failures, key string, limit int, now time.Time) time.Duration {
	if key == "" {
		return 0
	}
	f := table[key]
	if f == nil {
		return 0
	}
	if f.n > 0 && f.inflight == 0 && f.forgotten(now, t.cfg.Lockout) {
		delete(table, key)
		return 0
	}
	if now.Before(f.until) {
		return f.until.Sub(now)
	}
	if f.inflight > 0 && f.n+f.inflight >= limit {
		return time.Second // busy: other attempts are still being checked
	}
	return 0
}

// reserve counts one attempt in flight for key; false when the table is
// full and key goes uncounted.
func (t *throttle) reserve(table map[string]*failures, key string, now time.Time) bool {
	if key == "" {
		return true
	}
	f := table[key]
	if f == nil {
		if len(table) >= maxThrottleEntries {
			for k, e := range table {
				if e.inflight == 0 && e.forgotten(now, t.cfg.Lockout) {
					delete(table, k)
				}
			}
			if len(table) >= maxThrottleEntries {
				return false
			}
		}
		f = &failures{}
		table[key] = f
	}
	f.inflight++
	return true
}

// done records the outcome of an attempt admit let through. It reports
// whether this failure locked the subject or the address, for the logs.
func (t *throttle) done(subject, ip string, o outcome, now time.Time) (lockedSubject, lockedIP bool) {
	if t == nil || t.cfg.Off {
		return false, false
	}
	ip = ipKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	lockedSubject = t.finish(t.subjects, subject, o, t.cfg.MaxFailures, t.cfg.Backoff, now)
	lockedIP = t.finish(t.ips, ip, o, t.cfg.MaxFailuresPerIP, -1, now)
	if o == attemptSucceeded && subject != "" {
		if f := t.subjects[subject]; f != nil {
			f.n, f.until = 0, time.Time{}
		}
	}
	for _, k := range [...]struct {
		m   map[string]*failures
		key string
	}{{t.subjects, subject}, {t.ips, ip}} {
		if f := k.m[k.key]; f != nil && f.n == 0 && f.inflight == 0 {
			delete(k.m, k.key)
		}
	}
	return lockedSubject, lockedIP
}

func (t *throttle) finish(table map[string]*failures, key string, o outcome, limit int, backoff time.Duration, now time.Time) bool {
	f := table[key]
	if key == "" || f == nil {
		return false // not counted (table full)
	}
	if f.inflight > 0 {
		f.inflight--
	}
	if o != attemptFailed {
		return false
	}
	if f.n > 0 && f.forgotten(now, t.cfg.Lockout) {
		f.n = 0
	}
	f.n++
	f.last = now
	var block time.Duration
	switch {
	case f.n >= limit:
		block = t.cfg.Lockout << min(f.n-limit, 20)
		if ceiling := max(maxLock, t.cfg.Lockout); block > ceiling || block <= 0 {
			block = ceiling
		}
	case backoff > 0 && f.n >= 2:
		block = min(backoff<<min(f.n-2, 20), t.cfg.Lockout)
	}
	if until := now.Add(block); until.After(f.until) {
		f.until = until
	}
	return f.n == limit
}

// ipKey groups an IPv6 address by its /64, the block one host usually
// controls.
func ipKey(ip string) string {
	if ip == "" {
		return ""
	}
	return rateLimitKey(ip)
}

// retryAfter is the Retry-After header value (RFC 9110 §10.2.3) for a
// wait: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

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

func (s *Server) newThrottles() error {
	login, err := s.cfg.LoginThrottle.withDefaults(DefaultLoginThrottle)
	if err != nil {
		return fmt.Errorf("authserver: login throttle: %w", err)
	}
	client, err := s.cfg.ClientThrottle.withDefaults(DefaultClientThrottle)
	if err != nil {
		return fmt.Errorf("authserver: client authentication throttle: %w", err)
	}
	full := func(name string) func(string) {
		return func(table string) {
			s.log.Warn("the " + name + " throttle is full of live counters; new " + table + " keys go uncounted for now")
		}
	}
	s.logins = newThrottle(login, full("login"))
	s.clientAuths = newThrottle(client, full("client authentication"))
	return nil
}

// loginSubject is the throttle key of a login attempt: the account when
// the username is known, else the name as typed (normalised), so unknown
// names are throttled exactly like real ones and a lock reveals nothing.
func loginSubject(username string, u *identity.User, known bool) string {
	if known && u != nil {
		return "user:" + u.ID
	}
	return "name:" + strings.ToLower(strings.TrimSpace(username))
}

// throttledLogin answers a login attempt that must wait: 429 with
// Retry-After (RFC 6585 §4), and the login form saying how long. The
// password was not checked.
func (s *Server) throttledLogin(w http.ResponseWriter, r *http.Request, sealed string, ar *authRequest, client *clients.Client, username string, wait time.Duration) {
	s.log.InfoContext(r.Context(), "login throttled", "username", username, "client_ip", ClientIP(r), "retry_after", retryAfter(wait))
	w.Header().Set("Retry-After", retryAfter(wait))
	s.renderLogin(w, r, sealed, ar, client, username, ui.Message("login.error.throttled", humanWait(wait)), http.StatusTooManyRequests)
}

// logLoginLock notes a lock the failure just caused. trusted: the attempt
// was counted on a device cookie, not on the account.
func (s *Server) logLoginLock(r *http.Request, username string, trusted, lockedSubject, lockedIP bool) {
	switch {
	case lockedSubject && trusted:
		s.log.WarnContext(r.Context(), "too many failed logins from a trusted device; it is throttled like any browser until its lock ends",
			"username", username, "lockout", s.logins.cfg.Lockout.String())
	case lockedSubject:
		s.log.WarnContext(r.Context(), "too many failed logins; account locked", "username", username, "lockout", s.logins.cfg.Lockout.String())
	}
	if lockedIP {
		s.log.WarnContext(r.Context(), "too many failed logins; address locked", "client_ip", ClientIP(r), "lockout", s.logins.cfg.Lockout.String())
	}
}

// errClientThrottled is the answer to client authentication that must
// wait. RFC 6749 has no throttling error: 429 with Retry-After (RFC 6585
// §4) tells any HTTP client to come back later, and
// temporarily_unavailable is the closest registered code. invalid_client
// would tell a client holding the right secret that it is wrong.
func errClientThrottled(w http.ResponseWriter, wait time.Duration) *oautherr.Error {
	w.Header().Set("Retry-After", retryAfter(wait))
	e := oautherr.TemporarilyUnavailable("too many failed client authentications; try again in %s", humanWait(wait))
	e.Status = http.StatusTooManyRequests
	return e
}
