package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// GetConsent implements store.Store.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	var (
		c                    store.Consent
		scopes               string
		createdAt, updatedAt int64
	)
	err := s.reader.QueryRowContext(ctx, s.q(`
		SELECT subject, client_id, scopes, created_at, updated_at
		FROM gatehouse_consents WHERE subject = ? AND client_id = ?`), subject, clientID).
		Scan(&c.Subject, &c.ClientID, &scopes, &createdAt, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Consent{}, wrap("get consent", err)
	}
	if c.Scopes, err = decodeList(scopes); err != nil {
		return store.Consent{}, wrap("get consent", err)
	}
	c.CreatedAt = fromMillis(createdAt)
	c.UpdatedAt = fromMillis(updatedAt)
	return c, nil
}

// SaveConsent implements store.Store. One upsert statement, so concurrent
// saves of the same pair cannot collide: the row is created once and the
// last save's scopes and UpdatedAt win, while CreatedAt stays the first's.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return wrap("save consent", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`
		INSERT INTO gatehouse_consents (subject, client_id, scopes, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE
		SET scopes = excluded.scopes, updated_at = excluded.updated_at`),
		c.Subject, c.ClientID, scopes, millis(c.CreatedAt), millis(c.UpdatedAt))
	return wrap("save consent", err)
}
