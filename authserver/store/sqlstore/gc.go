package sqlstore

import (
	"context"
	"time"
)

// gcSteps delete expired records, each at most limit (the second parameter)
// of its kind, oldest first. Order matters: a grant's refresh tokens go
// just before the grant, picked by the same subquery, so they are counted;
// the foreign key cascade catches any the two statements disagree on.
// Expired tokens of live grants go last: an expired token is refused
// whatever its state, so it no longer serves reuse detection.
var gcSteps = []string{
	`DELETE FROM gatehouse_auth_codes WHERE hash IN (
		SELECT hash FROM gatehouse_auth_codes WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_sessions WHERE id_hash IN (
		SELECT id_hash FROM gatehouse_sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_refresh_tokens WHERE grant_id IN (
		SELECT id FROM gatehouse_grants WHERE expires_at < ? ORDER BY expires_at, id LIMIT ?)`,
	`DELETE FROM gatehouse_grants WHERE id IN (
		SELECT id FROM gatehouse_grants WHERE expires_at < ? ORDER BY expires_at, id LIMIT ?)`,
	`DELETE FROM gatehouse_refresh_tokens WHERE hash IN (
		SELECT hash FROM gatehouse_refresh_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_denylisted_tokens WHERE jti IN (
		SELECT jti FROM gatehouse_denylisted_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_user_tokens WHERE hash IN (
		SELECT hash FROM gatehouse_user_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_device_authorizations WHERE device_code_hash IN (
		SELECT device_code_hash FROM gatehouse_device_authorizations WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_pushed_requests WHERE hash IN (
		SELECT hash FROM gatehouse_pushed_requests WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
	`DELETE FROM gatehouse_used_jtis WHERE id IN (
		SELECT id FROM gatehouse_used_jtis WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
}

// GarbageCollect implements store.Store. Records of each kind (auth codes,
// sessions, grants, refresh tokens, denylisted tokens) that expired before now are deleted,
// up to limit per kind; a deleted grant takes all its refresh tokens with
// it. The count includes every row deleted, refresh tokens too. A limit of
// zero or less deletes nothing.
func (s *Store) GarbageCollect(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	nowMs := millis(now)
	var total int64
	err := s.inWriteTx(ctx, func(tx *txn) error {
		total = 0
		for _, step := range gcSteps {
			res, err := tx.ExecContext(ctx, s.q(step), nowMs, int64(limit))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, s.wrap("garbage collect", err)
	}
	return int(total), nil
}
