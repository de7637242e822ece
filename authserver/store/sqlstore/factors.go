package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const factorColumns = `id, user_id, kind, name, secret, created_at, confirmed_at, last_used_at, last_step`

// CreateFactor implements store.FactorStore.
func (s *Store) CreateFactor(ctx context.Context, f store.UserFactor) error {
	_, err := s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_user_factors (`+factorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		f.ID, f.UserID, string(f.Kind), f.Name, encodeBytes(f.Secret),
		millis(f.CreatedAt), millis(f.ConfirmedAt), millis(f.LastUsedAt), f.LastStep)
	return s.wrap("create factor", s.insertErr(err))
}

// ListFactors implements store.FactorStore.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.UserFactor, error) {
	rows, err := s.reader.QueryContext(ctx, s.q(`SELECT `+factorColumns+` FROM gatehouse_user_factors
		WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, s.wrap("list factors", err)
	}
	defer rows.Close()
	var out []store.UserFactor
	for rows.Next() {
		var (
			f                                        store.UserFactor
			kind, secret                             string
			createdAt, confirmedAt, lastUsedAt, step int64
		)
		if err := rows.Scan(&f.ID, &f.UserID, &kind, &f.Name, &secret, &createdAt, &confirmedAt, &lastUsedAt, &step); err != nil {
			return nil, s.wrap("list factors", err)
		}
		if f.Secret, err = decodeBytes(secret); err != nil {
			return nil, s.wrap("list factors", err)
		}
		f.Kind, f.LastStep = store.FactorKind(kind), step
		f.CreatedAt, f.ConfirmedAt, f.LastUsedAt = fromMillis(createdAt), fromMillis(confirmedAt), fromMillis(lastUsedAt)
		out = append(out, f)
	}
	return out, s.wrap("list factors", rows.Err())
}

// ConfirmFactor implements store.FactorStore.
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, step int64, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("confirm factor", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_user_factors
		SET confirmed_at = ?, last_used_at = ?, last_step = ?
		WHERE id = ? AND user_id = ? AND confirmed_at = 0`), nowMs, nowMs, step, id, userID)
	return s.wrap("confirm factor", affectedOne(res, err))
}

// UseFactorStep implements store.FactorStore. The conditional UPDATE
// decides between concurrent uses of one code: only a step after the
// stored one is accepted.
func (s *Store) UseFactorStep(ctx context.Context, userID, id string, step int64, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("use factor step", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_user_factors SET last_step = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND confirmed_at <> 0 AND last_step < ?`), step, nowMs, id, userID, step)
	err = affectedOne(res, err)
	if errors.Is(err, store.ErrNotFound) {
		var n int
		qerr := s.writer.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM gatehouse_user_factors
			WHERE id = ? AND user_id = ? AND confirmed_at <> 0`), id, userID).Scan(&n)
		switch {
		case qerr != nil:
			err = qerr
		case n == 1:
			err = store.ErrStepUsed
		}
	}
	return s.wrap("use factor step", err)
}

// DeleteFactor implements store.FactorStore.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) error {
	res, err := s.writer.ExecContext(ctx, s.q(`DELETE FROM gatehouse_user_factors WHERE id = ? AND user_id = ?`), id, userID)
	return s.wrap("delete factor", affectedOne(res, err))
}

// DeleteFactors implements store.FactorStore.
func (s *Store) DeleteFactors(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_user_factors WHERE user_id = ?`), userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_recovery_codes WHERE user_id = ?`), userID)
		return err
	})
	return int(n), s.wrap("delete factors", err)
}

// ReplaceRecoveryCodes implements store.FactorStore.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("replace recovery codes", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_recovery_codes WHERE user_id = ?`), userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_recovery_codes (hash, user_id, created_at) VALUES (?, ?, ?)`),
				h, userID, nowMs); err != nil {
				return s.insertErr(err)
			}
		}
		return nil
	})
	return s.wrap("replace recovery codes", err)
}

// UseRecoveryCode implements store.FactorStore.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("use recovery code", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_recovery_codes SET used_at = ?
		WHERE hash = ? AND user_id = ? AND used_at = 0`), nowMs, hash, userID)
	return s.wrap("use recovery code", affectedOne(res, err))
}

// CountRecoveryCodes implements store.FactorStore.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM gatehouse_recovery_codes WHERE user_id = ? AND used_at = 0`), userID).Scan(&n)
	return n, s.wrap("count recovery codes", err)
}

// affectedOne turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
