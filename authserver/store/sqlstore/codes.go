package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const authCodeColumns = `hash, grant_id, client_id, subject, session_id_hash, redirect_uri, scopes, resources,
	nonce, code_challenge, code_challenge_method, auth_time, created_at, expires_at, redeemed_at, amr`

// CreateAuthCode implements store.Store.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return s.wrap("create auth code", err)
	}
	resources, err := encodeList(c.Resources)
	if err != nil {
		return s.wrap("create auth code", err)
	}
	amr, err := encodeList(c.AMR)
	if err != nil {
		return s.wrap("create auth code", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_auth_codes (`+authCodeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.Hash, c.GrantID, c.ClientID, c.Subject, c.SessionIDHash, c.RedirectURI, scopes, resources,
		c.Nonce, c.CodeChallenge, c.CodeChallengeMethod,
		millis(c.AuthTime), millis(c.CreatedAt), millis(c.ExpiresAt), millis(c.RedeemedAt), amr)
	return s.wrap("create auth code", s.insertErr(err))
}

// GetAuthCode implements store.Store.
func (s *Store) GetAuthCode(ctx context.Context, hash string) (store.AuthCode, error) {
	row := s.reader.QueryRowContext(ctx, s.q(`SELECT `+authCodeColumns+` FROM gatehouse_auth_codes WHERE hash = ?`), hash)
	c, err := scanAuthCode(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return c, s.wrap("get auth code", err)
}

// RedeemAuthCode implements store.Store.
//
// The conditional UPDATE decides which of several concurrent redemptions
// wins; only the winner goes on to create the grant. A loser finds out why it
// lost in the same transaction.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, now time.Time, g store.Grant, rt *store.RefreshToken) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("redeem auth code", err)
	}
	if rt != nil && rt.GrantID != g.ID {
		return s.wrap("redeem auth code", errors.New("refresh token belongs to a different grant"))
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		var grantID string
		err := tx.QueryRowContext(ctx, s.q(`
			UPDATE gatehouse_auth_codes SET redeemed_at = ?
			WHERE hash = ? AND redeemed_at = 0 AND expires_at > ?
			RETURNING grant_id`),
			nowMs, hash, nowMs).Scan(&grantID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotRedeemed(ctx, tx, hash, nowMs)
		}
		if err != nil {
			return err
		}
		if grantID != g.ID {
			return errors.New("grant id differs from the code's")
		}
		return s.startGrant(ctx, tx, g, rt, nowMs)
	})
	return s.wrap("redeem auth code", err)
}

// startGrant creates, in the transaction that redeemed what it comes from
// (a code, a device authorization), the grant and its first refresh token
// (when rt is non-nil), and records the use on the grant's consent.
func (s *Store) startGrant(ctx context.Context, tx *txn, g store.Grant, rt *store.RefreshToken, nowMs int64) error {
	if err := s.insertGrant(ctx, tx, g); err != nil {
		return err
	}
	if rt != nil {
		if err := s.insertRefreshToken(ctx, tx, *rt); err != nil {
			return err
		}
	}
	return s.touchConsentIn(ctx, tx, g, nowMs)
}

// whyNotRedeemed explains a redemption whose UPDATE matched no row. A code
// that was already redeemed is being replayed: RFC 6749 §4.1.2 asks to revoke
// what the first redemption issued, so the grant is revoked and that
// revocation committed before ErrCodeReused is returned.
func (s *Store) whyNotRedeemed(ctx context.Context, tx *txn, hash string, nowMs int64) error {
	var (
		grantID               string
		expiresAt, redeemedAt int64
	)
	err := tx.QueryRowContext(ctx, s.q(`SELECT grant_id, expires_at, redeemed_at FROM gatehouse_auth_codes WHERE hash = ?`), hash).
		Scan(&grantID, &expiresAt, &redeemedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case expiresAt <= nowMs:
		return store.ErrNotFound
	case redeemedAt != 0:
		if err := s.revokeGrant(ctx, tx, grantID, nowMs); err != nil {
			return err
		}
		return commitThenFail(store.ErrCodeReused)
	default:
		return errRaced
	}
}

func scanAuthCode(row rowScanner) (store.AuthCode, error) {
	var (
		c                                          store.AuthCode
		scopes, resources, amr                     string
		authTime, createdAt, expiresAt, redeemedAt int64
	)
	err := row.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.Subject, &c.SessionIDHash, &c.RedirectURI, &scopes, &resources,
		&c.Nonce, &c.CodeChallenge, &c.CodeChallengeMethod, &authTime, &createdAt, &expiresAt, &redeemedAt, &amr)
	if err != nil {
		return store.AuthCode{}, err
	}
	if c.Scopes, err = decodeList(scopes); err != nil {
		return store.AuthCode{}, err
	}
	if c.Resources, err = decodeList(resources); err != nil {
		return store.AuthCode{}, err
	}
	if c.AMR, err = decodeList(amr); err != nil {
		return store.AuthCode{}, err
	}
	c.AuthTime = fromMillis(authTime)
	c.CreatedAt = fromMillis(createdAt)
	c.ExpiresAt = fromMillis(expiresAt)
	c.RedeemedAt = fromMillis(redeemedAt)
	return c, nil
}
