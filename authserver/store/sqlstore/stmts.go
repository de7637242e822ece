package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
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
		_, _ = p.stmt(context.Background(), query)
		p.mu.Lock()
		delete(p.preparing, query)
		p.mu.Unlock()
	}()
}

// QueryRowContext runs query as a prepared statement. A statement that
// cannot be prepared runs directly, so its error surfaces as usual.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext runs query as a prepared statement.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// ExecContext runs query as a prepared statement.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// BeginTx starts a transaction whose statements use the pool's cache.
func (p *pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, p: p}, nil
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
type txn struct {
	*sql.Tx
	p *pool
}

func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.p.cached(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	t.p.prepareLater(query)
	return t.Tx.QueryRowContext(ctx, query, args...)
}

func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.p.cached(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	t.p.prepareLater(query)
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.p.cached(query); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	t.p.prepareLater(query)
	return t.Tx.ExecContext(ctx, query, args...)
}
