package gate

// CacheStats describe one of the gate's caches of verified credentials,
// for metrics.
type CacheStats struct {
	// Hits and Misses count lookups since the gate was built.
	Hits, Misses uint64
	// Entries is how many credentials the cache holds now; Capacity is
	// its bound.
	Entries, Capacity int
}

// TokenCacheStats describes the cache of verified Bearer tokens.
func (g *Gate) TokenCacheStats() CacheStats { return g.tokens.stats() }

// SessionCacheStats describes the cache of decoded session cookies.
func (g *Gate) SessionCacheStats() CacheStats { return g.sessions.stats() }

func (c *verifiedCache) stats() CacheStats {
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n, Capacity: c.max}
}
