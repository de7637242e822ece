// Package throttle is Gatehouse's defence against online guessing and
// flooding: failure counters that slow down and lock accounts, clients
// and addresses that keep failing (OWASP's "Blocking Brute Force
// Attacks"), with the device-cookie exemption against lockout abuse, and
// a token bucket per client address for anonymous client registration.
//
// What the defences remember (Counters, Buckets, grouped in a State) is
// kept apart from their settings (Policy, and a RateLimiter's rate): a
// host that rebuilds its server, as Caddy does on every config reload,
// hands the same State to the new server, which applies its own settings
// to it: a reload lifts no lock, and changed settings apply from the next
// attempt on while locks already imposed run their course.
//
// The package knows HTTP only as far as the Retry-After header; the
// answers themselves (429 pages and OAuth errors) are the server's.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Policy configures one brute-force defence: failed attempts are counted
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
type Policy struct {
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

// DefaultLogin is the login form's policy. The doubling back-off already
// holds an account to about ten guesses in its first four minutes, so the
// lock itself can be short: a long one mostly helps whoever wants to lock
// a user out.
func DefaultLogin() Policy {
	return Policy{MaxFailures: 10, MaxFailuresPerIP: 100, Lockout: 5 * time.Minute, Backoff: time.Second}
}

// DefaultClientAuth is client authentication's policy. No back-off:
// clients retry mechanically, and only operator-chosen secrets are
// counted per client at all.
func DefaultClientAuth() Policy {
	return Policy{MaxFailures: 10, MaxFailuresPerIP: 100, Lockout: 5 * time.Minute, Backoff: -1}
}

// WithDefaults fills p's zero fields from def and checks the result.
func (p Policy) WithDefaults(def Policy) (Policy, error) {
	if p.MaxFailures < 0 || p.MaxFailuresPerIP < 0 || p.Lockout < 0 {
		return p, errors.New("max_failures, max_failures_per_ip and lockout must not be negative")
	}
	if p.MaxFailures == 0 {
		p.MaxFailures = def.MaxFailures
	}
	if p.MaxFailuresPerIP == 0 {
		p.MaxFailuresPerIP = def.MaxFailuresPerIP
	}
	if p.Lockout == 0 {
		p.Lockout = def.Lockout
	}
	if p.Backoff == 0 {
		p.Backoff = def.Backoff
	}
	if p.Lockout < time.Second {
		return p, fmt.Errorf("lockout %v is shorter than a second", p.Lockout)
	}
	if p.Backoff > p.Lockout {
		return p, fmt.Errorf("backoff %v is longer than the lockout %v", p.Backoff, p.Lockout)
	}
	return p, nil
}

// maxEntries bounds each counter table. Failed logins cost an argon2id
// hash each, which caps how fast an attacker can fill the tables; when
// one is full of live counters anyway, new keys go uncounted (and the
// Guard's onFull is told) rather than memory growing.
const maxEntries = 100_000

// maxLock caps the escalating lock, unless Lockout itself is longer.
const maxLock = 24 * time.Hour

// Counters is what one defence remembers: failures per subject and per
// address. It holds no settings, so Guards with different Policies (an
// old and a new configuration during a reload) can share it. Safe for
// concurrent use.
type Counters struct {
	mu       sync.Mutex
	subjects map[string]*failures
	ips      map[string]*failures
	// freed is closed (and replaced) whenever an attempt is done, waking
	// AdmitWait callers that wait for a slot in flight.
	freed chan struct{}
}

// NewCounters returns empty counters.
func NewCounters() *Counters {
	return &Counters{subjects: map[string]*failures{}, ips: map[string]*failures{}, freed: make(chan struct{})}
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

// Guard applies a Policy to Counters. The zero Policy's fields are not
// defaults here: pass one completed by WithDefaults. A nil *Guard admits
// everything.
type Guard struct {
	policy Policy
	c      *Counters
	// onFull is called (outside the lock, at most once a minute per
	// Guard) when a table refuses a new key.
	onFull   func(table string)
	lastFull atomic.Int64 // unix seconds
}

// NewGuard returns a Guard applying p to c; nil c: counters of its own.
// onFull, if not nil, hears when a table is full of live counters, so the
// host can log it; table is "subject", "address" or both.
func NewGuard(p Policy, c *Counters, onFull func(table string)) *Guard {
	if c == nil {
		c = NewCounters()
	}
	return &Guard{policy: p, c: c, onFull: onFull}
}

// Policy returns the policy g applies.
func (g *Guard) Policy() Policy { return g.policy }

// Outcome is how an admitted attempt ended.
type Outcome int

const (
	// Abandoned: nothing was learnt (the client went away, the server
	// failed); only the reservation is released.
	Abandoned Outcome = iota
	// Failed: a wrong password or secret, or an unknown name.
	Failed
	// Succeeded: the credentials were right; the subject starts over.
	Succeeded
)

// Admit reserves an attempt for subject and ip (either may be "": not
// counted). When one of them must wait it returns false and how long.
// Every admitted attempt must be finished with Done.
//
// Attempts in flight count as failures-to-be, so a burst of parallel
// guesses cannot outrun the counters: at most MaxFailures attempts of a
// subject are ever in flight, and once it has reached MaxFailures one at
// a time.
//
// Admit does not wait: an attempt refused only because others are still
// in flight is told to come back in a second. Callers that can wait use
// AdmitWait, so that concurrent correct attempts are never refused.
func (g *Guard) Admit(subject, ip string, now time.Time) (bool, time.Duration) {
	ok, wait, _ := g.admit(subject, ip, now)
	return ok, wait
}

// MaxBusyWait bounds how long AdmitWait waits for attempts in flight.
const MaxBusyWait = 5 * time.Second

// AdmitWait is Admit for a caller that can wait. Only failures refuse:
// an attempt that would exceed the in-flight bound (attempts in flight
// count as failures-to-be) waits until one of them is done and then
// asks again, so a burst of concurrent correct attempts is checked a few
// at a time and every one is admitted, while a burst of guesses still
// locks the subject after MaxFailures checks and the rest are refused
// unchecked. It gives up, refusing, after MaxBusyWait or when ctx ends.
// clock is read again after each wait.
func (g *Guard) AdmitWait(ctx context.Context, subject, ip string, clock func() time.Time) (bool, time.Duration) {
	var timeout <-chan time.Time
	for {
		ok, wait, freed := g.admit(subject, ip, clock())
		if ok || freed == nil {
			return ok, wait
		}
		if timeout == nil {
			t := time.NewTimer(MaxBusyWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false, wait
		case <-timeout:
			return false, wait
		}
	}
}

// admit is Admit; when the only reason to refuse is attempts in flight
// it also returns the channel that is closed when one of them is done.
func (g *Guard) admit(subject, ip string, now time.Time) (bool, time.Duration, <-chan struct{}) {
	if g == nil || g.policy.Off {
		return true, 0, nil
	}
	ip = AddressKey(ip)
	c := g.c
	c.mu.Lock()
	var refused []string
	subjectWait, subjectBusy := g.wait(c.subjects, subject, g.policy.MaxFailures, now)
	ipWait, ipBusy := g.wait(c.ips, ip, g.policy.MaxFailuresPerIP, now)
	wait := max(subjectWait, ipWait)
	var freed <-chan struct{}
	if wait > 0 && (subjectBusy || subjectWait == 0) && (ipBusy || ipWait == 0) {
		freed = c.freed
	}
	if wait == 0 {
		if !g.reserve(c.subjects, subject, now) {
			refused = append(refused, "subject")
		}
		if !g.reserve(c.ips, ip, now) {
			refused = append(refused, "address")
		}
	}
	c.mu.Unlock()
	if len(refused) > 0 && g.onFull != nil {
		if last := g.lastFull.Load(); now.Unix()-last >= 60 && g.lastFull.CompareAndSwap(last, now.Unix()) {
			g.onFull(strings.Join(refused, " and "))
		}
	}
	return wait == 0, wait, freed
}

// Exempts reports whether a trusted device (a device cookie, see
// DeviceKey) still earns its exemption from the account and address
// counters: it does unless its own counter is locked, having reached
// MaxFailures, and the lock has not ended. A device that is only backing
// off keeps the exemption and waits out its own back-off (Admit tells
// how long).
//
// This is OWASP's "Slow Down Online Guessing Attacks with Device
// Cookies": anyone who knows a username can lock its account by
// guessing, but not out of a browser where its owner signed in before.
// An exempt attempt is counted on the device alone (subject device, no
// address), so a stolen cookie buys its thief at most the normal number
// of guesses.
func (g *Guard) Exempts(device string, now time.Time) bool {
	if device == "" {
		return false
	}
	if g == nil || g.policy.Off {
		return true
	}
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	f := g.c.subjects[device]
	return f == nil || f.n < g.policy.MaxFailures || !now.Before(f.until)
}

// wait is how long key must wait before its next attempt; busy: only
// because other attempts are still being checked.
func (g *Guard) wait(table map[string]*failures, key string, limit int, now time.Time) (wait time.Duration, busy bool) {
	if key == "" {
		return 0, false
	}
	f := table[key]
	if f == nil {
		return 0, false
	}
	if f.n > 0 && f.inflight == 0 && f.forgotten(now, g.policy.Lockout) {
		delete(table, key)
		return 0, false
	}
	if now.Before(f.until) {
		return f.until.Sub(now), false
	}
	if f.inflight > 0 && f.n+f.inflight >= limit {
		return time.Second, true
	}
	return 0, false
}

// reserve counts one attempt in flight for key; false when the table is
// full and key goes uncounted.
func (g *Guard) reserve(table map[string]*failures, key string, now time.Time) bool {
	if key == "" {
		return true
	}
	f := table[key]
	if f == nil {
		if len(table) >= maxEntries {
			for k, e := range table {
				if e.inflight == 0 && e.forgotten(now, g.policy.Lockout) {
					delete(table, k)
				}
			}
			if len(table) >= maxEntries {
				return false
			}
		}
		f = &failures{}
		table[key] = f
	}
	f.inflight++
	return true
}

// Done records the outcome of an attempt Admit let through. It reports
// whether this failure locked the subject or the address, for the logs.
func (g *Guard) Done(subject, ip string, o Outcome, now time.Time) (lockedSubject, lockedIP bool) {
	if g == nil || g.policy.Off {
		return false, false
	}
	ip = AddressKey(ip)
	c := g.c
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.freed)
	c.freed = make(chan struct{})
	lockedSubject = g.finish(c.subjects, subject, o, g.policy.MaxFailures, g.policy.Backoff, now)
	lockedIP = g.finish(c.ips, ip, o, g.policy.MaxFailuresPerIP, -1, now)
	if o == Succeeded && subject != "" {
		if f := c.subjects[subject]; f != nil {
			f.n, f.until = 0, time.Time{}
		}
	}
	for _, k := range [...]struct {
		m   map[string]*failures
		key string
	}{{c.subjects, subject}, {c.ips, ip}} {
		if f := k.m[k.key]; f != nil && f.n == 0 && f.inflight == 0 {
			delete(k.m, k.key)
		}
	}
	return lockedSubject, lockedIP
}

func (g *Guard) finish(table map[string]*failures, key string, o Outcome, limit int, backoff time.Duration, now time.Time) bool {
	f := table[key]
	if key == "" || f == nil {
		return false // not counted (table full)
	}
	if f.inflight > 0 {
		f.inflight--
	}
	if o != Failed {
		return false
	}
	lockout := g.policy.Lockout
	if f.n > 0 && f.forgotten(now, lockout) {
		f.n = 0
	}
	f.n++
	f.last = now
	var block time.Duration
	switch {
	case f.n >= limit:
		block = lockout << min(f.n-limit, 20)
		if ceiling := max(maxLock, lockout); block > ceiling || block <= 0 {
			block = ceiling
		}
	case backoff > 0 && f.n >= 2:
		block = min(backoff<<min(f.n-2, 20), lockout)
	}
	if until := now.Add(block); until.After(f.until) {
		f.until = until
	}
	return f.n == limit
}

// DefaultUserCode is the policy of device user code entry (RFC 8628
// §5.1): a user code has about 34 bits, so a handful of wrong codes per
// account and a few dozen per address, with a back-off, keep guessing
// a live code hopeless in its ten minutes.
func DefaultUserCode() Policy {
	return Policy{MaxFailures: 5, MaxFailuresPerIP: 30, Lockout: 5 * time.Minute, Backoff: time.Second}
}
