package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one step of the schema. The list is append-only: a released
// migration is never edited or reordered, later changes get a new version.
type migration struct {
	version int64
	stmts   []string // run in order, one statement each
}

// migrations is the schema, oldest first, versions 1, 2, 3, ...
//
// Column conventions: times are BIGINT Unix milliseconds (0 = zero time),
// lists are JSON arrays in TEXT, bytes are base64 in TEXT.
var migrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE gatehouse_sessions (
			id_hash    TEXT   NOT NULL PRIMARY KEY,
			subject    TEXT   NOT NULL,
			auth_time  BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			revoked_at BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_sessions_expires_at ON gatehouse_sessions (expires_at)`,

		`CREATE TABLE gatehouse_auth_codes (
			hash                  TEXT   NOT NULL PRIMARY KEY,
			grant_id              TEXT   NOT NULL,
			client_id             TEXT   NOT NULL,
			subject               TEXT   NOT NULL,
			session_id_hash       TEXT   NOT NULL,
			redirect_uri          TEXT   NOT NULL,
			scopes                TEXT   NOT NULL,
			resources             TEXT   NOT NULL,
			nonce                 TEXT   NOT NULL,
			code_challenge        TEXT   NOT NULL,
			code_challenge_method TEXT   NOT NULL,
			auth_time             BIGINT NOT NULL,
			created_at            BIGINT NOT NULL,
			expires_at            BIGINT NOT NULL,
			redeemed_at           BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_auth_codes_expires_at ON gatehouse_auth_codes (expires_at)`,

		`CREATE TABLE gatehouse_grants (
			id              TEXT   NOT NULL PRIMARY KEY,
			client_id       TEXT   NOT NULL,
			subject         TEXT   NOT NULL,
			session_id_hash TEXT   NOT NULL,
			scopes          TEXT   NOT NULL,
			resources       TEXT   NOT NULL,
			auth_time       BIGINT NOT NULL,
			created_at      BIGINT NOT NULL,
			expires_at      BIGINT NOT NULL,
			revoked_at      BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_grants_expires_at ON gatehouse_grants (expires_at)`,

		// A token lives and dies with its grant. The cascade is a safety
		// net: garbage collection deletes a grant's tokens explicitly so
		// it can count them.
		`CREATE TABLE gatehouse_refresh_tokens (
			hash       TEXT   NOT NULL PRIMARY KEY,
			grant_id   TEXT   NOT NULL REFERENCES gatehouse_grants (id) ON DELETE CASCADE,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			rotated_at BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_refresh_tokens_grant_id ON gatehouse_refresh_tokens (grant_id)`,
		`CREATE INDEX gatehouse_refresh_tokens_expires_at ON gatehouse_refresh_tokens (expires_at)`,

		`CREATE TABLE gatehouse_consents (
			subject    TEXT   NOT NULL,
			client_id  TEXT   NOT NULL,
			scopes     TEXT   NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			PRIMARY KEY (subject, client_id)
		)`,

		`CREATE TABLE gatehouse_signing_keys (
			id         TEXT   NOT NULL PRIMARY KEY,
			algorithm  TEXT   NOT NULL,
			sealed     TEXT   NOT NULL,
			created_at BIGINT NOT NULL,
			not_after  BIGINT NOT NULL,
			retire_at  BIGINT NOT NULL
		)`,

		`CREATE TABLE gatehouse_secrets (
			name       TEXT   NOT NULL PRIMARY KEY,
			value      TEXT   NOT NULL,
			created_at BIGINT NOT NULL
		)`,
	}},
	{version: 2, stmts: []string{
		// The revocation feed (RevokedSince) reads by revocation time.
		`CREATE INDEX gatehouse_grants_revoked_at ON gatehouse_grants (revoked_at)`,
		`CREATE INDEX gatehouse_sessions_revoked_at ON gatehouse_sessions (revoked_at)`,
	}},
	{version: 3, stmts: []string{
		// Clients created at run time (clients.go). Durations are
		// milliseconds; revision drives optimistic updates.
		`CREATE TABLE gatehouse_clients (
			id                                TEXT   NOT NULL PRIMARY KEY,
			name                              TEXT   NOT NULL,
			description                       TEXT   NOT NULL,
			type                              TEXT   NOT NULL,
			secret_hashes                     TEXT   NOT NULL,
			pending_secret_hash               TEXT   NOT NULL,
			redirect_uris                     TEXT   NOT NULL,
			post_logout_redirect_uris         TEXT   NOT NULL,
			backchannel_logout_uri            TEXT   NOT NULL,
			scopes                            TEXT   NOT NULL,
			logo_uri                          TEXT   NOT NULL,
			client_uri                        TEXT   NOT NULL,
			policy_uri                        TEXT   NOT NULL,
			tos_uri                           TEXT   NOT NULL,
			grant_types                       TEXT   NOT NULL,
			token_endpoint_auth_method        TEXT   NOT NULL,
			id_token_signed_response_alg      TEXT   NOT NULL,
			access_token_lifetime             BIGINT NOT NULL,
			refresh_token_lifetime            BIGINT NOT NULL,
			bypass_consent_for_offline_access BIGINT NOT NULL,
			contacts                          TEXT   NOT NULL,
			software_id                       TEXT   NOT NULL,
			software_version                  TEXT   NOT NULL,
			dynamic                           BIGINT NOT NULL,
			registration_access_token_hash    TEXT   NOT NULL,
			created_at                        BIGINT NOT NULL,
			updated_at                        BIGINT NOT NULL,
			revision                          BIGINT NOT NULL
		)`,
		// Deleting a client revokes its grants and drops its consents and
		// codes, found by client.
		`CREATE INDEX gatehouse_grants_client_id ON gatehouse_grants (client_id)`,
		`CREATE INDEX gatehouse_consents_client_id ON gatehouse_consents (client_id)`,
		`CREATE INDEX gatehouse_auth_codes_client_id ON gatehouse_auth_codes (client_id)`,
	}},
	{version: 4, stmts: []string{
		// Access tokens revoked one by one (RFC 7009), kept until they
		// would have expired anyway.
		`CREATE TABLE gatehouse_denylisted_tokens (
			jti        TEXT   NOT NULL PRIMARY KEY,
			revoked_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX gatehouse_denylisted_tokens_revoked_at ON gatehouse_denylisted_tokens (revoked_at)`,
		`CREATE INDEX gatehouse_denylisted_tokens_expires_at ON gatehouse_denylisted_tokens (expires_at)`,
		// The connected-apps page shows when an app last got tokens.
		`ALTER TABLE gatehouse_consents ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0`,
		// Logout finds a session's grants (back-channel logout); revoking
		// an app finds a user's grants for one client.
		`CREATE INDEX gatehouse_grants_session_id_hash ON gatehouse_grants (session_id_hash)`,
		`CREATE INDEX gatehouse_grants_subject_client_id ON gatehouse_grants (subject, client_id)`,
	}},
	{version: 5, stmts: []string{
		// Users created at run time (users.go). username_key and email_key
		// are the lower-cased forms (store.UserKey) that uniqueness and
		// look-ups use; groups_key likewise for the group prefix filter.
		`CREATE TABLE gatehouse_users (
			id             TEXT   NOT NULL PRIMARY KEY,
			username       TEXT   NOT NULL,
			username_key   TEXT   NOT NULL,
			email          TEXT   NOT NULL,
			email_key      TEXT   NOT NULL,
			email_verified BIGINT NOT NULL,
			name           TEXT   NOT NULL,
			groups_json    TEXT   NOT NULL,
			groups_key     TEXT   NOT NULL,
			disabled       BIGINT NOT NULL,
			password_hash  TEXT   NOT NULL,
			created_at     BIGINT NOT NULL,
			updated_at     BIGINT NOT NULL,
			last_login_at  BIGINT NOT NULL
		)`,
		`CREATE UNIQUE INDEX gatehouse_users_username_key ON gatehouse_users (username_key)`,
		`CREATE UNIQUE INDEX gatehouse_users_email_key ON gatehouse_users (email_key) WHERE email_key <> ''`,
		// Every id ever given to a user, so a deleted user's id (their
		// "sub" at every app) is never given to someone else.
		`CREATE TABLE gatehouse_user_ids (
			id         TEXT   NOT NULL PRIMARY KEY,
			created_at BIGINT NOT NULL
		)`,
		// Invitations and password reset links, by hash.
		`CREATE TABLE gatehouse_user_tokens (
			hash       TEXT   NOT NULL PRIMARY KEY,
			kind       TEXT   NOT NULL,
			user_id    TEXT   NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			used_at    BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_user_tokens_user_id ON gatehouse_user_tokens (user_id)`,
		`CREATE INDEX gatehouse_user_tokens_expires_at ON gatehouse_user_tokens (expires_at)`,
		// Ending a user's sessions finds them by subject; the account page
		// lists them with the browser they were started in.
		`CREATE INDEX gatehouse_sessions_subject ON gatehouse_sessions (subject)`,
		`ALTER TABLE gatehouse_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''`,
	}},
	{version: 6, stmts: []string{
		// Consent names the resources it covers (RFC 8707); consents
		// recorded before cover none, so a request naming a resource asks
		// again.
		`ALTER TABLE gatehouse_consents ADD COLUMN resources TEXT NOT NULL DEFAULT '[]'`,
	}},
	{version: 7, stmts: []string{
		// A token confirming a new email address carries that address.
		`ALTER TABLE gatehouse_user_tokens ADD COLUMN email TEXT NOT NULL DEFAULT ''`,
	}},
	{version: 8, stmts: []string{
		// Audit records (audit.go), kept for the configured retention.
		// Ids sort in the order records were made, so pages are cut by id.
		`CREATE TABLE gatehouse_audit (
			id          TEXT   NOT NULL PRIMARY KEY,
			at          BIGINT NOT NULL,
			type        TEXT   NOT NULL,
			result      TEXT   NOT NULL,
			method      TEXT   NOT NULL,
			grant_type  TEXT   NOT NULL,
			client_type TEXT   NOT NULL,
			kind        TEXT   NOT NULL,
			subject     TEXT   NOT NULL,
			username    TEXT   NOT NULL,
			client_id   TEXT   NOT NULL,
			grant_id    TEXT   NOT NULL,
			scopes      TEXT   NOT NULL,
			client_ip   TEXT   NOT NULL
		)`,
		`CREATE INDEX gatehouse_audit_at ON gatehouse_audit (at)`,
		`CREATE INDEX gatehouse_audit_subject ON gatehouse_audit (subject, id)`,
		`CREATE INDEX gatehouse_audit_client_id ON gatehouse_audit (client_id, id)`,
	}},
	{version: 9, stmts: []string{
		// How the user authenticated (RFC 8176 amr values, a JSON list),
		// carried from the session to the codes and grants made from it.
		`ALTER TABLE gatehouse_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '[]'`,
		`ALTER TABLE gatehouse_auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]'`,
		`ALTER TABLE gatehouse_grants ADD COLUMN amr TEXT NOT NULL DEFAULT '[]'`,
		// Second factors of any kind (factors.go): TOTP now, passkeys
		// later. secret is sealed by the caller; last_step refuses a
		// one-time code used before (RFC 6238 §5.2).
		`CREATE TABLE gatehouse_user_factors (
			id           TEXT   NOT NULL PRIMARY KEY,
			user_id      TEXT   NOT NULL,
			kind         TEXT   NOT NULL,
			name         TEXT   NOT NULL,
			secret       TEXT   NOT NULL,
			created_at   BIGINT NOT NULL,
			confirmed_at BIGINT NOT NULL DEFAULT 0,
			last_used_at BIGINT NOT NULL DEFAULT 0,
			last_step    BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_user_factors_user_id ON gatehouse_user_factors (user_id)`,
		// Single-use recovery codes, by hash.
		`CREATE TABLE gatehouse_recovery_codes (
			hash       TEXT   NOT NULL PRIMARY KEY,
			user_id    TEXT   NOT NULL,
			created_at BIGINT NOT NULL,
			used_at    BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_recovery_codes_user_id ON gatehouse_recovery_codes (user_id)`,
	}},
	{version: 10, stmts: []string{
		// Device authorization requests (RFC 8628; device.go), found by
		// the device code's hash when the device polls and by the user
		// code's when the user answers.
		`CREATE TABLE gatehouse_device_authorizations (
			device_code_hash TEXT   NOT NULL PRIMARY KEY,
			user_code_hash   TEXT   NOT NULL UNIQUE,
			grant_id         TEXT   NOT NULL,
			client_id        TEXT   NOT NULL,
			scopes           TEXT   NOT NULL,
			resources        TEXT   NOT NULL,
			interval_ms      BIGINT NOT NULL,
			created_at       BIGINT NOT NULL,
			expires_at       BIGINT NOT NULL,
			last_polled_at   BIGINT NOT NULL DEFAULT 0,
			status           TEXT   NOT NULL,
			subject          TEXT   NOT NULL DEFAULT '',
			session_id_hash  TEXT   NOT NULL DEFAULT '',
			auth_time        BIGINT NOT NULL DEFAULT 0,
			decided_at       BIGINT NOT NULL DEFAULT 0,
			redeemed_at      BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_device_authorizations_expires_at ON gatehouse_device_authorizations (expires_at)`,
		// Pushed authorization requests (RFC 9126), single-use.
		`CREATE TABLE gatehouse_pushed_requests (
			hash       TEXT   NOT NULL PRIMARY KEY,
			client_id  TEXT   NOT NULL,
			params     TEXT   NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			used_at    BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX gatehouse_pushed_requests_expires_at ON gatehouse_pushed_requests (expires_at)`,
		// RFC 9126 §6 client metadata.
		`ALTER TABLE gatehouse_clients ADD COLUMN require_pushed_authorization_requests BIGINT NOT NULL DEFAULT 0`,
	}},
	{version: 11, stmts: []string{
		// private_key_jwt clients' keys (RFC 7591 §2 jwks, jwks_uri) and
		// DPoP-bound access tokens (RFC 9449 §5.2).
		`ALTER TABLE gatehouse_clients ADD COLUMN jwks TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE gatehouse_clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE gatehouse_clients ADD COLUMN dpop_bound_access_tokens BIGINT NOT NULL DEFAULT 0`,
		// A public client's refresh tokens bound to its DPoP key (RFC 9449 §5).
		`ALTER TABLE gatehouse_grants ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT ''`,
		// One-time identifiers seen (client assertion and DPoP proof jti),
		// kept until they could no longer be accepted anyway.
		`CREATE TABLE gatehouse_used_jtis (
			id         TEXT   NOT NULL PRIMARY KEY,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX gatehouse_used_jtis_expires_at ON gatehouse_used_jtis (expires_at)`,
	}},
	{version: 12, stmts: []string{
		// Accounts at upstream identity providers linked to users
		// (federation.go): one link per upstream account.
		`CREATE TABLE gatehouse_linked_identities (
			provider         TEXT   NOT NULL,
			upstream_subject TEXT   NOT NULL,
			user_id          TEXT   NOT NULL,
			email            TEXT   NOT NULL,
			created_at       BIGINT NOT NULL,
			last_login_at    BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (provider, upstream_subject)
		)`,
		`CREATE INDEX gatehouse_linked_identities_user_id ON gatehouse_linked_identities (user_id)`,
		// How a session's user signed in when an upstream provider did it.
		`ALTER TABLE gatehouse_sessions ADD COLUMN idp TEXT NOT NULL DEFAULT ''`,
	}},
}

// latestVersion is the schema version this code writes.
func latestVersion() int64 { return migrations[len(migrations)-1].version }

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS gatehouse_schema_migrations (
	version    BIGINT NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`

// migrate applies the migrations the database lacks, each in its own
// transaction, recording them as applied at appliedAt (Unix milliseconds),
// and refuses a database written by a newer schema.
func (s *Store) migrate(ctx context.Context, appliedAt int64) error {
	err := s.migrationTx(ctx, func(tx *sql.Tx) error {
		var current int64
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM gatehouse_schema_migrations`).Scan(&current)
		if err != nil {
			return err
		}
		if current > latestVersion() {
			return fmt.Errorf("database schema version %d is newer than this build supports (%d)", current, latestVersion())
		}
		return nil
	})
	if err != nil {
		return s.wrap("migrate", err)
	}
	for _, m := range migrations {
		if err := s.migrationTx(ctx, func(tx *sql.Tx) error { return s.apply(ctx, tx, m, appliedAt) }); err != nil {
			return s.wrap(fmt.Sprintf("migration %d", m.version), err)
		}
	}
	return nil
}

// migrationTx runs fn in a write transaction that holds the migration lock
// and in which the migrations table exists.
func (s *Store) migrationTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inWriteTx(ctx, func(t *txn) error {
		tx := t.Tx // schema work runs unprepared: nothing to reuse
		if s.d.LockMigrations != nil {
			if err := s.d.LockMigrations(ctx, tx); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return err
		}
		return fn(tx)
	})
}

// apply runs m unless another process already has. The check happens under
// the migration lock, so two processes starting together apply m once.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, m migration, appliedAt int64) error {
	var n int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM gatehouse_schema_migrations WHERE version = ?`), m.version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO gatehouse_schema_migrations (version, applied_at) VALUES (?, ?)`),
		m.version, appliedAt)
	return err
}
