package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestRestore: Restore refuses a database in use and a file that is not a
// Gatehouse backup, changing nothing; with the database closed it puts the
// backup in place, keeps the replaced file, leaves no -wal or -shm, and
// the restored store has what the backup had and nothing written after.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live, backup := filepath.Join(dir, "live.db"), filepath.Join(dir, "backup.db")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	session := func(id string) store.Session {
		return store.Session{IDHash: id, Subject: "alice", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	st, err := sqlite.Open(ctx, live, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, session("before")); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Backup(ctx, live, backup); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, session("after")); err != nil {
		t.Fatal(err)
	}

	if err := sqlite.Restore(ctx, backup, live); !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("Restore while the store is open: %v, want ErrInUse", err)
	}
	if _, err := st.GetSession(ctx, "after"); err != nil {
		t.Fatalf("the refused restore changed the open store: %v", err)
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte("not a database at all, but long enough to look like a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherDB := filepath.Join(dir, "other-app.db")
	db, err := sql.Open("sqlite", otherDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE notes (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, bad := range []string{notDB, filepath.Join(dir, "missing.db"), otherDB} {
		if err := sqlite.Restore(ctx, bad, filepath.Join(dir, "other.db")); err == nil {
			t.Errorf("Restore from %s succeeded", filepath.Base(bad))
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	if err := sqlite.Restore(ctx, backup, live); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(live + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", suffix, err)
		}
	}
	if _, err := os.Stat(live + sqlite.PreRestoreSuffix); err != nil {
		t.Errorf("the replaced database was not kept: %v", err)
	}
	restored, err := sqlite.Open(ctx, live, now)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.GetSession(ctx, "before"); err != nil {
		t.Errorf("the backup's session: %v", err)
	}
	if _, err := restored.GetSession(ctx, "after"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session written after the backup: %v, want ErrNotFound", err)
	}
}
