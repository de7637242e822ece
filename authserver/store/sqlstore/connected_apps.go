package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// This file holds what users' connected apps, revocation and logout need:
// listing and removing consents, revoking a user's grants for one app,
// finding a browser session's grants, and the access token denylist.

const consentColumns = `subject, client_id, scopes, resources, created_at, updated_at, last_used_at`

func scanConsent(row rowScanner) (store.Consent, error) {
	var (
		c                                store.Consent
		scopes, resources                string
		createdAt, updatedAt, lastUsedAt int64
	)
	if err := row.Scan(&c.Subject, &c.ClientID, &scopes, &resources, &createdAt, &updatedAt, &lastUsedAt); err != nil {
		return store.Consent{}, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return store.Consent{}, err
	}
	if c.Resources, err = decodeList(resources); err != nil {
		return store.Consent{}, err
	}
	c.CreatedAt = fromMillis(createdAt)
	c.UpdatedAt = fromMillis(updatedAt)
	c.LastUsedAt = fromMillis(lastUsedAt)
	return c, nil
}

// ListConsents implements store.Store. The primary key (subject,
// client_id) serves the lookup.
func (s *Store) ListConsents(ctx context.Context, subject string) ([]store.Consent, error) {
	rows, err := s.reader.QueryContext(ctx, s.q(`
		SELECT `+consentColumns+` FROM gatehouse_consents
		WHERE subject = ? ORDER BY created_at, client_id`), subject)
	if err != nil {
		return nil, s.wrap("list consents", err)
	}
	defer rows.Close()
	var out []store.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, s.wrap("list consents", err)
		}
		out = append(out, c)
	}
	return out, s.wrap("list consents", rows.Err())
}

// DeleteConsent implements store.Store.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	res, err := s.writer.ExecContext(ctx, s.q(`DELETE FROM gatehouse_consents WHERE subject = ? AND client_id = ?`),
		subject, clientID)
	if err != nil {
		return s.wrap("delete consent", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("delete consent", err)
	}
	if n == 0 {
		return s.wrap("delete consent", store.ErrNotFound)
	}
	return nil
}

// TouchConsent implements store.Store. The condition keeps the latest
// time when two token requests race.
func (s *Store) TouchConsent(ctx context.Context, subject, clientID string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("touch consent", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(touchConsentSQL), nowMs, subject, clientID, nowMs)
	return s.wrap("touch consent", err)
}

// touchConsentSQL records a use of a consent; arguments: now, subject,
// client id, now.
const touchConsentSQL = `
	UPDATE gatehouse_consents SET last_used_at = ?
	WHERE subject = ? AND client_id = ? AND last_used_at < ?`

// touchConsentIn records, inside a token transaction, that the grant's
// client got tokens for its subject: a statement of the transaction that
// issues them instead of a commit of its own.
func (s *Store) touchConsentIn(ctx context.Context, tx *txn, g store.Grant, nowMs int64) error {
	_, err := tx.ExecContext(ctx, s.q(touchConsentSQL), nowMs, g.Subject, g.ClientID, nowMs)
	return err
}

// RevokeGrantsFor implements store.Store in one conditional UPDATE, so a
// grant already revoked keeps its first revocation time.
func (s *Store) RevokeGrantsFor(ctx context.Context, subject, clientID string, now time.Time) (int, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return 0, s.wrap("revoke grants", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`
		UPDATE gatehouse_grants SET revoked_at = ?
		WHERE subject = ? AND client_id = ? AND revoked_at = 0`),
		nowMs, subject, clientID)
	if err != nil {
		return 0, s.wrap("revoke grants", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("revoke grants", err)
	}
	return int(n), nil
}

// ListGrantsBySession implements store.Store.
func (s *Store) ListGrantsBySession(ctx context.Context, sessionIDHash string, limit int) ([]store.Grant, error) {
	if limit <= 0 {
		return nil, s.wrap("list grants by session", errors.New("limit must be positive"))
	}
	rows, err := s.reader.QueryContext(ctx, s.q(`
		SELECT `+grantColumns+` FROM gatehouse_grants
		WHERE session_id_hash = ? ORDER BY created_at, id LIMIT ?`), sessionIDHash, limit)
	if err != nil {
		return nil, s.wrap("list grants by session", err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, s.wrap("list grants by session", err)
		}
		out = append(out, g)
	}
	return out, s.wrap("list grants by session", rows.Err())
}

// DenylistToken implements store.Store. An empty jti is refused: it would
// match nothing a verifier checks and hide a caller's bug.
func (s *Store) DenylistToken(ctx context.Context, jti string, now, expiresAt time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("denylist token", err)
	}
	if jti == "" {
		return s.wrap("denylist token", errors.New("empty jti"))
	}
	_, err = s.writer.ExecContext(ctx, s.q(`
		INSERT INTO gatehouse_denylisted_tokens (jti, revoked_at, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO NOTHING`), jti, nowMs, millis(expiresAt))
	return s.wrap("denylist token", err)
}

// IsTokenDenylisted implements store.Store.
func (s *Store) IsTokenDenylisted(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM gatehouse_denylisted_tokens WHERE jti = ?`), jti).Scan(&n)
	if err != nil {
		return false, s.wrap("is token denylisted", err)
	}
	return n > 0, nil
}
