package gate

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// cacheKey is the SHA-256 of a credential: the cache never holds the
// credential itself.
type cacheKey [sha256.Size]byte

type cacheEntry struct {
	id      *Identity
	expires time.Time
	extra   int64 // per-kind data (the session cookie's last-seen time)
}

// verifiedCache remembers verified credentials until they expire, bounded
// in size. When full, expired entries go first, then arbitrary ones (Go's
// map order), which is enough to keep a flood of distinct tokens from
// growing memory without bound.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
	max     int
	// hits and misses count lookups, for metrics (stats.go).
	hits, misses atomic.Uint64
}

func newVerifiedCache(max int) *verifiedCache {
	if max <= 0 {
		max = 10000
	}
	return &verifiedCache{entries: make(map[cacheKey]cacheEntry, 64), max: max}
}

func (c *verifiedCache) get(k cacheKey, now time.Time) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		c.misses.Add(1)
		return cacheEntry{}, false
	}
	c.hits.Add(1)
	return e, true
}

func (c *verifiedCache) put(k cacheKey, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) < c.max*9/10 {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = e
}

func (c *verifiedCache) remove(k cacheKey) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}
