package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const refreshTokenColumns = `hash, grant_id, created_at, expires_at, rotated_at`

// usableToken is the condition for a refresh token that may be rotated or
// extended at now (the last parameter twice): not rotated, not expired, and
// its grant neither revoked nor expired. It follows "WHERE hash = ?" in an
// UPDATE of gatehouse_refresh_tokens.
const usableToken = `AND rotated_at = 0 AND expires_at > ?
	AND EXISTS (
		SELECT 1 FROM gatehouse_grants g
		WHERE g.id = gatehouse_refresh_tokens.grant_id AND g.revoked_at = 0 AND g.expires_at > ?
	)`

// GetRefreshToken implements store.Store.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Grant, error) {
	var (
		t tokenRow
		g grantRow
	)
	err := s.reader.QueryRowContext(ctx, s.q(`
		SELECT t.hash, t.grant_id, t.created_at, t.expires_at, t.rotated_at,
			g.id, g.client_id, g.subject, g.session_id_hash, g.scopes, g.resources,
			g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.dpop_jkt, g.amr
		FROM gatehouse_refresh_tokens t JOIN gatehouse_grants g ON g.id = t.grant_id
		WHERE t.hash = ?`), hash).Scan(append(t.dest(), g.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.RefreshToken{}, store.Grant{}, s.wrap("get refresh token", err)
	}
	grant, err := g.grant()
	if err != nil {
		return store.RefreshToken{}, store.Grant{}, s.wrap("get refresh token", err)
	}
	return t.token(), grant, nil
}

// RotateRefreshToken implements store.Store.
//
// next is stored as given; keeping its ExpiresAt within the grant's is the
// caller's job (ExtendRefreshToken, by contrast, caps).
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, next store.RefreshToken) (store.Grant, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return store.Grant{}, s.wrap("rotate refresh token", err)
	}
	var g store.Grant
	err = s.inWriteTx(ctx, func(tx *txn) error {
		var grantID string
		err := tx.QueryRowContext(ctx, s.q(`
			UPDATE gatehouse_refresh_tokens SET rotated_at = ?
			WHERE hash = ? `+usableToken+`
			RETURNING grant_id`),
			nowMs, oldHash, nowMs, nowMs).Scan(&grantID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotUsable(ctx, tx, oldHash, nowMs)
		}
		if err != nil {
			return err
		}
		if next.GrantID != grantID {
			return errors.New("next token belongs to a different grant")
		}
		if err := s.insertRefreshToken(ctx, tx, next); err != nil {
			return err
		}
		if g, err = s.getGrant(ctx, tx, grantID); err != nil {
			return err
		}
		return s.touchConsentIn(ctx, tx, g, nowMs)
	})
	if err != nil {
		return store.Grant{}, s.wrap("rotate refresh token", err)
	}
	return g, nil
}

// ExtendRefreshToken implements store.Store.
func (s *Store) ExtendRefreshToken(ctx context.Context, hash string, now, expiresAt time.Time) (store.Grant, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return store.Grant{}, s.wrap("extend refresh token", err)
	}
	expMs := millis(expiresAt)
	var g store.Grant
	err = s.inWriteTx(ctx, func(tx *txn) error {
		var grantID string
		err := tx.QueryRowContext(ctx, s.q(`
			UPDATE gatehouse_refresh_tokens SET expires_at = (
				SELECT CASE WHEN g.expires_at < ? THEN g.expires_at ELSE ? END
				FROM gatehouse_grants g WHERE g.id = gatehouse_refresh_tokens.grant_id
			)
			WHERE hash = ? `+usableToken+`
			RETURNING grant_id`),
			expMs, expMs, hash, nowMs, nowMs).Scan(&grantID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotUsable(ctx, tx, hash, nowMs)
		}
		if err != nil {
			return err
		}
		if g, err = s.getGrant(ctx, tx, grantID); err != nil {
			return err
		}
		return s.touchConsentIn(ctx, tx, g, nowMs)
	})
	if err != nil {
		return store.Grant{}, s.wrap("extend refresh token", err)
	}
	return g, nil
}

// whyNotUsable explains a rotation or extension whose UPDATE matched no row:
// an unknown or expired token is not found, a rotated one is reused, and a
// current one whose grant is revoked or expired is revoked. A token that was
// already rotated is being replayed, which means the family
// has leaked (RFC 9700 §4.14.2): the grant is revoked, and that revocation
// committed, before ErrRefreshTokenReused is returned.
func (s *Store) whyNotUsable(ctx context.Context, tx *txn, hash string, nowMs int64) error {
	var (
		grantID                                         string
		expiresAt, rotatedAt, grantRevoked, grantExpiry int64
	)
	err := tx.QueryRowContext(ctx, s.q(`
		SELECT t.grant_id, t.expires_at, t.rotated_at, g.revoked_at, g.expires_at
		FROM gatehouse_refresh_tokens t JOIN gatehouse_grants g ON g.id = t.grant_id
		WHERE t.hash = ?`), hash).
		Scan(&grantID, &expiresAt, &rotatedAt, &grantRevoked, &grantExpiry)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case expiresAt <= nowMs:
		return store.ErrNotFound
	case rotatedAt != 0:
		// Checked before the grant's state: a replayed token is reuse even
		// when an earlier replay has already revoked the grant, whose
		// first revocation time revokeGrant keeps.
		if err := s.revokeGrant(ctx, tx, grantID, nowMs); err != nil {
			return err
		}
		return commitThenFail(store.ErrRefreshTokenReused)
	case grantRevoked != 0 || grantExpiry <= nowMs:
		return store.ErrRevoked
	default:
		return errRaced
	}
}

func (s *Store) insertRefreshToken(ctx context.Context, tx *txn, t store.RefreshToken) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_refresh_tokens (`+refreshTokenColumns+`) VALUES (?, ?, ?, ?, ?)`),
		t.Hash, t.GrantID, millis(t.CreatedAt), millis(t.ExpiresAt), millis(t.RotatedAt))
	return s.insertErr(err)
}

// tokenRow holds a gatehouse_refresh_tokens row as stored.
type tokenRow struct {
	t                               store.RefreshToken
	createdAt, expiresAt, rotatedAt int64
}

// dest returns the scan destinations for refreshTokenColumns, in order.
func (r *tokenRow) dest() []any {
	return []any{&r.t.Hash, &r.t.GrantID, &r.createdAt, &r.expiresAt, &r.rotatedAt}
}

func (r *tokenRow) token() store.RefreshToken {
	t := r.t
	t.CreatedAt = fromMillis(r.createdAt)
	t.ExpiresAt = fromMillis(r.expiresAt)
	t.RotatedAt = fromMillis(r.rotatedAt)
	return t
}
