package throttle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxBuckets bounds a Buckets table. When it is full of buckets still
// refilling, new addresses are refused, so a flood from many addresses
// pauses what is limited (anonymous registration) instead of exhausting
// memory.
const maxBuckets = 10_000

// Buckets is what a RateLimiter remembers: a token bucket per client
// address. Like Counters it outlives the settings of any one RateLimiter.
// Safe for concurrent use.
type Buckets struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewBuckets returns an empty table.
func NewBuckets() *Buckets { return &Buckets{m: map[string]*rate.Limiter{}} }

// RateLimiter lets each client address (an IPv6 /64 counts as one) do
// something burst times at once, then once every interval.
type RateLimiter struct {
	burst    int
	interval time.Duration
	limit    rate.Limit
	b        *Buckets
}

// NewRateLimiter returns a RateLimiter over b; nil b: buckets of its own.
// burst and interval must be positive.
func NewRateLimiter(burst int, interval time.Duration, b *Buckets) *RateLimiter {
	if b == nil {
		b = NewBuckets()
	}
	return &RateLimiter{burst: burst, interval: interval, limit: rate.Every(interval), b: b}
}

// Allow spends one token of ip's bucket. When there is none it reports
// how long until there will be, for Retry-After.
func (l *RateLimiter) Allow(ip string, now time.Time) (bool, time.Duration) {
	key := AddressKey(ip)
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	lim, ok := l.b.m[key]
	if !ok {
		if len(l.b.m) >= maxBuckets {
			l.b.pruneLocked(now)
			if len(l.b.m) >= maxBuckets {
				return false, l.interval
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.b.m[key] = lim
	} else if lim.Burst() != l.burst || lim.Limit() != l.limit {
		// Settings changed since this bucket was made: what was spent
		// stays spent, the new rate refills it from now on.
		lim.SetBurstAt(now, l.burst)
		lim.SetLimitAt(now, l.limit)
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, time.Duration((1 - lim.TokensAt(now)) * float64(l.interval))
}

// pruneLocked forgets buckets that have refilled: they hold nothing a new
// bucket would not.
func (b *Buckets) pruneLocked(now time.Time) {
	for k, lim := range b.m {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(b.m, k)
		}
	}
}
