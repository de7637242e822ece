// Package revocation keeps an in-memory view of revoked grants and
// sessions, fed by polling the store's revocation feed, so hot paths (the
// gate) learn of a revocation within one poll interval without a store
// round trip per request.
package revocation

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// DefaultInterval is how often the feed is polled: the bound on how long a
// revocation made on another instance can go unnoticed.
const DefaultInterval = 5 * time.Second

// pageSize bounds one read of the feed.
const pageSize = 1000

// overlap re-reads a margin of the feed each poll, so revocations stamped
// by an instance whose clock runs a little behind are not missed. Entries
// are idempotent, so reading one twice is harmless.
const overlap = 30 * time.Second

type key struct {
	kind store.RevocationKind
	id   string
}

// Watcher tracks revocations. It is safe for concurrent use.
type Watcher struct {
	store    store.Store
	interval time.Duration
	now      func() time.Time

	mu      sync.RWMutex
	revoked map[key]time.Time // until when the entry matters
	cursor  time.Time         // latest RevokedAt seen
	synced  time.Time         // when the last poll succeeded
}

// New returns a Watcher over st. Call Poll once before relying on it, and
// then every Interval to keep it current (authserver.Server.Run does, given
// the Watcher in its Config).
func New(st store.Store, interval time.Duration, now func() time.Time) *Watcher {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if now == nil {
		now = time.Now
	}
	return &Watcher{store: st, interval: interval, now: now, revoked: map[key]time.Time{}}
}

// Interval is the polling interval, the staleness bound.
func (w *Watcher) Interval() time.Duration { return w.interval }

// Revoked reports whether the grant or session with that id is known to
// be revoked.
func (w *Watcher) Revoked(kind store.RevocationKind, id string) bool {
	if id == "" {
		return false
	}
	w.mu.RLock()
	_, ok := w.revoked[key{kind, id}]
	w.mu.RUnlock()
	return ok
}

// Add records a revocation made by this process at once, without waiting
// for the next poll.
func (w *Watcher) Add(kind store.RevocationKind, id string, expiresAt time.Time) {
	w.mu.Lock()
	w.revoked[key{kind, id}] = expiresAt
	w.mu.Unlock()
}

// Poll reads the feed from the cursor on and prunes expired entries.
func (w *Watcher) Poll(ctx context.Context) error {
	w.mu.RLock()
	since := w.cursor
	w.mu.RUnlock()
	if !since.IsZero() {
		since = since.Add(-overlap)
	}
	now := w.now()
	for {
		page, err := w.store.RevokedSince(ctx, since, now, pageSize)
		if err != nil {
			return err
		}
		w.mu.Lock()
		for _, r := range page {
			w.revoked[key{r.Kind, r.ID}] = r.ExpiresAt
			if r.RevokedAt.After(w.cursor) {
				w.cursor = r.RevokedAt
			}
		}
		w.mu.Unlock()
		if len(page) < pageSize {
			break
		}
		last := page[len(page)-1].RevokedAt
		if !last.After(since) {
			break // a full page within one millisecond; the next poll continues
		}
		since = last
	}
	w.mu.Lock()
	for k, exp := range w.revoked {
		if !exp.After(now) {
			delete(w.revoked, k)
		}
	}
	w.synced = now
	w.mu.Unlock()
	return nil
}

// LastSync is when the last poll succeeded (zero before the first).
func (w *Watcher) LastSync() time.Time {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.synced
}
