package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const userColumns = `id, username, username_key, email, email_key, email_verified, name, groups_json, groups_key,
	disabled, password_hash, created_at, updated_at, last_login_at`

const selectUser = `SELECT ` + userColumns + ` FROM gatehouse_users`

// CreateUser implements store.Store. The id is reserved first, so an id
// that was ever used collides even after its user was deleted.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	groups, groupsKey, err := encodeGroups(u.Groups)
	if err != nil {
		return s.wrap("create user", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_user_ids (id, created_at) VALUES (?, ?)`), u.ID, millis(u.CreatedAt))
		if err != nil {
			return s.insertErr(err)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Username, store.UserKey(u.Username), u.Email, store.UserKey(u.Email), boolInt(u.EmailVerified), u.Name,
			groups, groupsKey, boolInt(u.Disabled), u.PasswordHash, millis(u.CreatedAt), millis(u.UpdatedAt), millis(u.LastLoginAt))
		return s.insertErr(err)
	})
	return s.wrap("create user", err)
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return s.getUserBy(ctx, "get user", `id = ?`, id)
}

// GetUserByUsername implements store.Store.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return s.getUserBy(ctx, "get user by username", `username_key = ?`, store.UserKey(username))
}

// GetUserByEmail implements store.Store. The empty email names nobody.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	key := store.UserKey(email)
	if key == "" {
		return store.User{}, s.wrap("get user by email", store.ErrNotFound)
	}
	// The unique index on email_key is partial (users without an email
	// are not in it); the repeated condition lets the planner use it,
	// whatever the value (a generic plan cannot see that it is not '').
	return s.getUserBy(ctx, "get user by email", `email_key = ? AND email_key <> ''`, key)
}

func (s *Store) getUserBy(ctx context.Context, op, where, arg string) (store.User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, s.q(selectUser+` WHERE `+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return u, s.wrap(op, err)
}

// ListUsers implements store.Store. Prefix filters are LIKE patterns on
// the lower-cased columns, so both databases match alike (SQLite's LIKE
// ignores ASCII case, PostgreSQL's does not; the keys have none).
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	if f.Limit <= 0 {
		return nil, s.wrap("list users", errors.New("limit must be positive"))
	}
	where := []string{`id > ?`}
	args := []any{f.After}
	if p := store.UserKey(f.UsernamePrefix); p != "" {
		where = append(where, `username_key LIKE ? ESCAPE '\'`)
		args = append(args, likeEscape(p)+"%")
	}
	if p := store.UserKey(f.EmailPrefix); p != "" {
		where = append(where, `email_key LIKE ? ESCAPE '\'`)
		args = append(args, likeEscape(p)+"%")
	}
	if p := store.UserKey(f.GroupPrefix); p != "" {
		// A group starts with p when the JSON array holds a string
		// starting with p: its opening quote, then p as JSON spells it.
		enc, err := json.Marshal(p)
		if err != nil {
			return nil, s.wrap("list users", err)
		}
		where = append(where, `groups_key LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(strings.TrimSuffix(string(enc), `"`))+"%")
	}
	args = append(args, f.Limit)
	rows, err := s.reader.QueryContext(ctx, s.q(selectUser+` WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`), args...)
	if err != nil {
		return nil, s.wrap("list users", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, s.wrap("list users", rows.Err())
}

// likeEscape escapes LIKE's wildcards and its escape character.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateUser implements store.Store.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	groups, groupsKey, err := encodeGroups(u.Groups)
	if err != nil {
		return s.wrap("update user", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_users SET username = ?, username_key = ?, email = ?, email_key = ?,
		email_verified = ?, name = ?, groups_json = ?, groups_key = ?, updated_at = ? WHERE id = ?`),
		u.Username, store.UserKey(u.Username), u.Email, store.UserKey(u.Email), boolInt(u.EmailVerified), u.Name,
		groups, groupsKey, millis(u.UpdatedAt), u.ID)
	if err != nil {
		return s.wrap("update user", s.insertErr(err))
	}
	return s.wrap("update user", oneRow(res))
}

// SetUserPassword implements store.Store.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_users SET password_hash = ?, updated_at = ? WHERE id = ?`),
		passwordHash, millis(now), id)
	if err != nil {
		return s.wrap("set user password", err)
	}
	return s.wrap("set user password", oneRow(res))
}

// RecordUserLogin implements store.Store.
func (s *Store) RecordUserLogin(ctx context.Context, id string, now time.Time) error {
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_users SET last_login_at = ? WHERE id = ?`), millis(now), id)
	if err != nil {
		return s.wrap("record user login", err)
	}
	return s.wrap("record user login", oneRow(res))
}

// SetUserDisabled implements store.Store.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("set user disabled", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_users SET disabled = ?, updated_at = ? WHERE id = ?`),
			boolInt(disabled), nowMs, id)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil || !disabled {
			return err
		}
		_, _, err = s.revokeUserSessions(ctx, tx, id, "", nowMs)
		return err
	})
	return s.wrap("set user disabled", err)
}

