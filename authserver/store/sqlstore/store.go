package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Store is a store.Store over a database/sql database. It is safe for
// concurrent use, and several Stores (in one process or many) may share one
// database.
type Store struct {
	reader *pool // plain reads
	writer *pool // every write, and the reads a write transaction makes
	d      Dialect

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// DefaultCallTimeout bounds each database call (a statement, or a
// transaction as a whole) when WithCallTimeout is not given. It is the
// longest a request waits for a database that stopped answering before it
// is told to try again: long enough for a busy database's slowest normal
// call, short enough for a person not to give up.
const DefaultCallTimeout = 5 * time.Second

// Option tunes a Store.
type Option func(*options)

type options struct {
	callTimeout time.Duration
	timer       OpTimer
	trip        func(RoundTrip)
}

// WithCallTimeout sets the deadline of each database call, counted from
// when the call starts; the caller's own deadline still applies when
// earlier. Zero means DefaultCallTimeout; a negative value leaves calls
// bounded only by their callers (for tests of that very behaviour).
// Migrations in New are not bounded by it.
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) { o.callTimeout = d }
}

// New returns a Store that reads through reader and writes through writer,
// after bringing the schema up to date; migrations it applies are recorded
// as applied at now (the store never reads the clock itself). reader may be
// nil or equal writer when the database has a single pool. The pools must
// reach the same database, and reader must see what writer has committed as
// soon as the commit returns.
//
// On success the Store owns the pools and Close closes them; on error they
// are left to the caller.
func New(ctx context.Context, reader, writer *sql.DB, d Dialect, now time.Time, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.callTimeout == 0 {
		o.callTimeout = DefaultCallTimeout
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	appliedAt, err := nowMillis(now)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if writer == nil {
		return nil, errors.New("sqlstore: writer is nil")
	}
	if reader == nil {
		reader = writer
	}
	if d.SingleWriter {
		if n := writer.Stats().MaxOpenConnections; n != 1 {
			return nil, fmt.Errorf("sqlstore: %s needs a writer pool of exactly one connection, got a limit of %d", d.Name, n)
		}
	}
	s := &Store{reader: newPool(reader, d.CacheStatements), writer: newPool(writer, d.CacheStatements), d: d}
	if reader == writer {
		s.reader = s.writer
	}
	for _, p := range []*pool{s.reader, s.writer} {
		p.connLost, p.onLost = d.IsConnectionError, d.ConnectionLost
		p.timer, p.trip = o.timer, o.trip
	}
	if err := writer.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("sqlstore: connect writer: %w", err)
	}
	if err := s.migrate(ctx, appliedAt); err != nil {
		return nil, err
	}
	if reader != writer {
		if err := reader.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("sqlstore: connect reader: %w", err)
		}
	}
	// Migrations may take long on a large database; every later call is
	// bounded.
	s.reader.timeout, s.writer.timeout = o.callTimeout, o.callTimeout
	return s, nil
}

// Close closes both pools. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// The reader goes first so the writer is the last connection: in
		// SQLite the last one out checkpoints the WAL, which a query-only
		// reader may not do.
		var err error
		if s.reader != s.writer {
			err = s.reader.Close()
		}
		err = errors.Join(err, s.writer.Close())
		if err != nil {
			s.closeErr = fmt.Errorf("sqlstore: close: %w", err)
		}
	})
	return s.closeErr
}

// q adapts a query written with "?" placeholders to the dialect.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// queryRower is what single-row reads need; the pools and transactions both
// have it, so a read can run on the reader pool or inside a write
// transaction.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *row
}

// execer runs a statement on the writer pool or inside a write transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// rowScanner is a *row or *rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// Interface guards: what the interfaces above stand for.
var (
	_ queryRower = (*pool)(nil)
	_ queryRower = (*txn)(nil)
	_ execer     = (*pool)(nil)
	_ execer     = (*txn)(nil)
	_ rowScanner = (*row)(nil)
	_ rowScanner = (*rows)(nil)
	_ error      = committedError{}
)

// errRaced means a write transaction saw a row in a state its conditional
// UPDATE should have matched: the row changed between the two statements
// (possible under PostgreSQL's READ COMMITTED, never under SQLite's single
// writer). The transaction is rolled back and run again.
var errRaced = errors.New("row changed concurrently, retry")

// maxAttempts bounds how often a write transaction is run after errRaced or
// a retryable abort.
const maxAttempts = 3

