package postgres

import (
	"database/sql"
	"testing"
)

// PoolForTest is the pool Open would use for cfg, without the store, so tests
// can look at the connections' settings.
func PoolForTest(t *testing.T, cfg Config) *sql.DB {
	t.Helper()
	db, _, _, _, err := newDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
