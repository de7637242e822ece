package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestBackup: a backup taken while the store is open holds what was
// committed, opens as a store of its own, and later writes to the
// original do not reach it; an existing destination is refused.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "live.db"), now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	session := func(id string) store.Session {
		return store.Session{IDHash: id, Subject: "alice", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := st.CreateSession(ctx, session("before")); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := sqlite.Backup(ctx, filepath.Join(dir, "live.db"), copyPath); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, session("after")); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Backup(ctx, filepath.Join(dir, "live.db"), copyPath); err == nil {
		t.Error("a backup over an existing file was not refused")
	}

	restored, err := sqlite.Open(ctx, copyPath, now)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if s, err := restored.GetSession(ctx, "before"); err != nil || s.Subject != "alice" {
		t.Errorf("the backup lacks what was committed before it: %+v %v", s, err)
	}
	if _, err := restored.GetSession(ctx, "after"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the backup has a later write: %v", err)
	}
}

// TestBackupAndRestoreRefusals: each refusal names its cause and leaves
// the files as they were.
func TestBackupAndRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	live := filepath.Join(dir, "live.db")
	st, err := sqlite.Open(ctx, live, now)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.db")
	if err := sqlite.Backup(ctx, live, good); err != nil {
		t.Fatal(err)
	}
	st.Close()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"backup of a missing database", func() error { return sqlite.Backup(ctx, filepath.Join(dir, "none.db"), filepath.Join(dir, "b1.db")) }, "the database"},
		{"backup into a missing directory", func() error { return sqlite.Backup(ctx, live, filepath.Join(dir, "no", "such", "b2.db")) }, "backing up"},
		{"restore onto itself", func() error { return sqlite.Restore(ctx, live, live) }, "same file"},
		{"restore of a missing backup", func() error { return sqlite.Restore(ctx, filepath.Join(dir, "none.db"), live) }, "sqlite"},
		{"restore of a file that is no database", func() error { return sqlite.Restore(ctx, notDB, live) }, "sqlite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(live + sqlite.PreRestoreSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore moved the database aside: %v", err)
	}
	// A restore where no database exists yet puts the backup in place.
	fresh := filepath.Join(dir, "fresh", "gatehouse.db")
	if err := os.MkdirAll(filepath.Dir(fresh), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Restore(ctx, good, fresh); err != nil {
		t.Fatalf("restore to a new path: %v", err)
	}
	restored, err := sqlite.Open(ctx, fresh, now)
	if err != nil {
		t.Fatalf("the restored database does not open: %v", err)
	}
	restored.Close()
}
