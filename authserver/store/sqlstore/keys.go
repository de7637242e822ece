package sqlstore

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// CreateSigningKey implements store.Store.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.writer.ExecContext(ctx, s.q(`
		INSERT INTO gatehouse_signing_keys (id, algorithm, sealed, created_at, not_after, retire_at)
		VALUES (?, ?, ?, ?, ?, ?)`),
		k.ID, k.Algorithm, encodeBytes(k.Sealed), millis(k.CreatedAt), millis(k.NotAfter), millis(k.RetireAt))
	return s.wrap("create signing key", s.insertErr(err))
}

// ListSigningKeys implements store.Store. Keys created in the same
// millisecond are ordered by id so the order is stable.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.reader.QueryContext(ctx, `
		SELECT id, algorithm, sealed, created_at, not_after, retire_at
		FROM gatehouse_signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, s.wrap("list signing keys", err)
	}
	defer rows.Close()
	var keys []store.SigningKey
	for rows.Next() {
		var (
			k                             store.SigningKey
			sealed                        string
			createdAt, notAfter, retireAt int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &sealed, &createdAt, &notAfter, &retireAt); err != nil {
			return nil, s.wrap("list signing keys", err)
		}
		if k.Sealed, err = decodeBytes(sealed); err != nil {
			return nil, s.wrap("list signing keys", err)
		}
		k.CreatedAt = fromMillis(createdAt)
		k.NotAfter = fromMillis(notAfter)
		k.RetireAt = fromMillis(retireAt)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list signing keys", err)
	}
	return keys, nil
}

// DeleteSigningKeys implements store.Store: one transaction, one fixed
// statement per id (a fixed text keeps the statement cache and the
// operation timer's names bounded, which an IN list of varying length
// would not).
func (s *Store) DeleteSigningKeys(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var deleted int
	err := s.inWriteTx(ctx, func(tx *txn) error {
		deleted = 0
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_signing_keys WHERE id = ?`), id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			deleted += int(n)
		}
		return nil
	})
	return deleted, s.wrap("delete signing keys", err)
}
