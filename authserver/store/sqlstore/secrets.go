package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// GetOrCreateSecret implements store.Store.
//
// The common case, a secret that exists, is one read. Otherwise an INSERT
// that does nothing on conflict races any other creator inside the database,
// and the value read back in the same transaction is whichever insert won.
func (s *Store) GetOrCreateSecret(ctx context.Context, name string, now time.Time, candidate []byte) ([]byte, error) {
	if len(candidate) == 0 {
		return nil, s.wrap("get or create secret", errors.New("candidate is empty"))
	}
	created, err := nowMillis(now)
	if err != nil {
		return nil, s.wrap("get or create secret", err)
	}
	var stored string
	err = s.reader.QueryRowContext(ctx, s.q(`SELECT value FROM gatehouse_secrets WHERE name = ?`), name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.inWriteTx(ctx, func(tx *txn) error {
			_, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO gatehouse_secrets (name, value, created_at) VALUES (?, ?, ?)
				ON CONFLICT (name) DO NOTHING`),
				name, encodeBytes(candidate), created)
			if err != nil {
				return err
			}
			return tx.QueryRowContext(ctx, s.q(`SELECT value FROM gatehouse_secrets WHERE name = ?`), name).Scan(&stored)
		})
	}
	if err != nil {
		return nil, s.wrap("get or create secret", err)
	}
	b, err := decodeBytes(stored)
	return b, s.wrap("get or create secret", err)
}
