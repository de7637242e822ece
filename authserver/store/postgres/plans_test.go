package postgres_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

// TestHotQueriesUseIndexes: no statement of the hot path
// (storetest.HotPath) scans a table. The tables are first filled with
// seedRows live rows each and analysed, so the planner chooses as it
// would in production: a sequential scan it still picks means no index
// answers the statement, and its cost would grow with the table.
func TestHotQueriesUseIndexes(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	hs := storetest.NewHotStatements()
	s, err := postgres.Open(t.Context(), postgres.Config{DSN: dsn, Schema: schema, MaxOpenConns: 4}, time.Now(),
		sqlstore.WithRoundTrips(hs.Record))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.HotPath(t, s, hs.Set)

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, set := range append([]string{"SET search_path TO " + pgx.Identifier{schema}.Sanitize()},
		append(seedStatements(seedRows), "ANALYZE")...) {
		if _, err := conn.ExecContext(t.Context(), set); err != nil {
			t.Fatalf("%s: %v", set, err)
		}
	}
	queries := hs.Queries()
	if len(queries) < 10 {
		t.Fatalf("only %d hot statements recorded", len(queries))
	}
	var report strings.Builder
	for _, q := range queries {
		if strings.HasPrefix(q, "INSERT") {
			continue // an insert reads no table
		}
		// EXPLAIN without ANALYZE plans and does not run the statement.
		rows, err := conn.QueryContext(t.Context(), "EXPLAIN "+q, hs.Args(q)...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", storetest.OneLine(q), err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
			if strings.Contains(line, "Seq Scan") {
				t.Errorf("a hot statement needs a sequential scan (%s):\n%s", strings.TrimSpace(line), storetest.OneLine(q))
			}
		}
		rows.Close()
		fmt.Fprintf(&report, "%s\n    %s\n", storetest.OneLine(q), strings.Join(plan, " | "))
	}
	t.Logf("plans of the hot statements:\n%s", report.String())
}

// seedRows is how many rows seedStatements puts in each hot table: enough
// for an index lookup to beat a scan by far, few enough to seed in a second.
const seedRows = 20000

// seedStatements fill the hot tables with n live (unexpired, unrevoked;
// the denylist's revoked long ago) rows each, unrelated to the rows the hot path uses.
func seedStatements(n int) []string {
	const future = "4102444800000" // 2100-01-01, in milliseconds
	series := fmt.Sprintf(" FROM generate_series(1, %d) AS i", n)
	return []string{
		`INSERT INTO gatehouse_sessions (id_hash, subject, auth_time, created_at, expires_at)
			SELECT md5('s' || i), 'seed-user-' || (i % 1000), 1, 1, ` + future + series,
		`INSERT INTO gatehouse_auth_codes (hash, grant_id, client_id, subject, session_id_hash, redirect_uri, scopes,
			resources, nonce, code_challenge, code_challenge_method, auth_time, created_at, expires_at)
			SELECT md5('c' || i), 'seed-grant-c' || i, 'seed-client-' || (i % 50), 'seed-user-' || (i % 1000), md5('s' || i),
				'https://app.example/cb', '["openid"]', '[]', '', 'x', 'S256', 1, 1, ` + future + series,
		`INSERT INTO gatehouse_grants (id, client_id, subject, session_id_hash, scopes, resources, auth_time, created_at, expires_at)
			SELECT 'seed-grant-' || i, 'seed-client-' || (i % 50), 'seed-user-' || (i % 1000), md5('s' || i),
				'["openid"]', '[]', 1, 1, ` + future + series,
		`INSERT INTO gatehouse_refresh_tokens (hash, grant_id, created_at, expires_at)
			SELECT md5('r' || i), 'seed-grant-' || i, 1, ` + future + series,
		`INSERT INTO gatehouse_consents (subject, client_id, scopes, created_at, updated_at)
			SELECT 'seed-user-' || i, 'seed-client-' || (i % 50), '["openid"]', 1, 1` + series,
		// Revoked long ago: the revocation feed asks for recent ones.
		`INSERT INTO gatehouse_denylisted_tokens (jti, revoked_at, expires_at)
			SELECT 'seed-jti-' || i, 1, ` + future + series,
		`INSERT INTO gatehouse_users (id, username, username_key, email, email_key, email_verified, name, groups_json,
			groups_key, disabled, password_hash, created_at, updated_at, last_login_at)
			SELECT 'usr_seed' || i, 'seed' || i, 'seed' || i, 'seed' || i || '@example.com', 'seed' || i || '@example.com',
				1, '', '[]', '', 0, '', 1, 1, 0` + series,
	}
}
