package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

// Every test gets schemas of its own (pgtest.Schema), so they may run in
// parallel with each other and with other packages' PostgreSQL tests.

func open(t *testing.T, dsn, schema string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn, Schema: schema, MaxOpenConns: 8}, time.Now())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pgtest.DSN(t) // skip (or fail under CI) once, not per subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		dsn, schema := pgtest.Schema(t)
		return open(t, dsn, schema)
	})
}

// Two Stores, two pools, one schema: two server instances.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	pgtest.DSN(t) // skip (or fail under CI) once, not per subtest
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn, schema := pgtest.Schema(t)
		return open(t, dsn, schema), open(t, dsn, schema)
	})
}

// raw opens a plain connection pool on schema, to look at what the store
// wrote.
func raw(t *testing.T, dsn, schema string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}

// withParam adds a connection parameter to a URL or key=value DSN.
func withParam(dsn, key, value string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Instances starting together on an empty database: the schema is created
// and every migration applied exactly once, and all of them open.
func TestConcurrentOpens(t *testing.T) {
	t.Parallel()
	dsn, parent := pgtest.Schema(t)
	// A schema nobody has created yet: the Opens race to create it too.
	schema := parent + "_fresh"
	admin := raw(t, dsn, parent)
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop %s: %v", schema, err)
		}
	})

	const instances = 8
	stores := make([]*sqlstore.Store, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), postgres.Config{DSN: dsn, Schema: schema, MaxOpenConns: 2}, time.Now())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		t.FailNow()
	}

	rows, err := admin.QueryContext(t.Context(), `SELECT version FROM `+pgx.Identifier{schema, "gatehouse_schema_migrations"}.Sanitize()+` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The primary key already forbids a version twice; what must also hold
	// is that every version is there, in sequence.
	if len(versions) == 0 || versions[0] != 1 {
		t.Fatalf("applied migrations %v, want 1..n", versions)
	}
	// Versions rise; a branch may leave a gap for versions reserved by
	// parallel work, renumbered when merged.
	for i, v := range versions {
		if i > 0 && v <= versions[i-1] {
			t.Fatalf("applied migrations %v, want 1..n in order", versions)
		}
	}

	// And the instances share state: what one writes, all read.
	now := time.Now().Truncate(time.Millisecond)
	sess := store.Session{IDHash: "concurrent-opens", Subject: "u", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := stores[0].CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.GetSession(t.Context(), sess.IDHash); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}

// The DSN, and the password in it, never show in an error.
func TestDSNRedacted(t *testing.T) {
	t.Parallel()
	const password = "pw-S3cret-Value"
	tests := []struct {
		name string
		dsn  string
	}{
		{"unreachable URL", "postgres://gatehouse:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"unreachable key=value", "host=127.0.0.1 port=1 user=gatehouse password=" + password + " dbname=db sslmode=disable connect_timeout=2"},
		{"bad port", "postgres://gatehouse:" + password + "@127.0.0.1:notaport/db"},
		{"bad URL escape", "postgres://gatehouse:" + password + "%zz@127.0.0.1/db"},
		{"bad sslmode", "postgres://gatehouse:" + password + "@127.0.0.1/db?sslmode=" + password},
		{"unterminated quote", "host=127.0.0.1 password='" + password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), postgres.Config{DSN: tt.dsn, ConnectTimeout: 2 * time.Second}, time.Now())
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, secret := range []string{password, tt.dsn} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
			// Nothing it unwraps to shows it either.
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), password) {
					t.Errorf("wrapped error shows the password: %v", e)
				}
			}
			if _, err := postgres.ParseDSN(tt.dsn); err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("ParseDSN error shows the password: %v", err)
			}
		})
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	got, err := postgres.ParseDSN("postgres://alice:hunter2-secret@db.example.com:6543/gh?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if want := "alice@db.example.com:6543/gh"; got != want {
		t.Errorf("ParseDSN = %q, want %q", got, want)
	}
	if strings.Contains(got, "hunter2") {
		t.Error("ParseDSN shows the password")
	}
	for _, bad := range []string{"", "postgres://x:y@h:99999999/db", "mysql://x@h/db"} {
		if _, err := postgres.ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) succeeded", bad)
		}
	}
}

func TestConfigRejected(t *testing.T) {
	t.Parallel()
	dsn := "postgres://postgres@127.0.0.1:1/test"
	tests := []struct {
		name string
		cfg  postgres.Config
		want string
	}{
		{"no dsn", postgres.Config{}, "dsn is empty"},
		{"one connection", postgres.Config{DSN: dsn, MaxOpenConns: 1}, "max_conns must be at least 2"},
		{"negative idle", postgres.Config{DSN: dsn, MaxIdleConns: -1}, "max_idle_conns"},
		{"negative lifetime", postgres.Config{DSN: dsn, ConnMaxLifetime: -time.Second}, "must not be negative"},
		{"sub-millisecond statement timeout", postgres.Config{DSN: dsn, StatementTimeout: time.Microsecond}, "statement_timeout"},
		{"NUL in schema", postgres.Config{DSN: dsn, Schema: "a\x00b"}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), tt.cfg, time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// A schema name is an identifier, never SQL.
func TestHostileSchemaName(t *testing.T) {
	t.Parallel()
	dsn, parent := pgtest.Schema(t)
	schema := parent + `"; DROP SCHEMA ` + parent + ` CASCADE; --`
	admin := raw(t, dsn, parent)
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop: %v", err)
		}
	})
	s := open(t, dsn, schema)
	defer s.Close()
	var n int
	err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'gatehouse_sessions'`, schema).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("tables in the oddly named schema: %d, %v", n, err)
	}
	if err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, parent).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the parent schema is gone: %d, %v", n, err)
	}
}

// The leader lock admits one holder across stores (instances); the others
// are turned away at once, and the lock is free again when fn returns.
func TestLeaderLock(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	a, b := open(t, dsn, schema), open(t, dsn, schema)
	defer a.Close()
	defer b.Close()
	ctx := t.Context()

	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ran, err := a.WithLeaderLock(ctx, "gc", func(ctx context.Context) error {
			close(inside)
			<-release
			return nil
		})
		if err == nil && !ran {
			err = errors.New("a did not get the free lock")
		}
		done <- err
	}()
	<-inside
	ran, err := b.WithLeaderLock(ctx, "gc", func(context.Context) error {
		t.Error("b ran while a held the lock")
		return nil
	})
	if err != nil || ran {
		t.Fatalf("b while a holds the lock: ran=%v err=%v", ran, err)
	}
	// Another name is another lock.
	ran, err = b.WithLeaderLock(ctx, "keys", func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Fatalf("b on another lock: ran=%v err=%v", ran, err)
	}
	// So is the same name in another schema (another deployment).
	dsn2, schema2 := pgtest.Schema(t)
	other := open(t, dsn2, schema2)
	defer other.Close()
	ran, err = other.WithLeaderLock(ctx, "gc", func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Fatalf("a store in another schema: ran=%v err=%v", ran, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Released: b gets it now, and fn's error comes back.
	boom := errors.New("boom")
	ran, err = b.WithLeaderLock(ctx, "gc", func(context.Context) error { return boom })
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("b after a released: ran=%v err=%v", ran, err)
	}
	// A failing fn released it too.
	ran, err = a.WithLeaderLock(ctx, "gc", func(context.Context) error { return nil })
	if !ran || err != nil {
		t.Fatalf("a after b's fn failed: ran=%v err=%v", ran, err)
	}
}

// Many instances trying at once: never two holders at a time, and the lock
// is passed on (not stuck with one session).
func TestLeaderLockExclusive(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	stores := []*sqlstore.Store{open(t, dsn, schema), open(t, dsn, schema), open(t, dsn, schema)}
	for _, s := range stores {
		defer s.Close()
	}
	var active, maxActive, ran, turnedAway atomic.Int32
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			for range 5 {
				ok, err := stores[i%len(stores)].WithLeaderLock(t.Context(), "gc", func(context.Context) error {
					n := active.Add(1)
					for {
						m := maxActive.Load()
						if n <= m || maxActive.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(2 * time.Millisecond)
					active.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					ran.Add(1)
				} else {
					turnedAway.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if m := maxActive.Load(); m != 1 {
		t.Errorf("%d holders at once, want 1", m)
	}
	if ran.Load() < 2 || turnedAway.Load() == 0 {
		t.Errorf("ran %d times, turned away %d times: the race did not happen", ran.Load(), turnedAway.Load())
	}
}

// A lock held by an instance that dies (its session ends) is free again:
// the leader does not need to exit cleanly.
func TestLeaderLockFreedWhenSessionEnds(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	// a's sessions are told apart by their application_name; tests running
	// in parallel must not lose theirs.
	victim := "gatehouse-" + schema
	a, err := postgres.Open(t.Context(), postgres.Config{DSN: withParam(dsn, "application_name", victim), Schema: schema}, time.Now())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b := open(t, dsn, schema)
	defer b.Close()
	inside, killed := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = a.WithLeaderLock(context.Background(), "gc", func(context.Context) error {
			close(inside)
			<-killed
			return nil
		})
	}()
	<-inside
	admin := raw(t, dsn, schema)
	// What a SIGKILLed Caddy leaves behind: its sessions end.
	if _, err := admin.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1`, victim); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ran, err := b.WithLeaderLock(t.Context(), "gc", func(context.Context) error { return nil })
		if ran && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead holder's lock was never freed: ran=%v err=%v", ran, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(killed)
	a.Close()
}

