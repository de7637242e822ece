package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the raw connections below inspect the file

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

func open(t *testing.T, path string) store.Store {
	t.Helper()
	return openAt(t, path, time.Now())
}

func openAt(t *testing.T, path string, now time.Time) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

// Two Stores on one file behave like two server instances sharing it.
func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		return open(t, path), open(t, path)
	})
}

// rawDB opens path without the store, to look at what it wrote.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type appliedMigration struct{ version, appliedAt int64 }

func migrationsOf(t *testing.T, path string) []appliedMigration {
	t.Helper()
	rows, err := rawDB(t, path).QueryContext(t.Context(), `SELECT version, applied_at FROM gatehouse_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ms []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.version, &m.appliedAt); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if _, err := sqlite.Open(ctx, path, time.Time{}); err == nil {
		t.Fatal("Open without a time to record migrations at succeeded")
	}
	created := time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	s := openAt(t, path, created)
	sess := store.Session{IDHash: "0123abcd", Subject: "user-1"}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	applied := migrationsOf(t, path)
	if len(applied) == 0 {
		t.Fatal("no migrations recorded")
	}
	// Versions rise from 1; a branch may leave a gap for versions
	// reserved by parallel work (renumbered when merged).
	for i, m := range applied {
		if (i == 0 && m.version != 1) || (i > 0 && m.version <= applied[i-1].version) || m.appliedAt != created.UnixMilli() {
			t.Fatalf("migrations %v, want versions 1, 2, ... applied at the time Open was given (%d)", applied, created.UnixMilli())
		}
	}

	s = openAt(t, path, created.Add(time.Hour))
	defer s.Close()
	got, err := s.GetSession(ctx, sess.IDHash)
	if err != nil {
		t.Fatalf("GetSession after reopening: %v", err)
	}
	if got.Subject != sess.Subject {
		t.Fatalf("session after reopening has subject %q, want %q", got.Subject, sess.Subject)
	}
	if again := migrationsOf(t, path); len(again) != len(applied) || again[len(again)-1] != applied[len(applied)-1] {
		t.Fatalf("migrations after reopening are %v, want %v untouched", again, applied)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := open(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).ExecContext(t.Context(),
		`INSERT INTO gatehouse_schema_migrations (version, applied_at) VALUES (1000000, 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), path, time.Now())
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a database from a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open: %v, want an error about a newer schema", err)
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "gatehouse")
	path := filepath.Join(dir, "store.db")
	s := open(t, path)
	defer s.Close()
	// Write something so the -wal and -shm files exist.
	if err := s.CreateSession(t.Context(), store.Session{IDHash: "00", Subject: "u"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory has mode %v, want 0700", perm)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", filepath.Base(name), perm)
		}
	}
}

func TestOpenNarrowsExistingFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask did
		t.Fatal(err)
	}
	open(t, path).Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database has mode %v, want 0600", perm)
	}
}

func TestOpenPathNeedingEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd dir?#%", "gatehouse.db")
	s := open(t, path)
	defer s.Close()
	if err := s.CreateSession(t.Context(), store.Session{IDHash: "00", Subject: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not where it was asked to be: %v", err)
	}
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path).Close()
	var mode string
	if err := rawDB(t, path).QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal mode is %q, want wal", mode)
	}
}

// Instances starting together on a new file migrate it once, without
// tripping over each other. A few rounds, because the window is small.
func TestConcurrentOpen(t *testing.T) {
	const rounds, instances = 5, 16
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprint("gatehouse-", round, ".db"))
		start := make(chan struct{})
		errs := make([]error, instances)
		stores := make([]store.Store, instances)
		var wg sync.WaitGroup
		for i := range instances {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = sqlite.Open(t.Context(), path, time.Now())
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, Open %d: %v", round, i, err)
				continue
			}
			stores[i].Close()
		}
		applied := migrationsOf(t, path)
		for i, m := range applied {
			// Rising versions (a branch may leave a gap for versions
			// reserved by parallel work), each once.
			if (i == 0 && m.version != 1) || (i > 0 && m.version <= applied[i-1].version) {
				t.Fatalf("round %d: migrations recorded %v, want each version once", round, applied)
			}
		}
	}
}

// SQLite has no cross-process locks to elect a leader with; its single
// writer already serialises writes, so WithLeaderLock always runs fn, even
// while another call is inside it.
func TestWithLeaderLockAlwaysRuns(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inner := false
	ran, err := s.WithLeaderLock(t.Context(), "gc", func(ctx context.Context) error {
		var err error
		inner, err = s.WithLeaderLock(ctx, "gc", func(context.Context) error { return nil })
		return err
	})
	if !ran || !inner || err != nil {
		t.Fatalf("ran=%v inner=%v err=%v, want both run", ran, inner, err)
	}
	boom := errors.New("boom")
	if _, err := s.WithLeaderLock(t.Context(), "gc", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn's error came back as %v", err)
	}
	if _, err := s.WithLeaderLock(t.Context(), "", func(context.Context) error { return nil }); err == nil {
		t.Fatal("an empty lock name was accepted")
	}
}
