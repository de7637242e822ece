package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// pgTarget is a fresh schema on a reachable PostgreSQL server.
type pgTarget struct {
	dsn, schema string
	db          *sql.DB
}

// defaultPostgresDSN is the test server the suite uses too.
const defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func postgresDSN() string {
	for _, env := range []string{"GATEHOUSE_BENCH_POSTGRES_DSN", "GATEHOUSE_TEST_POSTGRES_DSN"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return defaultPostgresDSN
}

// openPostgres creates an empty schema, or says why it cannot.
func openPostgres(dsn string) (*pgTarget, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	schema := "gatehouse_bench_" + strings.ToLower(rand.Text()[:10])
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		db.Close()
		return nil, err
	}
	return &pgTarget{dsn: dsn, schema: schema, db: db}, nil
}

// drop removes the schema and everything in it.
func (t *pgTarget) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = t.db.ExecContext(ctx, `DROP SCHEMA `+pgx.Identifier{t.schema}.Sanitize()+` CASCADE`)
	t.db.Close()
}
