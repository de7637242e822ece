package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

var _ store.FederationStore = (*Store)(nil)

const linkColumns = `provider, upstream_subject, user_id, email, created_at, last_login_at`

// LinkIdentity implements store.FederationStore: the primary key decides
// which of concurrent links of one upstream account wins.
func (s *Store) LinkIdentity(ctx context.Context, l store.LinkedIdentity) error {
	_, err := s.writer.ExecContext(ctx, s.q(`INSERT INTO gatehouse_linked_identities (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
		l.Provider, l.UpstreamSubject, l.UserID, l.Email, millis(l.CreatedAt), millis(l.LastLoginAt))
	return s.wrap("link identity", s.insertErr(err))
}

// GetLinkedIdentity implements store.FederationStore.
func (s *Store) GetLinkedIdentity(ctx context.Context, provider, upstreamSubject string) (store.LinkedIdentity, error) {
	l, err := scanLink(s.reader.QueryRowContext(ctx, s.q(`SELECT `+linkColumns+` FROM gatehouse_linked_identities
		WHERE provider = ? AND upstream_subject = ?`), provider, upstreamSubject))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return l, s.wrap("get linked identity", err)
}

// ListLinkedIdentities implements store.FederationStore.
func (s *Store) ListLinkedIdentities(ctx context.Context, userID string) ([]store.LinkedIdentity, error) {
	rows, err := s.reader.QueryContext(ctx, s.q(`SELECT `+linkColumns+` FROM gatehouse_linked_identities
		WHERE user_id = ? ORDER BY created_at, provider, upstream_subject`), userID)
	if err != nil {
		return nil, s.wrap("list linked identities", err)
	}
	defer rows.Close()
	var out []store.LinkedIdentity
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, s.wrap("list linked identities", err)
		}
		out = append(out, l)
	}
	return out, s.wrap("list linked identities", rows.Err())
}

// TouchLinkedIdentity implements store.FederationStore.
func (s *Store) TouchLinkedIdentity(ctx context.Context, provider, upstreamSubject, email string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("touch linked identity", err)
	}
	res, err := s.writer.ExecContext(ctx, s.q(`UPDATE gatehouse_linked_identities SET last_login_at = ?, email = ?
		WHERE provider = ? AND upstream_subject = ?`), nowMs, email, provider, upstreamSubject)
	if err == nil {
		err = oneRow(res)
	}
	return s.wrap("touch linked identity", err)
}

// UnlinkIdentity implements store.FederationStore.
func (s *Store) UnlinkIdentity(ctx context.Context, userID, provider, upstreamSubject string) error {
	res, err := s.writer.ExecContext(ctx, s.q(`DELETE FROM gatehouse_linked_identities
		WHERE user_id = ? AND provider = ? AND upstream_subject = ?`), userID, provider, upstreamSubject)
	if err == nil {
		err = oneRow(res)
	}
	return s.wrap("unlink identity", err)
}

func scanLink(row rowScanner) (store.LinkedIdentity, error) {
	var (
		l                  store.LinkedIdentity
		created, lastLogin int64
	)
	if err := row.Scan(&l.Provider, &l.UpstreamSubject, &l.UserID, &l.Email, &created, &lastLogin); err != nil {
		return store.LinkedIdentity{}, err
	}
	l.CreatedAt, l.LastLoginAt = fromMillis(created), fromMillis(lastLogin)
	return l, nil
}
