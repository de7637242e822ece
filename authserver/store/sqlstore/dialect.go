package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
)

// Placeholder is how a driver spells bind parameters.
type Placeholder int

const (
	// QuestionMark binds every parameter as "?" (SQLite). Queries are used
	// as written.
	QuestionMark Placeholder = iota
	// Dollar numbers the parameters "$1", "$2", ... (PostgreSQL).
	Dollar
)

// Dialect is what the store needs to know about a database beyond the shared
// SQL.
type Dialect struct {
	// Name identifies the database in error messages, e.g. "sqlite".
	Name string

	// Placeholder is the bind parameter style of the driver.
	Placeholder Placeholder

	// LockMigrations serialises schema migrations between processes. It runs
	// first in every migration transaction and must hold its lock until that
	// transaction ends; PostgreSQL uses SELECT pg_advisory_xact_lock(...).
	// Nil when write transactions already exclude each other (SingleWriter).
	LockMigrations func(ctx context.Context, tx *sql.Tx) error

	// IsUniqueViolation reports whether err, as returned by the driver, is a
	// unique or primary key constraint violation. Required.
	IsUniqueViolation func(err error) bool

	// SingleWriter says the database allows one writer at a time, and that
	// the writer pool is set up for it: a single connection whose
	// transactions take the write lock when they begin (SQLite's BEGIN
	// IMMEDIATE, set with the DSN). Without the up-front lock a transaction
	// that reads before it writes can fail with SQLITE_BUSY_SNAPSHOT instead
	// of waiting its turn. New checks the pool size; the begin mode is the
	// opener's responsibility. False for databases with row locks
	// (PostgreSQL), where the conditional UPDATEs lock what they touch.
	SingleWriter bool
	// CacheStatements prepares each query once per pool and reuses it. For
	// drivers that parse every query afresh (SQLite); pgx already caches
	// statements per connection.
	CacheStatements bool

	// IsRetryable reports whether err, as returned by the driver, means the
	// transaction lost a conflict the database resolved by aborting it
	// (PostgreSQL's deadlock_detected or serialization_failure), so running
	// it again is safe and likely to succeed. Nil means never.
	IsRetryable func(err error) bool

	// IsConnectionError reports whether err, as returned by the driver,
	// means the connection failed (closed by the server or a proxy, reset,
	// unreachable) rather than the statement: a read is then run once more,
	// and so is a write transaction that had not reached COMMIT, since a
	// database rolls back the open transaction of a lost connection. Never
	// true for a timeout. Nil means never.
	IsConnectionError func(err error) bool
	// ConnectionLost, when set, is told that a call failed on a lost
	// connection, just before the call is run again. A connection seldom
	// dies alone (a restart, a failover, a proxy that dropped them all),
	// so the driver should check pooled connections before reusing them
	// for a while, and the retry then finds a live one instead of the next
	// dead one.
	ConnectionLost func()
	// NothingSent reports whether err means the statement never reached
	// the server (pgconn.SafeToRetry), so even a failed COMMIT committed
	// nothing and the transaction may run again. Nil means never.
	NothingSent func(err error) bool
	// IsUnavailable reports whether err, as returned by the driver, means
	// the database could not do the work for a passing reason (full disk,
	// too many connections, shutting down, its statement_timeout), which
	// the store reports as store.ErrUnavailable. Connection failures and
	// timeouts are recognised without it.
	IsUnavailable func(err error) bool

	// TryLock takes the lock called name for the session of conn without
	// waiting, and reports whether it got it; Unlock gives it back. The lock
	// excludes every other session of the database (other processes
	// included) until Unlock, or until conn's session ends. Both nil means
	// the database has no such locks, and WithLeaderLock always runs its
	// function (SQLite, whose single writer already serialises writes).
	TryLock func(ctx context.Context, conn *sql.Conn, name string) (bool, error)
	Unlock  func(ctx context.Context, conn *sql.Conn, name string) error
}

func (d Dialect) validate() error {
	switch {
	case d.Name == "":
		return errors.New("dialect has no Name")
	case d.Placeholder != QuestionMark && d.Placeholder != Dollar:
		return errors.New("dialect has an unknown Placeholder")
	case d.IsUniqueViolation == nil:
		return errors.New("dialect has no IsUniqueViolation")
	case (d.TryLock == nil) != (d.Unlock == nil):
		return errors.New("dialect has only one of TryLock and Unlock")
	}
	return nil
}

// rebind rewrites a query written with "?" placeholders into the dialect's
// style: unchanged for QuestionMark, "$1".."$n" in order for Dollar.
//
// It does not parse SQL, so a "?" inside a string literal, quoted identifier
// or comment would be rewritten too. Queries in this package therefore never
// contain a literal "?"; values always travel as parameters.
func (d Dialect) rebind(query string) string {
	if d.Placeholder != Dollar || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
