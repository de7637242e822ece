package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const sessionColumns = `id_hash, subject, auth_time, created_at, expires_at, revoked_at, user_agent, amr, idp`

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	amr, err := encodeList(sess.AMR)
	if err != nil {
		return s.wrap("create session", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		sess.IDHash, sess.Subject, millis(sess.AuthTime), millis(sess.CreatedAt), millis(sess.ExpiresAt), millis(sess.RevokedAt), sess.UserAgent, amr, sess.IDP)
	return s.wrap("create session", s.insertErr(err))
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, idHash string) (store.Session, error) {
	row := s.reader.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM gatehouse_sessions WHERE id_hash = ?`), idHash)
	sess, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return sess, s.wrap("get session", err)
}

// RevokeSession implements store.Store. The first revocation time is kept.
func (s *Store) RevokeSession(ctx context.Context, idHash string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("revoke session", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at = 0`),
		nowMs, idHash)
	return s.wrap("revoke session", err)
}

func scanSession(row rowScanner) (store.Session, error) {
	var (
		sess                                      store.Session
		authTime, createdAt, expiresAt, revokedAt int64
		amr                                       string
	)
	if err := row.Scan(&sess.IDHash, &sess.Subject, &authTime, &createdAt, &expiresAt, &revokedAt, &sess.UserAgent, &amr, &sess.IDP); err != nil {
		return store.Session{}, err
	}
	var err error
	if sess.AMR, err = decodeList(amr); err != nil {
		return store.Session{}, err
	}
	sess.AuthTime = fromMillis(authTime)
	sess.CreatedAt = fromMillis(createdAt)
	sess.ExpiresAt = fromMillis(expiresAt)
	sess.RevokedAt = fromMillis(revokedAt)
	return sess, nil
}
