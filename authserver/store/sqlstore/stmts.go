package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

var errNoCache = errors.New("statement cache off")

// pool is a connection pool whose queries run as prepared statements,
// prepared once per query text and reused, when the dialect asks for it.
// SQLite parses and plans a statement on every prepare, which cost about a
// fifth of a refresh-token request's CPU when every query was prepared
// afresh. (pgx caches statements per connection itself, and explicit
// prepares would not survive a transaction-mode pooler.)
//
// The cache is keyed by query text, and queries are literals, so it holds
// a small fixed number of statements.
type pool struct {
	*sql.DB
	cache bool
	// timeout bounds every call made through the pool (see bound); zero
	// means none, which only New uses, for migrations.
	timeout time.Duration
	// connLost reports a connection-level failure (the dialect's
	// IsConnectionError); nil means the database has none to report.
	// onLost is the dialect's ConnectionLost.
	connLost func(error) bool
	onLost   func()
	// timer times each call and trip counts round trips (observe.go);
	// nil: none.
	timer OpTimer
	trip  func(RoundTrip)
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// preparing marks queries being prepared in the background.
	preparing map[string]bool
}

func newPool(db *sql.DB, cache bool) *pool {
	return &pool{DB: db, cache: cache, stmts: map[string]*sql.Stmt{}, preparing: map[string]bool{}}
}

func (p *pool) cached(query string) *sql.Stmt {
	if !p.cache {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

// bound derives the context of one database call from the caller's: the
// same, cut short at the store's call timeout. This is the one place that
// deadline is set; every statement and transaction of the store goes
// through the pool, so a call to a database that stopped answering (a
// partition, a frozen proxy, a failover that sends no reset) fails in
// bounded time instead of hanging its request and pinning a connection
// until the kernel gives up, and no method can forget it. The caller's own
// deadline still wins when it is earlier.
func (p *pool) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.timeout)
}

// lostConnection reports whether err is a connection-level failure worth
// one more attempt: not a timeout (the deadline covers the retry too) and
// not the caller giving up.
func (p *pool) lostConnection(ctx context.Context, err error) bool {
	lost := err != nil && ctx.Err() == nil && p.connLost != nil && p.connLost(err) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	if lost && p.onLost != nil {
		p.onLost()
	}
	return lost
}

// stmt returns the prepared statement for query, preparing it now.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if !p.cache {
		return nil, errNoCache
	}
	if st := p.cached(query); st != nil {
		return st, nil
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if other := p.stmts[query]; other != nil {
		st.Close()
		return other, nil
	}
	p.stmts[query] = st
	return st, nil
}

// prepareLater prepares query in the background. A transaction cannot
// prepare on the pool itself: with a single-connection writer pool the
// transaction holds the only connection, so the prepare would wait for
// the transaction that waits for it.
func (p *pool) prepareLater(query string) {
	if !p.cache {
		return
	}
	p.mu.Lock()
	if p.stmts[query] != nil || p.preparing[query] {
		p.mu.Unlock()
		return
	}
	p.preparing[query] = true
	p.mu.Unlock()
	go func() {
		ctx, cancel := p.bound(context.Background())
		defer cancel()
		_, _ = p.stmt(ctx, query)
		p.mu.Lock()
		delete(p.preparing, query)
		p.mu.Unlock()
	}()
}

// QueryRowContext runs a single-row read under the call deadline; the
// deadline ends when the row is scanned.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *row {
	rs, err := p.QueryContext(ctx, query, args...)
	return &row{rows: rs, err: err}
}

