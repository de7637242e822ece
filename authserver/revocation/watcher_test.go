package revocation

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

func TestWatcher(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().Truncate(time.Millisecond)
	clock := now
	w := New(st, time.Second, func() time.Time { return clock })

	live := store.Session{IDHash: "live", Subject: "u", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	short := store.Session{IDHash: "short", Subject: "u", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(2 * time.Minute)}
	for _, s := range []store.Session{live, short} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Revoked(store.RevokedSession, "live") || w.LastSync().IsZero() {
		t.Fatal("nothing is revoked yet, and the first poll must record its time")
	}
	for _, id := range []string{"live", "short"} {
		if err := st.RevokeSession(ctx, id, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if w.Revoked(store.RevokedSession, "live") {
		t.Fatal("a revocation was seen before any poll")
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if !w.Revoked(store.RevokedSession, "live") || !w.Revoked(store.RevokedSession, "short") {
		t.Fatal("revocations not seen after a poll")
	}
	if w.Revoked(store.RevokedGrant, "live") || w.Revoked(store.RevokedSession, "") {
		t.Fatal("kinds must not mix, and an empty id is never revoked")
	}
	// Once a revoked record has expired it no longer matters and is
	// pruned, keeping the set bounded.
	clock = now.Add(5 * time.Minute)
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Revoked(store.RevokedSession, "short") || !w.Revoked(store.RevokedSession, "live") {
		t.Fatal("the expired revocation was not pruned, or the live one was")
	}
	// Local revocations are visible at once.
	w.Add(store.RevokedGrant, "g1", clock.Add(time.Hour))
	if !w.Revoked(store.RevokedGrant, "g1") {
		t.Fatal("Add did not take effect")
	}
}
