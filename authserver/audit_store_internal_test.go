package authserver

import (
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestAuditRetention: the garbage collection job deletes the audit records
// older than AuditRetention and keeps the rest.
func TestAuditRetention(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := coreConfig(t, openSQLite(t))
	cfg.Now = func() time.Time { return now }
	cfg.AuditRetention = 24 * time.Hour
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.audit == nil {
		t.Fatal("the SQLite store keeps no audit records")
	}
	var records []store.AuditRecord
	for i, age := range []time.Duration{48 * time.Hour, 25 * time.Hour, 23 * time.Hour, time.Minute} {
		records = append(records, auditRecord(Event{Type: EventLogin, Result: "success"}, now.Add(-age), uint64(i)))
	}
	if err := s.audit.st.AppendAudit(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	ticks := tickByHand(t, s)
	startRun(t, s)
	ticks.tick("gc")
	left, err := s.AuditRecords(t.Context(), store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range left {
		got = append(got, r.ID)
	}
	if want := []string{records[3].ID, records[2].ID}; !slices.Equal(got, want) {
		t.Errorf("left %q, want the two younger than a day %q", got, want)
	}
}

// TestAuditRetentionNegative: a negative retention is refused.
func TestAuditRetentionNegative(t *testing.T) {
	cfg := coreConfig(t, openSQLite(t))
	cfg.AuditRetention = -time.Hour
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a negative AuditRetention")
	}
}

// syncBuffer is a strings.Builder safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditWriteFailures: the audit store never holds up or fails the
// code that emits events. A full queue drops records and says how many;
// a store that refuses the records loses them and logs it.
func TestAuditWriteFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(t.Context(), path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs syncBuffer
	cfg := coreConfig(t, st)
	cfg.AuditRetention = time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// Before Run nothing writes: the queue fills and the rest is dropped,
	// without Emit blocking.
	const over = 10
	for range auditQueue + over {
		s.Emit(t.Context(), Event{Type: EventKeyRotation, Result: "started"})
	}
	stop := startRun(t, s)
	stop()
	kept, err := s.AuditRecords(t.Context(), store.AuditQuery{Limit: auditQueue + over})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != auditQueue {
		t.Errorf("%d records kept, want the queue's %d", len(kept), auditQueue)
	}
	if !strings.Contains(logs.String(), "audit records dropped") || !strings.Contains(logs.String(), fmt.Sprintf("records=%d", over)) {
		t.Errorf("the drop was not logged with its count:\n%.2000s", logs.String())
	}

	// The store refuses the records (their table is gone): the event's
	// emitter is not told, the failure is logged.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "DROP TABLE gatehouse_audit"); err != nil {
		t.Fatal(err)
	}
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2.Emit(t.Context(), Event{Type: EventKeyRotation, Result: "started"})
	startRun(t, s2)()
	if !strings.Contains(logs.String(), "writing audit records failed") {
		t.Errorf("the failed write was not logged:\n%.2000s", logs.String())
	}
}
