package authservertest

import (
	"sync"
	"time"
)

// Epoch is where every fixture's clock starts.
func Epoch() time.Time {
	return time.Date(2030, time.January, 2, 9, 0, 0, 0, time.UTC)
}

// Clock is a fixture's clock: it stands still until the test advances it.
// The server, its keys, its client registry and the revocation watcher
// all read it. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d. Time never goes back: a negative
// d panics, since it is a mistake in the test.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("authservertest: Clock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
