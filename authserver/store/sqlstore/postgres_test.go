package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

// These tests check that the shared SQL really is portable, by running the
// conformance suite on PostgreSQL through pgx's database/sql driver. They
// need a server: set GATEHOUSE_TEST_POSTGRES to a URL DSN of a database the
// test may create and drop schemas in, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
//
// The dialect below is a test fixture, a sketch of what a PostgreSQL backend
// would use, not that backend.
var postgresDialect = sqlstore.Dialect{
	Name:        "postgres",
	Placeholder: sqlstore.Dollar,
	LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		// Any constant both sides agree on; held until the transaction ends.
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7165863215364521472)`)
		return err
	},
	IsUniqueViolation: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "23505" // unique_violation
	},
}

// postgresSchema creates an empty schema for one test and returns a DSN whose
// connections use it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES is not set")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "gatehouse_test_" + rand.Text()[:12]
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	// One pool serves reads and writes: PostgreSQL's row locks, not a
	// single writer, serialise the conditional updates.
	s, err := sqlstore.New(t.Context(), nil, db, postgresDialect)
	if err != nil {
		db.Close()
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openPostgres(t, postgresSchema(t))
	})
}

func TestPostgresConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := postgresSchema(t)
		return openPostgres(t, dsn), openPostgres(t, dsn)
	})
}

func TestPostgresConcurrentMigrations(t *testing.T) {
	dsn := postgresSchema(t)
	const instances = 8
	errs := make(chan error, instances)
	start := make(chan struct{})
	for range instances {
		go func() {
			<-start
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				errs <- err
				return
			}
			s, err := sqlstore.New(t.Context(), nil, db, postgresDialect)
			if err != nil {
				db.Close()
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	close(start)
	for i := range instances {
		if err := <-errs; err != nil {
			t.Errorf("instance %d: %v", i, fmt.Sprint(err))
		}
	}
}
