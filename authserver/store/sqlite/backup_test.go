package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
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
