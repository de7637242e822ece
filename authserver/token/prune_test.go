package token

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// Five scheduled rotations on one store with two instances, deleting
// retired keys after each: the store stays bounded, deleting never changes
// which key signs, what is published or when the next rotation is due,
// and an instance started after a deletion (a restart) agrees with the
// ones that saw the keys before it.
func TestDeleteRetiredKeepsSchedule(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek := seal.GenerateKey()
	clk := newClock(t0)
	a := newInstance(t, st, kek, rotatingOptions(clk, ES256, RS256))
	b := newInstance(t, st, kek, rotatingOptions(clk, ES256, RS256))
	deleteRetired := func(m *KeyManager) int {
		t.Helper()
		n, err := m.DeleteRetired(t.Context())
		if err != nil {
			t.Fatalf("DeleteRetired: %v", err)
		}
		return n
	}
	if n := deleteRetired(a); n != 0 {
		t.Fatalf("deleted %d keys before any retired", n)
	}
	for cycle := 1; cycle <= 5; cycle++ {
		// Not due a second early, even after the last cycle's deletion.
		// (From the second cycle on, the clock is already retention past
		// the signing key's start.)
		if cycle == 1 {
			clk.Advance(rotation - prePub - time.Second)
		} else {
			clk.Advance(rotation - prePub - retention - time.Second)
		}
		before := len(listKids(t, st))
		mustLoad(t, a, b)
		if n := len(listKids(t, st)); n != before {
			t.Fatalf("cycle %d: a rotation a second before it is due: %d keys, had %d", cycle, n, before)
		}
		clk.Advance(time.Second)
		mustLoad(t, b, a)
		if n := len(listKids(t, st)); n != before+2 {
			t.Fatalf("cycle %d: %d keys after the due reload, want %d", cycle, n, before+2)
		}
		// Nothing can go while the successors wait or the old keys verify.
		clk.Advance(prePub + retention - time.Second)
		if n := deleteRetired(b); n != 0 {
			t.Fatalf("cycle %d: deleted %d keys before the old ones retired", cycle, n)
		}
		clk.Advance(time.Second)
		mustLoad(t, a, b)
		signers := []string{kidOf(t, a, ES256), kidOf(t, a, RS256)}
		jwks := string(a.JWKS())

		// The first retired key of each algorithm stays as its
		// successor's predecessor; from the second cycle on the older
		// one goes, one per algorithm, and only once.
		want := 0
		if cycle > 1 {
			want = 2
		}
		if n := deleteRetired(a); n != want {
			t.Fatalf("cycle %d: deleted %d retired keys, want %d", cycle, n, want)
		}
		if n := deleteRetired(b); n != 0 {
			t.Fatalf("cycle %d: a second instance deleted %d more", cycle, n)
		}
		if n := len(listKids(t, st)); n != 4 {
			t.Fatalf("cycle %d: %d keys stored after deleting, want 4 (a retired and a signing key per algorithm)", cycle, n)
		}

		restarted := newInstance(t, st, kek, rotatingOptions(clk, ES256, RS256))
		mustLoad(t, a, b)
		for name, m := range map[string]*KeyManager{"a": a, "b": b, "restarted": restarted} {
			if got := []string{kidOf(t, m, ES256), kidOf(t, m, RS256)}; !slices.Equal(got, signers) {
				t.Errorf("cycle %d: %s signs with %v after the deletion, want %v", cycle, name, got, signers)
			}
			if string(m.JWKS()) != jwks {
				t.Errorf("cycle %d: %s publishes %s after the deletion, want %s", cycle, name, m.JWKS(), jwks)
			}
		}
		a, b = b, restarted // the restarted instance replaces one
	}
}

// With no Retention, keys retire only at a stored RetireAt, and nothing
// else is ever deleted.
func TestDeleteRetiredWithoutRetention(t *testing.T) {
	st := newTestStore(t)
	clk := newClock(t0)
	opts := rotatingOptions(clk, ES256)
	opts.Retention = 0
	m := newInstance(t, st, seal.GenerateKey(), opts)
	for range 3 {
		clk.Advance(rotation)
		mustLoad(t, m)
		clk.Advance(prePub)
	}
	n, err := m.DeleteRetired(t.Context())
	if err != nil || n != 0 || st.count() != 4 {
		t.Fatalf("DeleteRetired without retention: %d deleted, %v; %d stored, want 0 deleted of 4", n, err, st.count())
	}
}
