package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

func init() {
	caddy.RegisterModule(SQLiteStorage{})
	caddy.RegisterModule(PostgresStorage{})
}

// SQLiteStorage keeps Gatehouse's state in an embedded SQLite database
// (pure Go, no cgo). Suited to a single Caddy instance.
type SQLiteStorage struct {
	// Path of the database file. Default: gatehouse/gatehouse.db in
	// Caddy's data directory.
	Path string `json:"path,omitempty"`
	// Timeout bounds each database call (a statement, or a transaction as
	// a whole); a request that needs a call that takes longer is answered
	// 503 "try again" (default 5s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (SQLiteStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse.storage.sqlite",
		New: func() caddy.Module { return new(SQLiteStorage) },
	}
}

func (s *SQLiteStorage) path() string {
	p := s.Path
	if p == "" {
		p = filepath.Join(caddy.AppDataDir(), "gatehouse", "gatehouse.db")
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// PoolKey identifies the database file.
func (s *SQLiteStorage) PoolKey() string { return "sqlite:" + s.path() }

// OpenStore opens the database, creating it and applying migrations.
func (s *SQLiteStorage) OpenStore(ctx caddy.Context) (store.Store, error) {
	if s.Timeout < 0 {
		return nil, fmt.Errorf("storage sqlite: timeout must not be negative")
	}
	return sqlite.Open(ctx, s.path(), time.Now(), sqlstore.WithCallTimeout(time.Duration(s.Timeout)), sqlstore.WithOpTimer(metrics().timeStoreOp))
}

// PostgresStorage keeps Gatehouse's state in PostgreSQL, so several Caddy
// instances (behind a load balancer) can share it. Every instance must
// be configured with the same key_encryption_key.
type PostgresStorage struct {
	// DSN is the connection string, a postgres:// URL or key=value pairs.
	// Use a placeholder such as {env.GATEHOUSE_DATABASE_URL} so the
	// password stays out of the configuration. Required; never logged.
	DSN string `json:"dsn,omitempty"`
	// Schema holds Gatehouse's tables; created if missing. Default: the
	// DSN's search_path (usually public).
	Schema string `json:"schema,omitempty"`
	// MaxConns bounds the pool per instance (default 10, at least 2).
	MaxConns int `json:"max_conns,omitempty"`
	// MaxIdleConns is how many idle connections are kept (default 4).
	MaxIdleConns int `json:"max_idle_conns,omitempty"`
	// ConnMaxLifetime replaces connections after this long (default 30m);
	// ConnMaxIdleTime closes idle ones after this long (default 5m).
	ConnMaxLifetime caddy.Duration `json:"conn_max_lifetime,omitempty"`
	ConnMaxIdleTime caddy.Duration `json:"conn_max_idle_time,omitempty"`
	// StatementTimeout aborts statements that run longer (default 10s).
	StatementTimeout caddy.Duration `json:"statement_timeout,omitempty"`
	// Timeout bounds each database call (a statement, or a transaction as
	// a whole) on Gatehouse's side, so that it also fires when the
	// database cannot be reached; a request that needs a call that takes
	// longer is answered 503 "try again" (default 5s).
	Timeout caddy.Duration `json:"timeout,omitempty"`

	cfg     postgres.Config
	poolKey string
}

// CaddyModule returns the Caddy module information.
func (PostgresStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse.storage.postgres",
		New: func() caddy.Module { return new(PostgresStorage) },
	}
}

// Provision resolves placeholders and checks the settings; connecting is
// left to OpenStore.
func (s *PostgresStorage) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	dsn := repl.ReplaceKnown(s.DSN, "")
	if dsn == "" {
		return fmt.Errorf("storage postgres: dsn is required (e.g. dsn {env.GATEHOUSE_DATABASE_URL}; is that variable set?)")
	}
	ident, err := postgres.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("storage postgres: dsn: %v", err)
	}
	s.cfg = postgres.Config{
		DSN:              dsn,
		Schema:           repl.ReplaceKnown(s.Schema, ""),
		MaxOpenConns:     s.MaxConns,
		MaxIdleConns:     s.MaxIdleConns,
		ConnMaxLifetime:  time.Duration(s.ConnMaxLifetime),
		ConnMaxIdleTime:  time.Duration(s.ConnMaxIdleTime),
		StatementTimeout: time.Duration(s.StatementTimeout),
		CallTimeout:      time.Duration(s.Timeout),
	}
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("storage %v", err)
	}
	// The key names the database without the password. A fingerprint of
	// the whole configuration (password included) makes a reload with new
	// credentials or pool settings open a new pool instead of reusing the
	// old one; the key is only ever an in-memory map key.
	fp := sha256.Sum256(fmt.Appendf(nil, "%q %+v", dsn, s.cfg))
	s.poolKey = fmt.Sprintf("postgres:%s?schema=%s#%s", ident, s.cfg.Schema, hex.EncodeToString(fp[:8]))
	return nil
}

// PoolKey identifies the database (user, host, port, database, schema) and
// the pool settings, without the password.
func (s *PostgresStorage) PoolKey() string { return s.poolKey }

// OpenStore connects, creating the schema if needed, and applies
// migrations under an advisory lock, so instances may start together.
func (s *PostgresStorage) OpenStore(ctx caddy.Context) (store.Store, error) {
	return postgres.Open(ctx, s.cfg, time.Now(), sqlstore.WithOpTimer(metrics().timeStoreOp))
}

// SharedAcrossInstances reports that several Caddy instances may use this
// storage at once, which needs a key_encryption_key common to all of them.
func (s *PostgresStorage) SharedAcrossInstances() bool { return true }

// sharedStorage is implemented by backends that several instances share.
type sharedStorage interface{ SharedAcrossInstances() bool }

// Interface guards
var (
	_ StorageBackend    = (*SQLiteStorage)(nil)
	_ StorageBackend    = (*PostgresStorage)(nil)
	_ caddy.Provisioner = (*PostgresStorage)(nil)
	_ sharedStorage     = (*PostgresStorage)(nil)
)
