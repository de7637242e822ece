package identity

import (
	"context"
	"time"
)

// WaitObserver is told, for each hash, how long it waited for a slot and
// whether it got one (false: ErrBusy or the caller gave up).
type WaitObserver func(wait time.Duration, granted bool)

// ObserveWaits sets the observer of queue waits (metrics); nil removes it.
// The Hasher is shared by the whole process, so the observer should be
// too.
func (hs *Hasher) ObserveWaits(f WaitObserver) {
	if f == nil {
		hs.waits.Store(nil)
		return
	}
	hs.waits.Store(&f)
}

// acquireObserved is acquire, timed for the wait observer.
func (hs *Hasher) acquireObserved(ctx context.Context, urgent bool) error {
	f := hs.waits.Load()
	if f == nil {
		return hs.acquire(ctx, urgent)
	}
	start := time.Now()
	err := hs.acquire(ctx, urgent)
	(*f)(time.Since(start), err == nil)
	return err
}