// Reads observe the configured statement timeout and search_path.
func TestSessionSettings(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	db := postgres.PoolForTest(t, postgres.Config{DSN: dsn, Schema: schema, StatementTimeout: 150 * time.Millisecond, MaxOpenConns: 3, MaxIdleConns: 9})
	if got := db.Stats().MaxOpenConnections; got != 3 {
		t.Errorf("pool limit %d, want 3", got)
	}
	var timeout, current, app string
	if err := db.QueryRowContext(t.Context(), `SELECT current_setting('statement_timeout'), current_schema(), current_setting('application_name')`).Scan(&timeout, &current, &app); err != nil {
		t.Fatal(err)
	}
	if timeout != "150ms" || current != schema || app != "gatehouse" {
		t.Errorf("statement_timeout %q, current_schema %q, application_name %q; want 150ms, %s, gatehouse", timeout, current, app, schema)
	}
	start := time.Now()
	_, err := db.ExecContext(t.Context(), `SELECT pg_sleep(5)`)
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("a 5 s statement: %v, want a statement timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	// Every connection of the pool has them, not just the first.
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		var got string
		if err := c.QueryRowContext(t.Context(), `SHOW statement_timeout`).Scan(&got); err != nil || got != "150ms" {
			t.Errorf("connection %d: statement_timeout %q, %v", i, got, err)
		}
	}
}
