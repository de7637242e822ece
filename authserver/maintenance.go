package authserver

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Garbage collection of expired state (Run).
const (
	// DefaultGCInterval is the Config.GCInterval of a zero value.
	DefaultGCInterval = 10 * time.Minute
	// gcBatch and gcBatches bound one pass: each batch is one short
	// transaction, and a pass stops after gcBatches of them, so a backlog
	// is worked off over several passes instead of one that holds the
	// store (and the leader lock) for long.
	gcBatch   = 1000
	gcBatches = 10
	// gcLock names the leader lock that lets one instance sharing the
	// store collect at a time.
	gcLock = "gatehouse/gc"
)

// Run does the server's background work until ctx ends, and returns only
// once all of it has stopped, so the caller may release the store then.
// Call it once, after New:
//
//   - every Keys.ReloadInterval() it reloads the signing keys, picking up
//     keys other instances created and starting rotations that are due
//     (token.KeyManager.Load);
//   - every Revocations.Interval(), when Config.Revocations is set, it
//     polls the store's revocation feed into it;
//   - every GCInterval it deletes expired state in bounded batches, and
//     signing keys past their retirement (token.KeyManager.DeleteRetired),
//     on one instance at a time when the store is shared
//     (store.LeaderLocker), and audit records older than
//     Config.AuditRetention;
//   - when audit records are kept, it writes them to the store as they
//     come (audit_store.go).
//
// Each job first runs one interval after Run starts: the host has just
// loaded the keys and polled the feed while setting up. A failure is logged
// and retried at the next tick; the last keys and revocations read stay in
// use meanwhile.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.audit != nil {
		wg.Go(func() { s.audit.run(ctx) })
	}
	for _, j := range s.jobs() {
		wg.Go(func() { s.every(ctx, j) })
	}
	wg.Wait()
}

// job is one kind of Run's background work.
type job struct {
	name     string // what tests' tickers are keyed by
	interval time.Duration
	run      func(ctx context.Context)
}

func (s *Server) jobs() []job {
	jobs := []job{
		{name: "keys", interval: s.cfg.Keys.ReloadInterval(), run: s.reloadKeys},
		{name: "gc", interval: s.cfg.GCInterval, run: s.collectGarbage},
	}
	if s.cfg.Revocations != nil {
		jobs = append(jobs, job{name: "revocations", interval: s.cfg.Revocations.Interval(), run: s.pollRevocations})
	}
	return jobs
}

// every is the one loop every background job runs in: j at each tick
// until ctx ends. Runs of a job never overlap, and a tick that comes
// while one is under way is dropped (time.Ticker), so a slow store delays
// the next run rather than queueing more.
func (s *Server) every(ctx context.Context, j job) {
	ticks, stop := s.ticker(j.name, j.interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			// A tick and the end may be ready together; the end wins.
			if ctx.Err() != nil {
				return
			}
			j.run(ctx)
		}
	}
}

// newTicker is Server.ticker outside tests.
func newTicker(_ string, interval time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(interval)
	return t.C, t.Stop
}

func (s *Server) reloadKeys(ctx context.Context) {
	if err := s.cfg.Keys.Load(ctx); err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "reloading signing keys failed", "error", err)
	}
}

func (s *Server) pollRevocations(ctx context.Context) {
	if err := s.cfg.Revocations.Poll(ctx); err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "polling revocations failed", "error", err)
	}
}

func (s *Server) collectGarbage(ctx context.Context) {
	ran, n, err := gcPass(ctx, s.cfg.Store, s.now, gcBatch, gcBatches, s.cfg.Keys)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.ErrorContext(ctx, "garbage collection failed", "error", err)
	case err != nil:
	case !ran:
		s.log.DebugContext(ctx, "garbage collection skipped: another instance is collecting")
	case n > 0:
		s.log.DebugContext(ctx, "expired state removed", "records", n)
	}
	s.expireAudit(ctx)
}

// retiredKeyDeleter is what garbage collection needs of the
// token.KeyManager.
type retiredKeyDeleter interface {
	DeleteRetired(ctx context.Context) (int, error)
}

// gcPass runs one garbage collection pass: up to batches batches of at
// most batch records each, stopping at the first short one. When the store
// is shared (store.LeaderLocker) the pass runs under the leader lock, and
// an instance that finds the lock taken skips it. It reports whether the
// pass ran and how many records it removed. With keys it first deletes
// the retired signing keys: one short call, which leaves the schedule of
// the others as it was.
func gcPass(ctx context.Context, st store.Store, now func() time.Time, batch, batches int, keys retiredKeyDeleter) (ran bool, removed int, err error) {
	pass := func(ctx context.Context) error {
		if keys != nil {
			n, err := keys.DeleteRetired(ctx)
			removed += n
			if err != nil {
				return err
			}
		}
		for range batches {
			n, err := st.GarbageCollect(ctx, now(), batch)
			removed += n
			if err != nil || n < batch {
				return err
			}
		}
		return nil
	}
	if l, ok := st.(store.LeaderLocker); ok {
		ran, err = l.WithLeaderLock(ctx, gcLock, pass)
		return ran, removed, err
	}
	return true, removed, pass(ctx)
}
