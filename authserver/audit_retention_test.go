package authserver

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
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
