package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// RevokedSince implements store.Store: revoked grants, sessions and
// denylisted access tokens that still matter (unexpired), merged in order
// of revocation.
func (s *Store) RevokedSince(ctx context.Context, since, now time.Time, limit int) ([]store.Revocation, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return nil, s.wrap("revoked since", err)
	}
	if limit <= 0 {
		return nil, s.wrap("revoked since", errors.New("limit must be positive"))
	}
	sinceMs := max(millis(since), 1) // revoked_at 0 means "not revoked"
	rows, err := s.reader.QueryContext(ctx, s.q(`
		SELECT kind, id, revoked_at, expires_at FROM (
			SELECT 'grant' AS kind, id, revoked_at, expires_at FROM gatehouse_grants
			WHERE revoked_at >= ? AND expires_at > ?
			UNION ALL
			SELECT 'session' AS kind, id_hash AS id, revoked_at, expires_at FROM gatehouse_sessions
			WHERE revoked_at >= ? AND expires_at > ?
			UNION ALL
			SELECT 'token' AS kind, jti AS id, revoked_at, expires_at FROM gatehouse_denylisted_tokens
			WHERE revoked_at >= ? AND expires_at > ?
		) AS r
		ORDER BY revoked_at, kind, id
		LIMIT ?`), sinceMs, nowMs, sinceMs, nowMs, sinceMs, nowMs, limit)
	if err != nil {
		return nil, s.wrap("revoked since", err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var r store.Revocation
		var kind string
		var revokedAt, expiresAt int64
		if err := rows.Scan(&kind, &r.ID, &revokedAt, &expiresAt); err != nil {
			return nil, s.wrap("revoked since", err)
		}
		r.Kind, r.RevokedAt, r.ExpiresAt = store.RevocationKind(kind), fromMillis(revokedAt), fromMillis(expiresAt)
		out = append(out, r)
	}
	return out, s.wrap("revoked since", rows.Err())
}