// DeleteUser implements store.Store; the user's factors and recovery
// codes go with them. Sessions and grants are revoked, not
// deleted, so the revocation feed tells gates and caches about them.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("delete user", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_users WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		if _, _, err := s.revokeUserSessions(ctx, tx, id, "", nowMs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_consents WHERE subject = ?`), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_user_factors WHERE user_id = ?`), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_recovery_codes WHERE user_id = ?`), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_user_tokens WHERE user_id = ?`), id); err != nil {
			return err
		}
		// The upstream accounts are free again: signing in with one later
		// makes a new user (or a new link), never the deleted one.
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_linked_identities WHERE user_id = ?`), id)
		return err
	})
	return s.wrap("delete user", err)
}

// RevokeUserSessions implements store.Store.
func (s *Store) RevokeUserSessions(ctx context.Context, subject, keep string, now time.Time) (int, int, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return 0, 0, s.wrap("revoke user sessions", err)
	}
	var sessions, grants int
	err = s.inWriteTx(ctx, func(tx *txn) error {
		var err error
		sessions, grants, err = s.revokeUserSessions(ctx, tx, subject, keep, nowMs)
		return err
	})
	return sessions, grants, s.wrap("revoke user sessions", err)
}

func (s *Store) revokeUserSessions(ctx context.Context, tx *txn, subject, keep string, nowMs int64) (int, int, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_sessions SET revoked_at = ? WHERE subject = ? AND revoked_at = 0 AND id_hash <> ?`),
		nowMs, subject, keep)
	if err != nil {
		return 0, 0, err
	}
	sessions, err := res.RowsAffected()
	if err != nil {
		return 0, 0, err
	}
	res, err = tx.ExecContext(ctx, s.q(`UPDATE gatehouse_grants SET revoked_at = ? WHERE subject = ? AND revoked_at = 0 AND (? = '' OR session_id_hash <> ?)`),
		nowMs, subject, keep, keep)
	if err != nil {
		return 0, 0, err
	}
	grants, err := res.RowsAffected()
	return int(sessions), int(grants), err
}

// ListUserSessions implements store.Store.
func (s *Store) ListUserSessions(ctx context.Context, subject string, now time.Time, limit int) ([]store.Session, error) {
	if limit <= 0 {
		return nil, s.wrap("list user sessions", errors.New("limit must be positive"))
	}
	rows, err := s.reader.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM gatehouse_sessions
		WHERE subject = ? AND revoked_at = 0 AND expires_at > ? ORDER BY created_at DESC, id_hash LIMIT ?`), subject, millis(now), limit)
	if err != nil {
		return nil, s.wrap("list user sessions", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, s.wrap("list user sessions", err)
		}
		out = append(out, sess)
	}
	return out, s.wrap("list user sessions", rows.Err())
}

// CreateUserToken implements store.Store.
func (s *Store) CreateUserToken(ctx context.Context, t store.UserToken) error {
	_, err := s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_user_tokens (hash, kind, user_id, created_at, expires_at, used_at, email)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), t.Hash, string(t.Kind), t.UserID, millis(t.CreatedAt), millis(t.ExpiresAt), millis(t.UsedAt), t.Email)
	return s.wrap("create user token", s.insertErr(err))
}

// UseUserToken implements store.Store: one conditional UPDATE decides
// which of concurrent uses wins.
func (s *Store) UseUserToken(ctx context.Context, hash string, kind store.UserTokenKind, now time.Time) (store.UserToken, error) {
	nowMs, err := nowMillis(now)
	if err != nil {
		return store.UserToken{}, s.wrap("use user token", err)
	}
	var t store.UserToken
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_user_tokens SET used_at = ?
			WHERE hash = ? AND kind = ? AND used_at = 0 AND expires_at > ?`), nowMs, hash, string(kind), nowMs)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		t, err = s.getUserToken(ctx, tx, hash)
		return err
	})
	return t, s.wrap("use user token", err)
}

// GetUserToken implements store.Store.
func (s *Store) GetUserToken(ctx context.Context, hash string) (store.UserToken, error) {
	t, err := s.getUserToken(ctx, s.reader, hash)
	return t, s.wrap("get user token", err)
}

func (s *Store) getUserToken(ctx context.Context, db queryRower, hash string) (store.UserToken, error) {
	var (
		t                        store.UserToken
		kind                     string
		created, expires, usedAt int64
	)
	err := db.QueryRowContext(ctx, s.q(`SELECT hash, kind, user_id, created_at, expires_at, used_at, email FROM gatehouse_user_tokens WHERE hash = ?`), hash).
		Scan(&t.Hash, &kind, &t.UserID, &created, &expires, &usedAt, &t.Email)
	if errors.Is(err, sql.ErrNoRows) {
		return store.UserToken{}, store.ErrNotFound
	}
	t.Kind, t.CreatedAt, t.ExpiresAt, t.UsedAt = store.UserTokenKind(kind), fromMillis(created), fromMillis(expires), fromMillis(usedAt)
	return t, err
}

// oneRow turns an UPDATE or DELETE that matched nothing into ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// encodeGroups returns the groups as stored and their lower-cased form
// for the prefix filter.
func encodeGroups(groups []string) (string, string, error) {
	enc, err := encodeList(groups)
	if err != nil {
		return "", "", err
	}
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = store.UserKey(g)
	}
	encKey, err := encodeList(keys)
	return enc, encKey, err
}

func scanUser(row rowScanner) (store.User, error) {
	var (
		u                                      store.User
		usernameKey, emailKey, groups, groupsK string
		verified, disabled                     int64
		created, updated, lastLogin            int64
	)
	err := row.Scan(&u.ID, &u.Username, &usernameKey, &u.Email, &emailKey, &verified, &u.Name, &groups, &groupsK,
		&disabled, &u.PasswordHash, &created, &updated, &lastLogin)
	if err != nil {
		return store.User{}, err
	}
	if u.Groups, err = decodeList(groups); err != nil {
		return store.User{}, err
	}
	u.EmailVerified, u.Disabled = verified != 0, disabled != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMillis(created), fromMillis(updated), fromMillis(lastLogin)
	return u, nil
}
