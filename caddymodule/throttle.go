package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// throttleStates keeps what the brute-force defences and the registration
// limit remember (throttle.State) across config reloads. Each config load
// provisions a new App, and so a new authserver.Server; had each its own
// counters, every reload would lift every lock and hand an attacker a
// fresh budget of guesses.
//
// The key is the issuer alone, not the throttle settings: the counters
// record failures, and whichever settings a Server has apply to them. So
// changing login_throttle keeps what was counted and the locks already
// imposed (they run their course), and the new settings decide from the
// next attempt on; the configuration being replaced keeps its own
// settings until it stops, and a reload that fails changes nothing. A
// state is dropped when no loaded configuration uses its issuer any
// more: when Caddy stops, or after the issuer changed.
var throttleStates = caddy.NewUsagePool()

type pooledThrottleState struct{ *throttle.State }

// Destruct has nothing to release: the state is memory only.
func (pooledThrottleState) Destruct() error { return nil }

// throttleState returns issuer's shared state and holds it for a until
// releaseThrottleState.
func (a *App) throttleState(issuer string) *throttle.State {
	val, _, _ := throttleStates.LoadOrNew(issuer, func() (caddy.Destructor, error) {
		return pooledThrottleState{throttle.NewState()}, nil
	})
	a.throttleKey = issuer
	return val.(pooledThrottleState).State
}

// releaseThrottleState lets go of a's hold on its issuer's state; once.
func (a *App) releaseThrottleState() {
	if a.throttleKey != "" {
		_, _ = throttleStates.Delete(a.throttleKey) // Destruct cannot fail
		a.throttleKey = ""
	}
}

// ThrottleConfig configures a brute-force defence: the login form's
// (login_throttle) or client authentication's at the token, introspection
// and revocation endpoints (client_auth_throttle). Failures are counted
// per account (or per client, for clients whose secret an operator chose)
// and per client IP as Caddy determined it, so set trusted_proxies behind
// a proxy. On by default; zero values take the defaults. What is counted
// outlives config reloads, settings changes included (throttleStates).
type ThrottleConfig struct {
	// Off disables the defence.
	Off bool `json:"off,omitempty"`
	// MaxFailures per account (client) before it is locked. Default 10.
	MaxFailures int `json:"max_failures,omitempty"`
	// MaxFailuresPerIP from one client IP (an IPv6 /64), across accounts
	// (clients), before the address is locked. Default 100.
	MaxFailuresPerIP int `json:"max_failures_per_ip,omitempty"`
	// Lockout is the first lock's length; every further failure doubles
	// it, up to a day. Failures are forgotten after a quiet Lockout.
	// Default 5m.
	Lockout caddy.Duration `json:"lockout,omitempty"`
	// Backoff is the wait after an account's second failure, doubling
	// with each further one until the lock. Default 1s for logins, none
	// for clients; negative means none.
	Backoff caddy.Duration `json:"backoff,omitempty"`
}

// policy is the core's form of c; zero fields take the core's defaults.
func (c *ThrottleConfig) policy() throttle.Policy {
	if c == nil {
		return throttle.Policy{}
	}
	return throttle.Policy{
		Off:              c.Off,
		MaxFailures:      c.MaxFailures,
		MaxFailuresPerIP: c.MaxFailuresPerIP,
		Lockout:          time.Duration(c.Lockout),
		Backoff:          time.Duration(c.Backoff),
	}
}

// parseThrottle parses
//
//	login_throttle|client_auth_throttle off
//	login_throttle|client_auth_throttle {
//		max_failures <n>
//		max_failures_per_ip <n>
//		lockout <duration>
//		backoff <duration>|off
//	}
func parseThrottle(d *caddyfile.Dispenser) (*ThrottleConfig, error) {
	name := d.Val()
	c := new(ThrottleConfig)
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Errf("%s: expected off or a block", name)
		}
		c.Off = true
		if d.NextBlock(d.Nesting()) {
			return nil, d.Errf("%s off: takes no block", name)
		}
		return c, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch key := d.Val(); key {
		case "max_failures":
			err = positiveIntArg(d, &c.MaxFailures)
		case "max_failures_per_ip":
			err = positiveIntArg(d, &c.MaxFailuresPerIP)
		case "lockout":
			err = durationArg(d, &c.Lockout)
		case "backoff":
			var v string
			if err = oneArg(d, &v); err != nil {
				break
			}
			if v == "off" {
				c.Backoff = -1
				break
			}
			dur, perr := caddy.ParseDuration(v)
			if perr != nil || dur <= 0 {
				err = d.Errf("backoff: expected a positive duration or off, got %q", v)
				break
			}
			c.Backoff = caddy.Duration(dur)
		default:
			err = d.Errf("%s: unknown option %q", name, key)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func positiveIntArg(d *caddyfile.Dispenser, dst *int) error {
	key := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return d.Errf("%s: expected a positive whole number, got %q", key, s)
	}
	*dst = n
	return nil
}

// Interface guards
var _ caddy.Destructor = pooledThrottleState{}
