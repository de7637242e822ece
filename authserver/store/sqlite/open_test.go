package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestOpenRefusesUnusablePaths: Open fails, saying so, where no database
// can be: no path, a directory, a file where a directory must be, a
// file that is not SQLite; and it gives up when its context ends.
func TestOpenRefusesUnusablePaths(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		path string
	}{
		{"empty path", context.Background(), ""},
		{"a directory", context.Background(), dir},
		{"under a file", context.Background(), filepath.Join(notDir, "gatehouse.db")},
		{"not a database", context.Background(), garbage},
		{"context ended", cancelled, filepath.Join(dir, "new.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(tc.ctx, tc.path, time.Now())
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "sqlite: ") {
				t.Errorf("error %q does not say it is the SQLite store's", err)
			}
		})
	}
}
