package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

func session(id string, now time.Time) store.Session {
	return store.Session{IDHash: id, Subject: "u1", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// A write that cannot get the database within the call timeout (another
// process holds the write lock) fails with ErrUnavailable, never a
// not-found, while reads go on; once the lock is gone the store works
// again without being reopened.
func TestLockedDatabaseIsUnavailableNotMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	now := time.Now()
	st, err := sqlite.Open(t.Context(), path, now, sqlstore.WithCallTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateSession(t.Context(), session("before", now)); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`UPDATE gatehouse_sessions SET subject = subject`); err != nil {
		t.Fatal(err)
	}

	err = st.CreateSession(t.Context(), session("during", now))
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("write while locked: %v, want ErrUnavailable", err)
	}
	if _, err := st.GetSession(t.Context(), "before"); err != nil {
		t.Errorf("read while locked: %v (WAL readers are not blocked)", err)
	}
	if _, err := st.GetSession(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("missing session while locked: %v, want only ErrNotFound", err)
	}

	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(t.Context(), session("after", now)); err != nil {
		t.Fatalf("write after the lock is gone: %v", err)
	}
}

// A store whose database is gone (closed under it, as at shutdown) answers
// ErrUnavailable: a session lookup must not read as "no session".
func TestClosedStoreIsUnavailable(t *testing.T) {
	now := time.Now()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(t.Context(), session("s1", now)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	tests := []struct {
		name string
		call func() error
	}{
		{"GetSession", func() error { _, err := st.GetSession(t.Context(), "s1"); return err }},
		{"CreateSession", func() error { return st.CreateSession(t.Context(), session("s2", now)) }},
		{"RotateRefreshToken", func() error {
			_, err := st.RotateRefreshToken(t.Context(), "h", now, store.RefreshToken{Hash: "h2", GrantID: "g"})
			return err
		}},
		{"ListConsents", func() error { _, err := st.ListConsents(t.Context(), "u1"); return err }},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on a closed store: %v, want ErrUnavailable", tt.name, err)
		}
	}
}
