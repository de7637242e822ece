// Package pgtest gives tests a PostgreSQL database to work in: a fresh
// schema per call, dropped when the test ends.
//
// The server comes from GATEHOUSE_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot
// be reached, tests that need it are skipped with a message saying so,
// except under CI=true, where they fail: CI must not pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "GATEHOUSE_TEST_POSTGRES_DSN"

// DefaultDSN is used when EnvDSN is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// reachable remembers, per test binary, whether the server answered.
var reachable = sync.OnceValues(func() (string, error) {
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		dsn = DefaultDSN
	}
	if _, err := postgres.ParseDSN(dsn); err != nil {
		return dsn, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return dsn, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		// pgx leaves the password out of connection errors; make sure.
		msg := err.Error()
		if cfg, perr := pgx.ParseConfig(dsn); perr == nil && cfg.Password != "" {
			msg = strings.ReplaceAll(msg, cfg.Password, "[redacted]")
		}
		return dsn, errors.New(msg)
	}
	return dsn, nil
})

// DSN returns the test server's DSN, or skips t (fails it under CI=true)
// when the server cannot be reached.
func DSN(t testing.TB) string {
	t.Helper()
	dsn, err := reachable()
	if err != nil {
		where := "the default " + DefaultDSN
		if os.Getenv(EnvDSN) != "" {
			where = "the server in " + EnvDSN
		}
		// The error comes from pgx and may name the host and user, never the
		// password; ParseDSN's never quotes the DSN.
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL tests need a server and CI=true forbids skipping them: cannot reach %s: %v", where, err)
		}
		t.Skipf("skipping PostgreSQL test: cannot reach %s (set %s to a reachable server; under CI=true this fails): %v", where, EnvDSN, err)
	}
	return dsn
}

// Schema creates an empty schema with a random name on the test server and
// drops it, with everything in it, when t ends. It returns the DSN and the
// schema's name (for postgres.Config.Schema).
//
// The DSN turns synchronous_commit off: tests need no durability across a
// crash of the server, and not waiting for each commit's WAL flush makes a
// schema per test (created, migrated, dropped) several times cheaper.
// Visibility and locking, which the tests are about, are unchanged.
func Schema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = withParam(DSN(t), "synchronous_commit", "off")
	schema = "gatehouse_test_" + strings.ToLower(rand.Text()[:12])
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		db.Close()
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

// Open opens a store on schema with a small pool, closed when t ends
// (closing it earlier is fine).
func Open(t testing.TB, dsn, schema string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn, Schema: schema, MaxOpenConns: 8}, time.Now())
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// withParam sets a connection parameter in a URL or key=value DSN.
func withParam(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}