// committedError carries an error that must reach the caller only after the
// transaction's writes are committed: reuse detection revokes a grant and
// then reports the reuse.
type committedError struct{ err error }

func (e committedError) Error() string { return e.err.Error() }

// commitThenFail makes inWriteTx commit and then return err.
func commitThenFail(err error) error { return committedError{err} }

// inWriteTx runs fn in a write transaction and commits it when fn returns nil
// or a commitThenFail error; any other error rolls it back. Transactions that
// report errRaced, or that the database aborted to settle a conflict, are
// retried a few times.
//
// A transaction whose connection failed before COMMIT was sent is run once
// more on another connection: the database rolled it back when the
// connection went, so nothing of it was committed and running it again
// cannot apply a write twice (a code is still redeemed once, a refresh
// token still rotated once). A failure during COMMIT is retried only when
// the driver knows the COMMIT was never sent; otherwise it may have
// committed, and the error goes to the caller. All attempts share one
// call deadline.
func (s *Store) inWriteTx(ctx context.Context, fn func(tx *txn) error) error {
	ctx, cancel := s.writer.bound(ctx)
	defer cancel()
	reconnected := false
	for attempt := 1; ; attempt++ {
		err := s.writeTxOnce(ctx, fn)
		if attempt < maxAttempts && (errors.Is(err, errRaced) || s.retryable(err)) {
			continue
		}
		if !reconnected && s.lostBeforeCommit(ctx, err) {
			reconnected = true
			attempt--
			continue
		}
		return err
	}
}

// commitError is a failed COMMIT, whose outcome is unknown unless the
// driver says it was never sent.
type commitError struct{ err error }

func (e commitError) Error() string { return "commit: " + e.err.Error() }
func (e commitError) Unwrap() error { return e.err }

// lostBeforeCommit reports whether err is a lost connection that cannot
// have committed anything.
func (s *Store) lostBeforeCommit(ctx context.Context, err error) bool {
	if !s.writer.lostConnection(ctx, err) {
		return false
	}
	var ce commitError
	if errors.As(err, &ce) {
		return s.d.NothingSent != nil && s.d.NothingSent(ce.err)
	}
	return true
}

// retryable reports whether the database aborted the transaction to resolve
// a conflict (a deadlock between concurrent writers, say), which running it
// again settles.
func (s *Store) retryable(err error) bool {
	return err != nil && s.d.IsRetryable != nil && s.d.IsRetryable(err)
}

func (s *Store) writeTxOnce(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err = fn(tx)
	var after committedError
	if err != nil && !errors.As(err, &after) {
		// The rollback's own error adds nothing: the transaction is void
		// either way, and fn's error is the one that explains why.
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return commitError{err}
	}
	return after.err
}

// insertErr turns a unique constraint violation into store.ErrAlreadyExists.
// The driver error is dropped rather than wrapped because some drivers put
// the conflicting key, which may be a credential hash, in its text.
func (s *Store) insertErr(err error) error {
	if err != nil && s.d.IsUniqueViolation(err) {
		return store.ErrAlreadyExists
	}
	return err
}

// wrap prefixes err with the operation it came from. Sentinels stay visible
// to errors.Is, and an error that means the database could not be asked
// also matches store.ErrUnavailable.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.unavailable(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// unavailable reports whether err means the database could not be asked,
// as opposed to an answer (not found, a conflict) or a bug.
func (s *Store) unavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return true
	case errors.Is(err, context.Canceled):
		// The caller gave up (a client that went away); nobody reads
		// the answer.
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.As(err, &netErr), isDBClosed(err):
		return true
	}
	return (s.d.IsConnectionError != nil && s.d.IsConnectionError(err)) ||
		(s.d.IsUnavailable != nil && s.d.IsUnavailable(err))
}

// isDBClosed reports database/sql's error for a pool that was closed (the
// error itself is not exported, so its text is compared): the store is
// going away, as during a reload.
func isDBClosed(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "sql: database is closed" {
			return true
		}
	}
	return false
}

// nowMillis converts the caller's now. now is also written as a marker
// (redeemed_at, rotated_at, revoked_at) whose 0 means "not yet", so a zero
// now would silently do nothing; it is refused instead.
func nowMillis(now time.Time) (int64, error) {
	ms := millis(now)
	if ms == 0 {
		return 0, errors.New("now is the zero time")
	}
	return ms, nil
}
