package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// GetConsent implements store.Store.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	c, err := scanConsent(s.reader.QueryRowContext(ctx, s.q(`
		SELECT `+consentColumns+`
		FROM gatehouse_consents WHERE subject = ? AND client_id = ?`), subject, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Consent{}, s.wrap("get consent", err)
	}
	return c, nil
}

// SaveConsent implements store.Store. One upsert statement, so concurrent
// saves of the same pair cannot collide: the row is created once and the
// last save's scopes, resources and UpdatedAt win, while CreatedAt and
// LastUsedAt stay the stored ones.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return s.wrap("save consent", err)
	}
	resources, err := encodeList(c.Resources)
	if err != nil {
		return s.wrap("save consent", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`
		INSERT INTO gatehouse_consents (`+consentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE
		SET scopes = excluded.scopes, resources = excluded.resources, updated_at = excluded.updated_at`),
		c.Subject, c.ClientID, scopes, resources, millis(c.CreatedAt), millis(c.UpdatedAt), millis(c.LastUsedAt))
	return s.wrap("save consent", err)
}
