package authserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Audit records kept in the store (Config.AuditRetention).
const (
	// DefaultAuditRetention is how long hosts keep audit records unless
	// configured otherwise (the Caddy module's audit_retention).
	DefaultAuditRetention = 90 * 24 * time.Hour
	// auditQueue bounds the records waiting to be written. A request
	// never waits for the audit store: when the queue is full (the store
	// is down or far behind) a record is dropped and counted, and the
	// drop is logged. The gatehouse.audit log still has every event.
	auditQueue = 4096
	// auditBatch is the most records written in one transaction.
	auditBatch = 256
	// auditDrainTimeout bounds writing what is queued when Run ends.
	auditDrainTimeout = 5 * time.Second
)

// auditWriter is the Observer that keeps events in the store. Observe only
// queues; Run's writer goroutine writes the queue in batches.
type auditWriter struct {
	st      store.AuditStore
	now     func() time.Time
	log     *slog.Logger
	queue   chan store.AuditRecord
	dropped atomic.Int64
	// seq orders this instance's records made in the same millisecond.
	seq atomic.Uint64
}

func newAuditWriter(st store.AuditStore, now func() time.Time, log *slog.Logger) *auditWriter {
	return &auditWriter{st: st, now: now, log: log, queue: make(chan store.AuditRecord, auditQueue)}
}

// Observe implements Observer: it never blocks.
func (w *auditWriter) Observe(_ context.Context, e Event) {
	select {
	case w.queue <- auditRecord(e, w.now(), w.seq.Add(1)):
	default:
		w.dropped.Add(1)
	}
}

// auditRecord is e as stored. Its id is fixed-width hex, so ids sort as
// the time in milliseconds, then the writer's sequence number (order
// within a millisecond, or under a clock that stands still), then 32
// random bits, so that ids of instances sharing the store differ.
func auditRecord(e Event, at time.Time, seq uint64) store.AuditRecord {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read does not fail
	return store.AuditRecord{
		ID:   fmt.Sprintf("%012x%016x%s", at.UnixMilli(), seq, hex.EncodeToString(r[:])),
		Time: at, Type: string(e.Type), Result: e.Result, Method: e.Method,
		GrantType: e.GrantType, ClientType: e.ClientType, Kind: e.Kind,
		Subject: e.Subject, Username: e.Username, ClientID: e.ClientID, GrantID: e.GrantID,
		Scopes: e.Scopes, ClientIP: e.ClientIP,
	}
}

// run writes queued records until ctx ends, then what is still queued,
// within auditDrainTimeout.
func (w *auditWriter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditDrainTimeout)
			defer cancel()
			// Bounded: requests still finishing may keep queueing.
			for range auditQueue/auditBatch + 1 {
				if w.writeQueued(drain) == 0 {
					break
				}
			}
			return
		case r := <-w.queue:
			// Not cut short by the end of Run: the store's own call
			// timeout bounds the write.
			w.write(context.WithoutCancel(ctx), w.batch(r))
		}
	}
}

// batch is first and whatever else is queued, up to auditBatch records.
func (w *auditWriter) batch(first store.AuditRecord) []store.AuditRecord {
	b := []store.AuditRecord{first}
	for len(b) < auditBatch {
		select {
		case r := <-w.queue:
			b = append(b, r)
		default:
			return b
		}
	}
	return b
}

// writeQueued writes one batch of what is queued and says how many
// records it took (0: the queue was empty, or ctx ended).
func (w *auditWriter) writeQueued(ctx context.Context) int {
	if ctx.Err() != nil {
		return 0
	}
	select {
	case r := <-w.queue:
		b := w.batch(r)
		w.write(ctx, b)
		return len(b)
	default:
		return 0
	}
}

// write stores b. A failure loses the batch and is logged: a request
// whose event it was has long been answered.
func (w *auditWriter) write(ctx context.Context, b []store.AuditRecord) {
	if n := w.dropped.Swap(0); n > 0 {
		w.log.WarnContext(ctx, "audit records dropped: the queue to the store was full", "records", n)
	}
	if err := w.st.AppendAudit(ctx, b); err != nil {
		w.log.ErrorContext(ctx, "writing audit records failed", "records", len(b), "error", err)
	}
}

// expireAudit deletes audit records older than the retention, in bounded
// batches, under the garbage collector's leader lock when the store is
// shared.
func (s *Server) expireAudit(ctx context.Context) {
	if s.audit == nil {
		return
	}
	cut := s.now().Add(-s.cfg.AuditRetention)
	removed := 0
	pass := func(ctx context.Context) error {
		for range gcBatches {
			n, err := s.audit.st.DeleteAuditBefore(ctx, cut, gcBatch)
			removed += n
			if err != nil || n < gcBatch {
				return err
			}
		}
		return nil
	}
	var err error
	if l, ok := s.cfg.Store.(store.LeaderLocker); ok {
		_, err = l.WithLeaderLock(ctx, gcLock, pass)
	} else {
		err = pass(ctx)
	}
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.ErrorContext(ctx, "deleting old audit records failed", "error", err)
	case removed > 0:
		s.log.DebugContext(ctx, "old audit records removed", "records", removed)
	}
}

// ErrAuditNotKept is AuditRecords' error when events are not kept in the
// store (Config.AuditRetention zero, or a store without audit records).
var ErrAuditNotKept = errors.New("authserver: audit records are not kept in the store")

// AuditRecords returns the stored audit records q selects, newest first.
// Records reach the store a moment after their event (Run writes them).
func (s *Server) AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if s.audit == nil {
		return nil, ErrAuditNotKept
	}
	return s.audit.st.ListAudit(ctx, q)
}
