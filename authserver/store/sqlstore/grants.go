package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const grantColumns = `id, client_id, subject, session_id_hash, scopes, resources, auth_time, created_at, expires_at, revoked_at, dpop_jkt, amr`

// GetGrant implements store.Store.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := s.getGrant(ctx, s.reader, id)
	return g, s.wrap("get grant", err)
}

// RevokeGrant implements store.Store. Refresh tokens are checked against
// their grant, so this one write revokes the whole family. The first
// revocation time is kept.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("revoke grant", err)
	}
	return s.wrap("revoke grant", s.revokeGrant(ctx, s.writer, id, nowMs))
}

// revokeGrant marks a grant revoked unless it already is; an unknown grant
// is not an error.
func (s *Store) revokeGrant(ctx context.Context, db execer, id string, nowMs int64) error {
	_, err := db.ExecContext(ctx, s.q(`UPDATE gatehouse_grants SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), nowMs, id)
	return err
}

func (s *Store) getGrant(ctx context.Context, db queryRower, id string) (store.Grant, error) {
	row := db.QueryRowContext(ctx, s.q(`SELECT `+grantColumns+` FROM gatehouse_grants WHERE id = ?`), id)
	g, err := scanGrant(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return g, err
}

func (s *Store) insertGrant(ctx context.Context, tx *txn, g store.Grant) error {
	scopes, err := encodeList(g.Scopes)
	if err != nil {
		return err
	}
	resources, err := encodeList(g.Resources)
	if err != nil {
		return err
	}
	amr, err := encodeList(g.AMR)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		g.ID, g.ClientID, g.Subject, g.SessionIDHash, scopes, resources,
		millis(g.AuthTime), millis(g.CreatedAt), millis(g.ExpiresAt), millis(g.RevokedAt), g.DPoPJKT, amr)
	return s.insertErr(err)
}

// grantRow holds a gatehouse_grants row as stored, so a grant can be scanned
// alone or as part of a join.
type grantRow struct {
	g                                         store.Grant
	scopes, resources, amr                    string
	authTime, createdAt, expiresAt, revokedAt int64
}

// dest returns the scan destinations for grantColumns, in order.
func (r *grantRow) dest() []any {
	return []any{&r.g.ID, &r.g.ClientID, &r.g.Subject, &r.g.SessionIDHash, &r.scopes, &r.resources,
		&r.authTime, &r.createdAt, &r.expiresAt, &r.revokedAt, &r.g.DPoPJKT, &r.amr}
}

func (r *grantRow) grant() (store.Grant, error) {
	g := r.g
	var err error
	if g.Scopes, err = decodeList(r.scopes); err != nil {
		return store.Grant{}, err
	}
	if g.Resources, err = decodeList(r.resources); err != nil {
		return store.Grant{}, err
	}
	if g.AMR, err = decodeList(r.amr); err != nil {
		return store.Grant{}, err
	}
	g.AuthTime = fromMillis(r.authTime)
	g.CreatedAt = fromMillis(r.createdAt)
	g.ExpiresAt = fromMillis(r.expiresAt)
	g.RevokedAt = fromMillis(r.revokedAt)
	return g, nil
}

func scanGrant(row rowScanner) (store.Grant, error) {
	var r grantRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Grant{}, err
	}
	return r.grant()
}
