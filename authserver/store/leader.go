package store

import "context"

// LeaderLocker is implemented by stores that several server instances can
// share, so that background work (garbage collection) runs
// on one instance at a time.
type LeaderLocker interface {
	// WithLeaderLock runs fn while holding the lock called name, which
	// excludes every other holder in every process sharing the store, and
	// reports whether it ran fn. When another holder has the lock it
	// returns false at once without running fn; that is not an error. The
	// error is fn's, or the lock's own failure. Backends without
	// cross-process locks (a single-writer embedded database) run fn every
	// time.
	WithLeaderLock(ctx context.Context, name string, fn func(ctx context.Context) error) (ran bool, err error)
}