// QueryContext runs a read as a prepared statement under the call
// deadline, which ends when the rows are closed. A read that failed on a
// dead connection (one the server or a proxy closed since its last use) is
// run once more on another: a read changes nothing, so running it twice is
// harmless. Writes outside a transaction are not retried here; database/sql
// already runs them again when the driver reports that nothing was sent.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	ctx, cancel := p.bound(ctx)
	done := p.time(opName(query))
	rs, err := p.query(ctx, query, args...)
	if p.lostConnection(ctx, err) {
		rs, err = p.query(ctx, query, args...)
	}
	done()
	if err != nil {
		cancel()
		return nil, err
	}
	return &rows{Rows: rs, cancel: cancel}, nil
}

func (p *pool) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p.roundTrip(query, args)
	st, err := p.stmt(ctx, query)
	if err != nil {
		// A statement that cannot be prepared runs directly, so its error
		// surfaces as usual.
		return p.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// ExecContext runs a statement as a prepared statement under the call
// deadline.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	defer p.time(opName(query))()
	p.roundTrip(query, args)
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// BeginTx starts a transaction whose statements use the pool's cache and
// run under one call deadline for the whole transaction, from BEGIN to
// COMMIT.
func (p *pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	ctx, cancel := p.bound(ctx)
	done := p.time("transaction")
	p.roundTrip("BEGIN", nil)
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		done()
		cancel()
		return nil, err
	}
	return &txn{Tx: tx, p: p, ctx: ctx, cancel: cancel, done: done}, nil
}

// Close closes the statements, then the pool.
func (p *pool) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return p.DB.Close()
}

// txn is a transaction that runs cached statements on its connection
// (database/sql reuses a statement already prepared there) and queues the
// others for preparation once the transaction is over.
//
// Its statements run under the context the transaction began with, which
// carries the transaction's deadline, whatever context they are given:
// database/sql cannot interrupt a statement by cancelling the transaction,
// only through the statement's own context.
type txn struct {
	*sql.Tx
	p      *pool
	ctx    context.Context
	cancel context.CancelFunc
	// done ends the transaction's timing (finish).
	done func()
}

// finish ends the timing once: a deferred Rollback after Commit is a
// no-op for the database and must be one for the timing too.
func (t *txn) finish() {
	if t.done != nil {
		t.done()
		t.done = nil
	}
}

func (t *txn) QueryRowContext(_ context.Context, query string, args ...any) *row {
	rs, err := t.QueryContext(t.ctx, query, args...)
	return &row{rows: rs, err: err}
}

func (t *txn) QueryContext(_ context.Context, query string, args ...any) (*rows, error) {
	var (
		rs  *sql.Rows
		err error
	)
	t.p.roundTrip(query, args)
	if st := t.p.cached(query); st != nil {
		rs, err = t.Tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	} else {
		t.p.prepareLater(query)
		rs, err = t.Tx.QueryContext(t.ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return &rows{Rows: rs, cancel: func() {}}, nil
}

func (t *txn) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	t.p.roundTrip(query, args)
	if st := t.p.cached(query); st != nil {
		return t.Tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	t.p.prepareLater(query)
	return t.Tx.ExecContext(t.ctx, query, args...)
}

// Commit commits and ends the transaction's deadline.
func (t *txn) Commit() error {
	defer t.cancel()
	defer t.finish()
	t.p.roundTrip("COMMIT", nil)
	return t.Tx.Commit()
}

// Rollback rolls back and ends the transaction's deadline.
func (t *txn) Rollback() error {
	defer t.cancel()
	defer t.finish()
	t.p.roundTrip("ROLLBACK", nil)
	return t.Tx.Rollback()
}

// rows are query results whose call deadline ends when they are closed.
type rows struct {
	*sql.Rows
	cancel context.CancelFunc
}

// Close closes the rows and ends their deadline.
func (r *rows) Close() error {
	defer r.cancel()
	return r.Rows.Close()
}

// row is the result of a single-row read, as *sql.Row is, but reached
// through the pool's rows so that its deadline lasts until Scan.
type row struct {
	rows *rows
	err  error
}

// Scan copies the first row's columns into dest, as sql.Row.Scan does:
// sql.ErrNoRows when there is none.
func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}
