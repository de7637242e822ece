package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

var _ store.AuditStore = (*Store)(nil)

const auditColumns = `id, at, type, result, method, grant_type, client_type, kind,
	subject, username, client_id, grant_id, scopes, client_ip`

// AppendAudit implements store.AuditStore: one transaction for the batch.
func (s *Store) AppendAudit(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	for _, r := range records {
		if r.ID == "" {
			return s.wrap("append audit", errors.New("record without an id"))
		}
	}
	err := s.inWriteTx(ctx, func(tx *txn) error {
		for _, r := range records {
			scopes, err := encodeList(r.Scopes)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_audit (`+auditColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				r.ID, millis(r.Time), r.Type, r.Result, r.Method, r.GrantType, r.ClientType, r.Kind,
				r.Subject, r.Username, r.ClientID, r.GrantID, scopes, r.ClientIP)
			if err != nil {
				return s.insertErr(err)
			}
		}
		return nil
	})
	return s.wrap("append audit", err)
}

// ListAudit implements store.AuditStore.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if q.Limit <= 0 {
		return nil, s.wrap("list audit", errors.New("limit must be positive"))
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if q.Subject != "" {
		add("subject = ?", q.Subject)
	}
	if q.ClientID != "" {
		add("client_id = ?", q.ClientID)
	}
	if q.Type != "" {
		add("type = ?", q.Type)
	}
	if !q.Since.IsZero() {
		add("at >= ?", millis(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < ?", millis(q.Until))
	}
	if q.After != "" {
		add("id < ?", q.After)
	}
	query := `SELECT ` + auditColumns + ` FROM gatehouse_audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	// The conditions are fixed fragments, so the query texts form a small
	// set and the statement cache stays bounded.
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.reader.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.wrap("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var at int64
		var scopes string
		if err := rows.Scan(&r.ID, &at, &r.Type, &r.Result, &r.Method, &r.GrantType, &r.ClientType, &r.Kind,
			&r.Subject, &r.Username, &r.ClientID, &r.GrantID, &scopes, &r.ClientIP); err != nil {
			return nil, s.wrap("list audit", err)
		}
		r.Time = fromMillis(at)
		if r.Scopes, err = decodeList(scopes); err != nil {
			return nil, s.wrap("list audit", err)
		}
		out = append(out, r)
	}
	return out, s.wrap("list audit", rows.Err())
}

// DeleteAuditBefore implements store.AuditStore.
func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_audit WHERE id IN (
			SELECT id FROM gatehouse_audit WHERE at < ? ORDER BY at LIMIT ?)`), millis(before), int64(limit))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.wrap("delete audit", err)
	}
	return int(n), nil
}
