package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

var _ store.LeaderLocker = (*Store)(nil)

// unlockTimeout bounds giving a leader lock back. It does not use the
// caller's context, which may be cancelled (shutdown) by then.
const unlockTimeout = 5 * time.Second

// WithLeaderLock implements store.LeaderLocker. On a dialect with locks it
// holds a dedicated writer connection for the whole of fn, so the writer
// pool must allow at least one more connection for fn's own queries. On a
// dialect without (SQLite) it runs fn every time and reports true.
func (s *Store) WithLeaderLock(ctx context.Context, name string, fn func(ctx context.Context) error) (bool, error) {
	if name == "" {
		return false, s.wrap("leader lock", errors.New("empty lock name"))
	}
	if s.d.TryLock == nil {
		return true, fn(ctx)
	}
	// Taking the connection and the lock are database calls like any
	// other, bounded by the call timeout; fn's own calls are bounded each.
	lockCtx, cancel := s.writer.bound(ctx)
	defer cancel()
	conn, err := s.writer.Conn(lockCtx)
	if err != nil {
		return false, s.wrap("leader lock", err)
	}
	defer conn.Close()
	ok, err := s.d.TryLock(lockCtx, conn, name)
	if err != nil || !ok {
		return false, s.wrap("leader lock", err)
	}
	fnErr := fn(ctx)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	if err := s.d.Unlock(uctx, conn, name); err != nil {
		// The session may still hold the lock: end it rather than return
		// it to the pool, where the lock would outlive this call.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return true, errors.Join(fnErr, s.wrap("leader lock", fmt.Errorf("release %q: %w", name, err)))
	}
	return true, fnErr
}
