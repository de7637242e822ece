package caddymodule

import (
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// PasswordHashingConfig bounds the CPU and memory that argon2id password
// checks may take in this process (identity.HasherLimits). The defaults
// leave one core free of hashing whatever the load, which is what keeps a
// storm of failed logins from starving the gate; operators raise them on
// machines that do little else, or lower them to protect the upstream
// apps further.
type PasswordHashingConfig struct {
	// Concurrency: hashes at once. Default max(1, GOMAXPROCS-1).
	Concurrency int `json:"concurrency,omitempty"`
	// CPUShare, in (0, 1]: the share of a hashing slot's time hashes may
	// take. Default 1, or 0.25 when Concurrency reaches GOMAXPROCS.
	CPUShare float64 `json:"cpu_share,omitempty"`
	// QueueWait: how long a check waits for a slot before the login page
	// answers "busy, try again". Default 1s.
	QueueWait caddy.Duration `json:"queue_wait,omitempty"`
	// MaxQueue: checks that may wait at once. Default 8 per slot.
	MaxQueue int `json:"max_queue,omitempty"`
}

// Limits bounds as configured, validated; nil gives the defaults.
func (c *PasswordHashingConfig) limits() (identity.HasherLimits, error) {
	if c == nil {
		return identity.HasherLimits{}, nil
	}
	switch {
	case c.Concurrency < 0 || c.Concurrency > maxHashConcurrency:
		return identity.HasherLimits{}, errorf("password_hashing: concurrency must be from 1 to %d", maxHashConcurrency)
	case c.CPUShare < 0 || c.CPUShare > 1:
		return identity.HasherLimits{}, errorf("password_hashing: cpu_share must be above 0 and at most 1")
	case c.QueueWait < 0 || time.Duration(c.QueueWait) > maxHashQueueWait:
		return identity.HasherLimits{}, errorf("password_hashing: queue_wait must be positive and at most %s", maxHashQueueWait)
	case c.MaxQueue < 0 || c.MaxQueue > maxHashQueue:
		return identity.HasherLimits{}, errorf("password_hashing: max_queue must be from 1 to %d", maxHashQueue)
	}
	return identity.HasherLimits{Concurrency: c.Concurrency, CPUShare: c.CPUShare,
		QueueWait: time.Duration(c.QueueWait), MaxQueue: c.MaxQueue}, nil
}

// Bounds on the options: beyond them a typo, not a choice. A login waits
// at most half a minute for its turn; no machine needs 256 argon2id hashes
// at once (each takes tens of MiB).
const (
	maxHashConcurrency = 256
	maxHashQueueWait   = 30 * time.Second
	maxHashQueue       = 100000
)

// processHasher bounds argon2id work across the whole process and across
// reloads: configurations with the same limits share one hasher, so a
// reload does not reset the queue. A reload that changes the limits starts
// a new one; the old one serves the old configuration until it stops.
var processHasher struct {
	sync.Mutex
	limits identity.HasherLimits
	hasher *identity.Hasher
}

// hasherFor returns the process hasher for limits as configured (zero
// fields: defaults).
func hasherFor(l identity.HasherLimits) *identity.Hasher {
	processHasher.Lock()
	defer processHasher.Unlock()
	if processHasher.hasher == nil || processHasher.limits != l {
		processHasher.hasher = identity.NewHasherWithLimits(l)
		processHasher.hasher.ObserveWaits(metrics().observeHashWait)
		processHasher.limits = l
	}
	return processHasher.hasher
}

// parsePasswordHashing reads
//
//	password_hashing {
//		concurrency <n>
//		cpu_share <fraction>
//		queue_wait <duration>
//		max_queue <n>
//	}
func parsePasswordHashing(d *caddyfile.Dispenser) (*PasswordHashingConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(PasswordHashingConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch key := d.Val(); key {
		case "concurrency":
			if err := intArg(d, &c.Concurrency); err != nil {
				return nil, err
			}
		case "max_queue":
			if err := intArg(d, &c.MaxQueue); err != nil {
				return nil, err
			}
		case "queue_wait":
			if err := durationArg(d, &c.QueueWait); err != nil {
				return nil, err
			}
		case "cpu_share":
			var s string
			if err := oneArg(d, &s); err != nil {
				return nil, err
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || !(f > 0 && f <= 1) {
				return nil, d.Errf("password_hashing: cpu_share: expected a fraction above 0 and at most 1, such as 0.5")
			}
			c.CPUShare = f
		default:
			return nil, d.Errf("password_hashing: unknown option %q (expected concurrency, cpu_share, queue_wait or max_queue)", key)
		}
	}
	if _, err := c.limits(); err != nil {
		return nil, d.Err(err.Error())
	}
	return c, nil
}
