package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

// TestHotQueriesUseIndexes: no statement of the hot path (storetest.HotPath)
// scans a table, so their cost does not grow with the number of grants,
// tokens, sessions and consents stored. SQLite's query plans say SEARCH
// (an index or the primary key) or SCAN (every row); a SCAN fails.
func TestHotQueriesUseIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	hs := storetest.NewHotStatements()
	s, err := sqlite.Open(t.Context(), path, time.Now(), sqlstore.WithRoundTrips(hs.Record))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.HotPath(t, s, hs.Set)

	db := rawDB(t, path)
	var report strings.Builder
	queries := hs.Queries()
	if len(queries) < 10 {
		t.Fatalf("only %d hot statements recorded", len(queries))
	}
	for _, q := range queries {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, hs.Args(q)...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
			if strings.HasPrefix(detail, "SCAN ") && !strings.HasPrefix(detail, "SCAN CONSTANT ROW") {
				t.Errorf("a hot statement scans a table (%s):\n%s", detail, storetest.OneLine(q))
			}
		}
		rows.Close()
		fmt.Fprintf(&report, "%s\n    %s\n", storetest.OneLine(q), strings.Join(plan, "; "))
	}
	t.Logf("plans of the hot statements:\n%s", report.String())
}
