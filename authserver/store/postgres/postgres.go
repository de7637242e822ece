// Package postgres is Gatehouse's PostgreSQL store, for several server
// instances sharing one database. It is the shared SQL of package sqlstore
// over pgx's database/sql driver, plus what PostgreSQL needs beyond it:
// advisory locks for migrations and leader election, retries of
// transactions the server aborts to settle a deadlock, a bounded pool and a
// statement timeout.
//
// The connection string never appears in an error this package returns.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxOpenConns     = 10
	DefaultMaxIdleConns     = 4
	DefaultConnMaxLifetime  = 30 * time.Minute
	DefaultConnMaxIdleTime  = 5 * time.Minute
	DefaultStatementTimeout = 10 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
	// MinMaxOpenConns is the smallest pool allowed: a leader lock holds a
	// connection while the work it guards needs another.
	MinMaxOpenConns = 2
)

// idleInTransactionTimeout ends sessions that sit in an open transaction,
// holding row locks, this long: a client stuck between statements must not
// block other instances' writes forever. Gatehouse's own transactions never
// pause between statements.
const idleInTransactionTimeout = time.Minute

// Config says how to reach the database and how to pool connections to it.
// Zero values mean the defaults above.
type Config struct {
	// DSN is a PostgreSQL connection string, as a URL
	// (postgres://user:password@host:5432/db?sslmode=verify-full) or in
	// key=value form. It is never included in errors. Required.
	DSN string
	// Schema, when set, is created if missing and is the only schema on
	// the connections' search_path: Gatehouse's tables live there. Empty
	// means the search_path of the DSN or of the server (usually public).
	Schema string

	MaxOpenConns    int           // at least MinMaxOpenConns
	MaxIdleConns    int           // capped at MaxOpenConns
	ConnMaxLifetime time.Duration // a connection is replaced after this
	ConnMaxIdleTime time.Duration // an idle connection is closed after this
	// StatementTimeout aborts any statement that runs longer (the server's
	// statement_timeout), so a stuck query fails instead of pinning a
	// connection and its locks.
	StatementTimeout time.Duration
	// ConnectTimeout bounds establishing a connection when the DSN sets no
	// connect_timeout.
	ConnectTimeout time.Duration
	// CallTimeout bounds each call to the database, a statement or a
	// transaction as a whole, on the client: unlike StatementTimeout it
	// also fires when the server cannot be reached at all. Zero means
	// sqlstore.DefaultCallTimeout.
	CallTimeout time.Duration
}

// Validate checks cfg as Open would, without connecting. The error never
// quotes the DSN.
func (c Config) Validate() error {
	c, err := c.withDefaults()
	if err == nil {
		_, err = parseDSN(c.DSN)
	}
	return err
}

// withDefaults fills in zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.DSN == "" {
		return c, errors.New("postgres: dsn is empty")
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	c.MaxIdleConns = min(c.MaxIdleConns, c.MaxOpenConns)
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if c.ConnMaxIdleTime == 0 {
		c.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case c.MaxOpenConns < MinMaxOpenConns:
		return c, fmt.Errorf("postgres: max_conns must be at least %d, got %d", MinMaxOpenConns, c.MaxOpenConns)
	case c.MaxIdleConns < 0:
		return c, fmt.Errorf("postgres: max_idle_conns must not be negative, got %d", c.MaxIdleConns)
	case c.ConnMaxLifetime < 0 || c.ConnMaxIdleTime < 0 || c.ConnectTimeout < 0 || c.CallTimeout < 0:
		return c, errors.New("postgres: connection lifetimes and timeouts must not be negative")
	case c.StatementTimeout < time.Millisecond:
		return c, fmt.Errorf("postgres: statement_timeout must be at least 1ms, got %v", c.StatementTimeout)
	}
	if strings.ContainsRune(c.Schema, 0) {
		return c, errors.New("postgres: schema contains a NUL byte")
	}
	return c, nil
}

// ParseDSN checks that dsn is a PostgreSQL connection string and returns
// what identifies the database it reaches, without the password:
// "user@host:port/database". The error never quotes dsn.
func ParseDSN(dsn string) (string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database), nil
}

func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	if strings.TrimSpace(dsn) == "" {
		// pgx would read an empty string as "every default".
		return nil, errors.New("postgres: dsn is empty")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors carry the connection string (redacted only on
		// a best-effort basis, and whole in a public field), so none of
		// their text is passed on.
		return nil, errors.New("postgres: dsn is not a valid PostgreSQL connection string (a postgres:// URL or key=value pairs)")
	}
	return cfg, nil
}

// Open connects to the database, creates Config.Schema if it is set and
// missing, and brings Gatehouse's tables up to date, recording migrations as
// applied at now. Several processes may Open the same database at once:
// migrations run under a transaction-scoped advisory lock, so each is
// applied exactly once. Close the Store to release the pool.
func Open(ctx context.Context, cfg Config, now time.Time, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, cfg, health, secrets, err := newDB(cfg)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, db, cfg, health, now, opts...)
	if err != nil {
		db.Close()
		return nil, redact(err, secrets...)
	}
	return s, nil
}

