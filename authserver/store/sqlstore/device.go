package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const deviceColumns = `device_code_hash, user_code_hash, grant_id, client_id, scopes, resources, interval_ms,
	created_at, expires_at, last_polled_at, status, subject, session_id_hash, auth_time, decided_at, redeemed_at`

// CreateDeviceAuthorization implements store.Store.
func (s *Store) CreateDeviceAuthorization(ctx context.Context, d store.DeviceAuthorization) error {
	scopes, err := encodeList(d.Scopes)
	if err != nil {
		return s.wrap("create device authorization", err)
	}
	resources, err := encodeList(d.Resources)
	if err != nil {
		return s.wrap("create device authorization", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_device_authorizations (`+deviceColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.DeviceCodeHash, d.UserCodeHash, d.GrantID, d.ClientID, scopes, resources, d.Interval.Milliseconds(),
		millis(d.CreatedAt), millis(d.ExpiresAt), millis(d.LastPolledAt), string(d.Status),
		d.Subject, d.SessionIDHash, millis(d.AuthTime), millis(d.DecidedAt), millis(d.RedeemedAt))
	return s.wrap("create device authorization", s.insertErr(err))
}

// GetDeviceAuthorization implements store.Store.
func (s *Store) GetDeviceAuthorization(ctx context.Context, deviceCodeHash string) (store.DeviceAuthorization, error) {
	return s.getDevice(ctx, "device_code_hash", deviceCodeHash)
}

// GetDeviceAuthorizationByUserCode implements store.Store.
func (s *Store) GetDeviceAuthorizationByUserCode(ctx context.Context, userCodeHash string) (store.DeviceAuthorization, error) {
	return s.getDevice(ctx, "user_code_hash", userCodeHash)
}

// getDevice reads one request by a unique column (a constant, never
// input).
func (s *Store) getDevice(ctx context.Context, column, hash string) (store.DeviceAuthorization, error) {
	row := s.reader.QueryRowContext(ctx, s.q(`SELECT `+deviceColumns+` FROM gatehouse_device_authorizations WHERE `+column+` = ?`), hash)
	d, err := scanDevice(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return d, s.wrap("get device authorization", err)
}

// DecideDeviceAuthorization implements store.Store. The conditional
// UPDATE lets exactly one answer through.
func (s *Store) DecideDeviceAuthorization(ctx context.Context, userCodeHash string, now time.Time, d store.DeviceDecision) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("decide device authorization", err)
	}
	status := store.DeviceDenied
	if d.Approved {
		status = store.DeviceApproved
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_device_authorizations
			SET status = ?, subject = ?, session_id_hash = ?, auth_time = ?, decided_at = ?
			WHERE user_code_hash = ? AND status = ? AND expires_at > ?`),
			string(status), d.Subject, d.SessionIDHash, millis(d.AuthTime), nowMs, userCodeHash, string(store.DevicePending), nowMs)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var current string
		var expiresAt int64
		err = tx.QueryRowContext(ctx, s.q(`SELECT status, expires_at FROM gatehouse_device_authorizations WHERE user_code_hash = ?`), userCodeHash).
			Scan(&current, &expiresAt)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && expiresAt <= nowMs:
			return store.ErrNotFound
		case err != nil:
			return err
		case current != string(store.DevicePending):
			return store.ErrConflict
		}
		return errRaced
	})
	return s.wrap("decide device authorization", err)
}

// PollDeviceAuthorization implements store.Store.
func (s *Store) PollDeviceAuthorization(ctx context.Context, deviceCodeHash string, lastPolledAt, now time.Time, interval time.Duration) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("poll device authorization", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_device_authorizations SET last_polled_at = ?, interval_ms = ?
			WHERE device_code_hash = ? AND last_polled_at = ?`),
			nowMs, interval.Milliseconds(), deviceCodeHash, millis(lastPolledAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM gatehouse_device_authorizations WHERE device_code_hash = ?`), deviceCodeHash).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return commitThenFail(store.ErrConflict)
	})
	return s.wrap("poll device authorization", err)
}

