package store

import (
	"context"
	"time"
)

// AuditRecord is one audit event kept in the store. It holds identifiers
// only, never a secret, code, token or password.
type AuditRecord struct {
	// ID orders records: ids compare in the order the records were made
	// (the caller makes them so; authserver's are the event time in hex
	// followed by random hex), and pages are cut by id.
	ID         string
	Time       time.Time
	Type       string
	Result     string
	Method     string
	GrantType  string
	ClientType string
	Kind       string
	Subject    string
	Username   string
	ClientID   string
	GrantID    string
	Scopes     []string
	ClientIP   string
}

// AuditQuery selects audit records, newest first. Empty fields do not
// filter.
type AuditQuery struct {
	Subject  string
	ClientID string
	Type     string
	// Since and Until bound the records' Time: Since <= Time < Until.
	Since, Until time.Time
	// After is the ID of the last record of the previous page; the page
	// holds older records only (keyset pagination).
	After string
	// Limit is the most records returned; it must be positive.
	Limit int
}

// AuditStore is a Store that keeps audit records (the SQL stores do).
type AuditStore interface {
	// AppendAudit stores records, all or none. ErrAlreadyExists on a
	// duplicate id.
	AppendAudit(ctx context.Context, records []AuditRecord) error
	// ListAudit returns the records q selects, newest (greatest ID) first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// DeleteAuditBefore deletes up to limit records older than before,
	// oldest first, and says how many it deleted.
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error)
}