// newDB builds the pool Open uses, without connecting. It also returns the
// completed configuration and the strings errors must not show.
func newDB(cfg Config) (*sql.DB, Config, *connHealth, []string, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, cfg, nil, nil, err
	}
	conn, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, cfg, nil, nil, err
	}
	secrets := []string{cfg.DSN, conn.Password}

	// Runtime parameters travel in the startup message, so every pooled
	// connection has them from its first statement and no session state
	// can be lost to a reconnect.
	if conn.RuntimeParams == nil {
		conn.RuntimeParams = map[string]string{}
	}
	conn.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	conn.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(idleInTransactionTimeout.Milliseconds(), 10)
	if _, ok := conn.RuntimeParams["application_name"]; !ok {
		conn.RuntimeParams["application_name"] = "gatehouse"
	}
	if cfg.Schema != "" {
		conn.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	}
	if conn.ConnectTimeout == 0 {
		conn.ConnectTimeout = cfg.ConnectTimeout
	}
	conn.DialFunc = dialer(conn.ConnectTimeout).DialContext

	health := new(connHealth)
	db := stdlib.OpenDB(*conn, stdlib.OptionShouldPing(health.shouldPing))
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxIdleConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	return db, cfg, health, secrets, nil
}

func open(ctx context.Context, db *sql.DB, cfg Config, health *connHealth, now time.Time, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	schema := cfg.Schema
	if schema != "" {
		if err := createSchema(ctx, db, schema); err != nil {
			return nil, err
		}
	}
	var current sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if !current.Valid {
		return nil, errors.New("postgres: the search_path names no existing schema; create it or set schema")
	}
	// One pool serves reads and writes: row locks taken by the
	// conditional UPDATEs, not a single writer, serialise the races.
	d := dialect(current.String)
	d.ConnectionLost = health.lost
	s, err := sqlstore.New(ctx, nil, db, d, now, append([]sqlstore.Option{sqlstore.WithCallTimeout(cfg.CallTimeout)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// createSchema creates schema unless it exists. Concurrent CREATE SCHEMA IF
// NOT EXISTS can still collide in the catalog, so creators take turns.
func createSchema(ctx context.Context, db *sql.DB, schema string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(schema, "create schema")); err != nil {
		return fmt.Errorf("postgres: creating schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: creating schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: creating schema: %w", err)
	}
	return nil
}

// dialect is PostgreSQL's part of sqlstore for the tables in schema.
// Advisory locks are database-wide, so their keys include the schema:
// deployments in different schemas of one database do not exclude each
// other.
func dialect(schema string) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:        "postgres",
		Placeholder: sqlstore.Dollar,
		LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(schema, "migrations"))
			return err
		},
		IsUniqueViolation: func(err error) bool { return hasCode(err, "23505") }, // unique_violation
		// deadlock_detected, serialization_failure: the server aborted the
		// transaction to let a concurrent one through.
		IsRetryable:       func(err error) bool { return hasCode(err, "40P01", "40001") },
		IsConnectionError: isConnectionError,
		NothingSent:       pgconn.SafeToRetry,
		IsUnavailable:     isUnavailable,
		TryLock: func(ctx context.Context, conn *sql.Conn, name string) (bool, error) {
			var ok bool
			err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(schema, "leader "+name)).Scan(&ok)
			return ok, err
		},
		Unlock: func(ctx context.Context, conn *sql.Conn, name string) error {
			var ok bool
			err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(schema, "leader "+name)).Scan(&ok)
			if err == nil && !ok {
				err = errors.New("the session did not hold the lock")
			}
			return err
		},
	}
}

// lockKey derives an advisory lock key from the schema and the lock's
// purpose. A collision with another application's key would only make the
// two wait for each other.
func lockKey(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gatehouse\x00"))
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// isConnectionError reports a connection that failed under a statement:
// closed or reset by the server or a proxy, or ended by the server
// (class 08 connection_exception; 57P01 admin_shutdown and 57P02
// crash_shutdown, sent when a backend is terminated). Timeouts are not
// among them.
func isConnectionError(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isUnavailable reports errors that mean the database cannot serve now:
// a connection that could not be made, a timeout, or the server refusing
// for a passing reason (class 53 insufficient_resources: disk full, out
// of memory, too many connections; 57014 query_canceled, which is how
// statement_timeout ends a statement; 57P03 cannot_connect_now, a server
// starting or in recovery; 25P03 idle_in_transaction_session_timeout;
// and a serialization failure or deadlock still losing after retries).
func isUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) || isConnectionError(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "53") || hasCode(err, "57014", "57P03", "25P03", "40001", "40P01")
	}
	return false
}

func hasCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}

// redactedError hides secrets from an error's text. Is still sees the
// original, so callers can test for context.DeadlineExceeded and the like,
// but nothing unwraps to its text.
type redactedError struct {
	msg  string
	orig error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

var _ error = (*redactedError)(nil)

// redact returns err with every non-empty secret in its text replaced.
func redact(err error, secrets ...string) error {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return &redactedError{msg: msg, orig: err}
}