// RedeemDeviceAuthorization implements store.Store, like RedeemAuthCode:
// the conditional UPDATE decides which of concurrent redemptions wins, and
// the grant starts as a code's does.
func (s *Store) RedeemDeviceAuthorization(ctx context.Context, deviceCodeHash string, now time.Time, g store.Grant, rt *store.RefreshToken) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("redeem device authorization", err)
	}
	if rt != nil && rt.GrantID != g.ID {
		return s.wrap("redeem device authorization", errors.New("refresh token belongs to a different grant"))
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		var grantID string
		err := tx.QueryRowContext(ctx, s.q(`
			UPDATE gatehouse_device_authorizations SET redeemed_at = ?
			WHERE device_code_hash = ? AND status = ? AND redeemed_at = 0 AND expires_at > ?
			RETURNING grant_id`),
			nowMs, deviceCodeHash, string(store.DeviceApproved), nowMs).Scan(&grantID)
		if errors.Is(err, sql.ErrNoRows) {
			var redeemedAt, expiresAt int64
			var status string
			err := tx.QueryRowContext(ctx, s.q(`SELECT status, expires_at, redeemed_at FROM gatehouse_device_authorizations WHERE device_code_hash = ?`),
				deviceCodeHash).Scan(&status, &expiresAt, &redeemedAt)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return store.ErrNotFound
			case err != nil:
				return err
			case redeemedAt != 0:
				return store.ErrCodeReused
			case expiresAt <= nowMs || status != string(store.DeviceApproved):
				return store.ErrNotFound
			}
			return errRaced
		}
		if err != nil {
			return err
		}
		if grantID != g.ID {
			return errors.New("grant id differs from the device authorization's")
		}
		return s.startGrant(ctx, tx, g, rt, nowMs)
	})
	return s.wrap("redeem device authorization", err)
}

func scanDevice(row rowScanner) (store.DeviceAuthorization, error) {
	var (
		d                                                                           store.DeviceAuthorization
		scopes, resources, status                                                   string
		intervalMs, createdAt, expiresAt, polledAt, authTime, decidedAt, redeemedAt int64
	)
	err := row.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.GrantID, &d.ClientID, &scopes, &resources, &intervalMs,
		&createdAt, &expiresAt, &polledAt, &status, &d.Subject, &d.SessionIDHash, &authTime, &decidedAt, &redeemedAt)
	if err != nil {
		return store.DeviceAuthorization{}, err
	}
	if d.Scopes, err = decodeList(scopes); err != nil {
		return store.DeviceAuthorization{}, err
	}
	if d.Resources, err = decodeList(resources); err != nil {
		return store.DeviceAuthorization{}, err
	}
	d.Interval = time.Duration(intervalMs) * time.Millisecond
	d.Status = store.DeviceStatus(status)
	d.CreatedAt, d.ExpiresAt, d.LastPolledAt = fromMillis(createdAt), fromMillis(expiresAt), fromMillis(polledAt)
	d.AuthTime, d.DecidedAt, d.RedeemedAt = fromMillis(authTime), fromMillis(decidedAt), fromMillis(redeemedAt)
	return d, nil
}

// CreatePushedRequest implements store.Store.
func (s *Store) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	_, err := s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_pushed_requests (hash, client_id, params, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?)`),
		p.Hash, p.ClientID, p.Params, millis(p.CreatedAt), millis(p.ExpiresAt), millis(p.UsedAt))
	return s.wrap("create pushed request", s.insertErr(err))
}

// UsePushedRequest implements store.Store: one conditional UPDATE, so a
// request_uri is used once however many instances race for it.
func (s *Store) UsePushedRequest(ctx context.Context, hash, clientID string, now time.Time) (store.PushedRequest, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return store.PushedRequest{}, s.wrap("use pushed request", err)
	}
	p := store.PushedRequest{Hash: hash, ClientID: clientID}
	var createdAt, expiresAt int64
	err = s.inWriteTx(ctx, func(tx *txn) error {
		return tx.QueryRowContext(ctx, s.q(`UPDATE gatehouse_pushed_requests SET used_at = ?
			WHERE hash = ? AND client_id = ? AND used_at = 0 AND expires_at > ?
			RETURNING params, created_at, expires_at`),
			nowMs, hash, clientID, nowMs).Scan(&p.Params, &createdAt, &expiresAt)
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.PushedRequest{}, s.wrap("use pushed request", err)
	}
	p.CreatedAt, p.ExpiresAt, p.UsedAt = fromMillis(createdAt), fromMillis(expiresAt), now.Truncate(time.Millisecond)
	return p, nil
}
