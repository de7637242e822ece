package sqlstore

import (
	"context"
	"database/sql"
	"testing"
)

func TestRebind(t *testing.T) {
	cases := []struct {
		query       string
		placeholder Placeholder
		want        string
	}{
		{`SELECT 1`, Dollar, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c > ?`, QuestionMark, `SELECT a FROM t WHERE b = ? AND c > ?`},
		{`SELECT a FROM t WHERE b = ? AND c > ?`, Dollar, `SELECT a FROM t WHERE b = $1 AND c > $2`},
		{`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Dollar, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{`?`, Dollar, `$1`},
	}
	for _, tc := range cases {
		d := Dialect{Placeholder: tc.placeholder}
		if got := d.rebind(tc.query); got != tc.want {
			t.Errorf("rebind(%q) with placeholder %d = %q, want %q", tc.query, tc.placeholder, got, tc.want)
		}
	}
}

func TestDialectValidate(t *testing.T) {
	unique := func(error) bool { return false }
	tryLock := func(context.Context, *sql.Conn, string) (bool, error) { return true, nil }
	unlock := func(context.Context, *sql.Conn, string) error { return nil }
	cases := []struct {
		name string
		d    Dialect
		ok   bool
	}{
		{"Complete", Dialect{Name: "x", Placeholder: Dollar, IsUniqueViolation: unique}, true},
		{"NoName", Dialect{Placeholder: Dollar, IsUniqueViolation: unique}, false},
		{"BadPlaceholder", Dialect{Name: "x", Placeholder: 7, IsUniqueViolation: unique}, false},
		{"NoUniqueViolation", Dialect{Name: "x"}, false},
		{"LockWithoutUnlock", Dialect{Name: "x", IsUniqueViolation: unique, TryLock: tryLock}, false},
		{"UnlockWithoutLock", Dialect{Name: "x", IsUniqueViolation: unique, Unlock: unlock}, false},
		{"LockAndUnlock", Dialect{Name: "x", IsUniqueViolation: unique, TryLock: tryLock, Unlock: unlock}, true},
	}
	for _, tc := range cases {
		if err := tc.d.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
