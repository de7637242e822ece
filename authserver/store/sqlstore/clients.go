package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// clientColumns are gatehouse_clients' columns, in the order clientArgs
// returns values and scanClient reads them.
var clientColumns = []string{
	"id", "name", "description", "type", "secret_hashes", "pending_secret_hash",
	"redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri", "scopes", "logo_uri", "client_uri", "policy_uri", "tos_uri",
	"grant_types", "token_endpoint_auth_method", "id_token_signed_response_alg",
	"access_token_lifetime", "refresh_token_lifetime", "bypass_consent_for_offline_access",
	"contacts", "software_id", "software_version", "dynamic", "registration_access_token_hash",
	"created_at", "updated_at", "revision", "require_pushed_authorization_requests",
	"jwks", "jwks_uri", "dpop_bound_access_tokens",
}

// The statements are built once from clientColumns so the three cannot
// drift apart.
var (
	selectClient = `SELECT ` + strings.Join(clientColumns, ", ") + ` FROM gatehouse_clients`
	insertClient = `INSERT INTO gatehouse_clients (` + strings.Join(clientColumns, ", ") +
		`) VALUES (?` + strings.Repeat(", ?", len(clientColumns)-1) + `)`
	// updateClient sets every column but id and created_at, then matches
	// id and the expected revision.
	updateClient = func() string {
		var set []string
		for _, col := range clientColumns {
			if col != "id" && col != "created_at" {
				set = append(set, col+" = ?")
			}
		}
		return `UPDATE gatehouse_clients SET ` + strings.Join(set, ", ") + ` WHERE id = ? AND revision = ?`
	}()
)

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	c.Revision = 1
	args, err := clientArgs(c)
	if err != nil {
		return s.wrap("create client", err)
	}
	_, err = s.writer.ExecContext(ctx, s.q(insertClient), args...)
	return s.wrap("create client", s.insertErr(err))
}

// GetClient implements store.Store.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	row := s.reader.QueryRowContext(ctx, s.q(selectClient+` WHERE id = ?`), id)
	c, err := scanClient(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return c, s.wrap("get client", err)
}

// ListClients implements store.Store.
func (s *Store) ListClients(ctx context.Context, after string, limit int) ([]store.Client, error) {
	if limit <= 0 {
		return nil, s.wrap("list clients", errors.New("limit must be positive"))
	}
	rows, err := s.reader.QueryContext(ctx, s.q(selectClient+` WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, s.wrap("list clients", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.wrap("list clients", err)
		}
		out = append(out, c)
	}
	return out, s.wrap("list clients", rows.Err())
}

// UpdateClient implements store.Store: one conditional UPDATE on the
// revision, so of two concurrent updates of the same revision exactly one
// applies. created_at is left as stored.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	next := c
	next.Revision = c.Revision + 1
	values, err := clientArgs(next)
	if err != nil {
		return s.wrap("update client", err)
	}
	var args []any
	for i, col := range clientColumns {
		if col != "id" && col != "created_at" {
			args = append(args, values[i])
		}
	}
	args = append(args, c.ID, c.Revision)
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(updateClient), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		// Nothing matched: tell a missing client from a newer revision.
		var n int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM gatehouse_clients WHERE id = ?`), c.ID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return store.ErrConflict
	})
	return s.wrap("update client", err)
}

// DeleteClient implements store.Store. Grants are revoked rather than
// deleted so the revocation feed (RevokedSince) tells caches about them;
// garbage collection removes them when they expire.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	nowMs, err := nowMillis(now)
	if err != nil {
		return s.wrap("delete client", err)
	}
	err = s.inWriteTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_clients WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE gatehouse_grants SET revoked_at = ? WHERE client_id = ? AND revoked_at = 0`), nowMs, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_consents WHERE client_id = ?`), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM gatehouse_auth_codes WHERE client_id = ?`), id)
		return err
	})
	return s.wrap("delete client", err)
}

// clientArgs returns c's column values in clientColumns order.
func clientArgs(c store.Client) ([]any, error) {
	lists := make([]string, 0, 6)
	for _, l := range [][]string{c.SecretHashes, c.RedirectURIs, c.PostLogoutRedirectURIs, c.Scopes, c.GrantTypes, c.Contacts} {
		enc, err := encodeList(l)
		if err != nil {
			return nil, err
		}
		lists = append(lists, enc)
	}
	return []any{
		c.ID, c.Name, c.Description, c.Type, lists[0], c.PendingSecretHash,
		lists[1], lists[2], c.BackchannelLogoutURI, lists[3], c.LogoURI, c.ClientURI, c.PolicyURI, c.TOSURI,
		lists[4], c.TokenEndpointAuthMethod, c.IDTokenSigningAlg,
		c.AccessTokenLifetime.Milliseconds(), c.RefreshTokenLifetime.Milliseconds(), boolInt(c.BypassConsentForOfflineAccess),
		lists[5], c.SoftwareID, c.SoftwareVersion, boolInt(c.Dynamic), c.RegistrationAccessTokenHash,
		millis(c.CreatedAt), millis(c.UpdatedAt), c.Revision, boolInt(c.RequirePushedAuthorizationRequests),
		c.JWKS, c.JWKSURI, boolInt(c.DPoPBoundAccessTokens),
	}, nil
}

func scanClient(row rowScanner) (store.Client, error) {
	var (
		c                                      store.Client
		secrets, redirects, postLogout, scopes string
		grantTypes, contacts                   string
		accessLifetime, refreshLifetime        int64
		bypass, dynamic, createdAt, updatedAt  int64
		requirePAR, dpopBound                  int64
	)
	err := row.Scan(&c.ID, &c.Name, &c.Description, &c.Type, &secrets, &c.PendingSecretHash,
		&redirects, &postLogout, &c.BackchannelLogoutURI, &scopes, &c.LogoURI, &c.ClientURI, &c.PolicyURI, &c.TOSURI,
		&grantTypes, &c.TokenEndpointAuthMethod, &c.IDTokenSigningAlg,
		&accessLifetime, &refreshLifetime, &bypass,
		&contacts, &c.SoftwareID, &c.SoftwareVersion, &dynamic, &c.RegistrationAccessTokenHash,
		&createdAt, &updatedAt, &c.Revision, &requirePAR,
		&c.JWKS, &c.JWKSURI, &dpopBound)
	if err != nil {
		return store.Client{}, err
	}
	for _, l := range []struct {
		dst *[]string
		src string
	}{
		{&c.SecretHashes, secrets}, {&c.RedirectURIs, redirects}, {&c.PostLogoutRedirectURIs, postLogout},
		{&c.Scopes, scopes}, {&c.GrantTypes, grantTypes}, {&c.Contacts, contacts},
	} {
		if *l.dst, err = decodeList(l.src); err != nil {
			return store.Client{}, err
		}
	}
	c.AccessTokenLifetime = time.Duration(accessLifetime) * time.Millisecond
	c.RefreshTokenLifetime = time.Duration(refreshLifetime) * time.Millisecond
	c.BypassConsentForOfflineAccess = bypass != 0
	c.Dynamic = dynamic != 0
	c.RequirePushedAuthorizationRequests = requirePAR != 0
	c.DPoPBoundAccessTokens = dpopBound != 0
	c.CreatedAt = fromMillis(createdAt)
	c.UpdatedAt = fromMillis(updatedAt)
	return c, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
