package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// maxUsedIDLength bounds the identifiers UseOnce keeps; callers hash or
// bound what they pass, this only catches a caller's bug.
const maxUsedIDLength = 512

// UseOnce implements store.Store with one conditional upsert: a new id is
// inserted, an expired one is taken over, and a live one matches nothing,
// which is the replay. The database decides between concurrent uses.
func (s *Store) UseOnce(ctx context.Context, id string, now, expiresAt time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("use once", err)
	}
	if id == "" || len(id) > maxUsedIDLength {
		return s.wrap("use once", errors.New("empty or oversized id"))
	}
	res, err := s.writer.ExecContext(ctx, s.q(`
		INSERT INTO gatehouse_used_jtis (id, expires_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
		WHERE gatehouse_used_jtis.expires_at <= ?`), id, millis(expiresAt), nowMs)
	if err != nil {
		return s.wrap("use once", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("use once", err)
	}
	if n == 0 {
		return store.ErrReplay
	}
	return nil
}
