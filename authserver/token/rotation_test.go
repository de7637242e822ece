package token

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

const (
	day       = 24 * time.Hour
	rotation  = 30 * day
	prePub    = day
	retention = 2 * time.Hour
)

func rotatingOptions(clk *clock, algs ...string) KeyOptions {
	return KeyOptions{Algorithms: algs, Now: clk.Now, RotationInterval: rotation, PrePublication: prePub, Retention: retention}
}

// instance is one server process's KeyManager on a shared store.
func newInstance(t *testing.T, st store.Store, kek []byte, opts KeyOptions) *KeyManager {
	t.Helper()
	s, err := seal.New(kek)
	if err != nil {
		t.Fatal(err)
	}
	m := NewKeyManager(st, s, opts)
	if err := m.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

func mustLoad(t *testing.T, ms ...*KeyManager) {
	t.Helper()
	for i, m := range ms {
		if err := m.Load(t.Context()); err != nil {
			t.Fatalf("Load %d: %v", i, err)
		}
	}
}

func kidsOf(recs []store.SigningKey) []string {
	var kids []string
	for _, r := range recs {
		kids = append(kids, r.ID)
	}
	return kids
}

func listKids(t *testing.T, st store.Store) []string {
	t.Helper()
	recs, err := st.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return kidsOf(recs)
}

// claimsAt are access token claims issued at at, valid for lifetime.
func claimsAt(at time.Time, lifetime time.Duration) AccessTokenClaims {
	c := accessClaims()
	c.IssuedAt = NewNumericDate(at)
	c.Expiry = NewNumericDate(at.Add(lifetime))
	return c
}

// A whole rotation on the real store, across two instances with one clock:
// the successor is published a day before it signs, both instances switch
// to it at the same moment without a reload, tokens signed by the old key
// verify everywhere until the retention has passed, and the schedule
// repeats.
func TestScheduledRotationAcrossInstances(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek := seal.GenerateKey()
	clk := newClock(t0)
	a := newInstance(t, st, kek, rotatingOptions(clk, ES256))
	b := newInstance(t, st, kek, rotatingOptions(clk, ES256))
	first := kidOf(t, a, ES256)
	if kidOf(t, b, ES256) != first || len(listKids(t, st)) != 1 {
		t.Fatalf("instances started with keys %v", listKids(t, st))
	}

	// Not due a second before RotationInterval-PrePublication.
	clk.Advance(rotation - prePub - time.Second)
	mustLoad(t, a, b)
	if n := len(listKids(t, st)); n != 1 {
		t.Fatalf("rotated early: %d keys", n)
	}

	// Due: b, reloading first, creates the successor; a picks it up.
	clk.Advance(time.Second)
	mustLoad(t, b, a)
	kids := listKids(t, st)
	if len(kids) != 2 {
		t.Fatalf("after the due reload: keys %v, want 2", kids)
	}
	second := kids[1]
	for name, m := range map[string]*KeyManager{"a": a, "b": b} {
		if got := jwksKids(t, m); !slices.Equal(got, slices.Sorted(slices.Values(kids))) {
			t.Errorf("%s publishes %v, want both %v", name, got, kids)
		}
		if kidOf(t, m, ES256) != first {
			t.Errorf("%s signs with the successor before its pre-publication ended", name)
		}
	}
	// Reloading again changes nothing: the successor is waiting.
	mustLoad(t, a, b)
	if n := len(listKids(t, st)); n != 2 {
		t.Fatalf("a reload while the successor waits created a key: %d", n)
	}
	oldIssued := clk.Now()
	old := sign(t, a, ES256, TypeAccessToken, claimsAt(oldIssued, time.Hour))

	// The successor signs from its start on, on both, before any reload.
	clk.Advance(prePub - time.Second)
	if kidOf(t, a, ES256) != first {
		t.Fatal("switched a second early")
	}
	clk.Advance(time.Second)
	switchedAt := clk.Now()
	for name, m := range map[string]*KeyManager{"a": a, "b": b} {
		if got := kidOf(t, m, ES256); got != second {
			t.Errorf("%s signs with %s at the successor's start, want %s", name, got, second)
		}
	}
	fresh := sign(t, b, ES256, TypeAccessToken, claimsAt(switchedAt, time.Hour))
	verifyAt := func(m *KeyManager, tok string, at time.Time) error {
		v := &Verifier{Keys: m, Issuer: testIssuer, Type: TypeAccessToken, Now: func() time.Time { return at }}
		return v.Verify(context.Background(), tok, nil)
	}
	if err := verifyAt(a, fresh, switchedAt); err != nil {
		t.Errorf("a token b signed with the successor, on a: %v", err)
	}

	// The old key verifies and is published until the retention ends...
	clk.Advance(retention - time.Second)
	mustLoad(t, a, b)
	if got := jwksKids(t, a); len(got) != 2 {
		t.Errorf("JWKS just before the old key retires: %v", got)
	}
	// (The verifier's clock is the token's; the key's retirement follows
	// the KeyManager's.)
	if err := verifyAt(b, old, oldIssued.Add(time.Minute)); err != nil {
		t.Errorf("a token of the old key before it retires: %v", err)
	}
	// ...and then neither, even before a reload.
	clk.Advance(time.Second)
	if keys, _ := a.VerificationKeys(t.Context(), first); len(keys) != 0 {
		t.Error("the retired key still verifies")
	}
	mustLoad(t, a, b)
	for name, m := range map[string]*KeyManager{"a": a, "b": b} {
		if got := jwksKids(t, m); !slices.Equal(got, []string{second}) {
			t.Errorf("%s publishes %v after the old key retired, want [%s]", name, got, second)
		}
	}
	if string(a.JWKS()) != string(b.JWKS()) {
		t.Error("the instances publish different JWKS")
	}

	// The schedule repeats from the successor's start.
	clk.Advance(rotation - prePub - retention - time.Second)
	mustLoad(t, a)
	if n := len(listKids(t, st)); n != 2 {
		t.Fatalf("second rotation early: %d keys", n)
	}
	clk.Advance(time.Second)
	mustLoad(t, a)
	if n := len(listKids(t, st)); n != 3 {
		t.Fatalf("second rotation not started: %d keys", n)
	}
}

// Instances that all find a rotation due at once create one successor per
// algorithm between them, and all adopt it.
func TestConcurrentRotationConverges(t *testing.T) {
	for _, force := range []bool{false, true} {
		name := map[bool]string{false: "scheduled", true: "Rotate"}[force]
		t.Run(name, func(t *testing.T) {
			st := newTestStore(t)
			kek := seal.GenerateKey()
			clk := newClock(t0)
			const workers = 4
			ms := make([]*KeyManager, workers)
			for i := range ms {
				ms[i] = newInstance(t, st, kek, rotatingOptions(clk, ES256, RS256))
			}
			before := storedKids(t, st)
			if !force {
				clk.Advance(rotation - prePub)
			}
			armBarrier(st, workers) // everyone reads before anyone writes
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for i, m := range ms {
				wg.Go(func() {
					if force {
						errs[i] = m.Rotate(context.Background())
					} else {
						errs[i] = m.Load(context.Background())
					}
				})
			}
			wg.Wait()
			st.beforeList = nil
			for i, err := range errs {
				if err != nil {
					t.Fatalf("instance %d: %v", i, err)
				}
			}
			after := storedKids(t, st)
			if len(after) != len(before)+2 {
				t.Fatalf("stored keys %v -> %v, want one successor per algorithm", before, after)
			}
			for i, m := range ms {
				if got := jwksKids(t, m); !slices.Equal(got, after) {
					t.Errorf("instance %d publishes %v, stored %v", i, got, after)
				}
			}
			// (Forced in the second the first keys were made, the successors
			// are dated a second later so they sort after them.)
			clk.Advance(prePub + time.Second)
			for _, alg := range []string{ES256, RS256} {
				want := kidOf(t, ms[0], alg)
				if slices.Contains(before, want) {
					t.Errorf("%s still signs with an old key after the pre-publication", alg)
				}
				for i, m := range ms[1:] {
					if got := kidOf(t, m, alg); got != want {
						t.Errorf("instance %d signs %s with %s, instance 0 with %s", i+1, alg, got, want)
					}
				}
			}
		})
	}
}

// Rotate is idempotent while a successor waits, and rotates again once it
// signs.
func TestRotateWhileSuccessorWaits(t *testing.T) {
	st := newTestStore(t)
	clk := newClock(t0)
	m := newInstance(t, st, seal.GenerateKey(), KeyOptions{Algorithms: []string{ES256}, Now: clk.Now, PrePublication: time.Hour, Retention: time.Hour})
	first := kidOf(t, m, ES256)
	for range 3 {
		if err := m.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.count(); n != 2 {
		t.Fatalf("three Rotates with a successor waiting stored %d keys, want 2", n)
	}
	if kidOf(t, m, ES256) != first {
		t.Fatal("Rotate switched keys before the pre-publication ended")
	}
	clk.Advance(time.Hour + time.Second) // dated a second after the first key
	if kidOf(t, m, ES256) == first {
		t.Fatal("the successor did not take over")
	}
	if err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := st.count(); n != 3 {
		t.Fatalf("Rotate after the successor took over stored %d keys, want 3", n)
	}
	// Without RotationInterval, Load never rotates on its own.
	clk.Advance(400 * day)
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := st.count(); n != 3 {
		t.Fatalf("Load without a schedule rotated: %d keys", n)
	}
}

// armBarrier makes the next n ListSigningKeys calls wait for each other.
func armBarrier(st *testStore, n int) {
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	st.beforeList = func() {
		mu.Lock()
		arrived++
		switch {
		case arrived == n:
			close(release)
		case arrived > n:
			mu.Unlock()
			return
		}
		mu.Unlock()
		<-release
	}
}

func TestSchedules(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	key := func(id, alg string, created int) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: alg, CreatedAt: at(created)}
	}
	withNotAfter := func(k store.SigningKey, h int) store.SigningKey { k.NotAfter = at(h); return k }
	withRetire := func(k store.SigningKey, h int) store.SigningKey { k.RetireAt = at(h); return k }
	const pre, keep = 10 * time.Hour, 5 * time.Hour
	tests := []struct {
		name string
		recs []store.SigningKey
		want map[string]keySchedule
	}{
		{"first key signs at once and never retires",
			[]store.SigningKey{key("a", ES256, 0)},
			map[string]keySchedule{"a": {start: at(0)}}},
		{"a successor waits, then its predecessor retires after the retention",
			[]store.SigningKey{key("a", ES256, 0), key("b", ES256, 100)},
			map[string]keySchedule{"a": {start: at(0), retire: at(115)}, "b": {start: at(110)}}},
		{"algorithms are independent",
			[]store.SigningKey{key("a", ES256, 0), key("r", RS256, 100)},
			map[string]keySchedule{"a": {start: at(0)}, "r": {start: at(100)}}},
		{"a key created when none could sign signs at once",
			[]store.SigningKey{withNotAfter(key("a", ES256, 0), 50), key("b", ES256, 100)},
			map[string]keySchedule{"a": {start: at(0), retire: at(105)}, "b": {start: at(100)}}},
		{"a key created while another waits also waits",
			[]store.SigningKey{key("a", ES256, 0), key("b", ES256, 100), key("c", ES256, 105)},
			map[string]keySchedule{"a": {start: at(0), retire: at(115)}, "b": {start: at(110), retire: at(120)}, "c": {start: at(115)}}},
		{"a stored RetireAt earlier than the derived one wins",
			[]store.SigningKey{withRetire(key("a", ES256, 0), 112), key("b", ES256, 100)},
			map[string]keySchedule{"a": {start: at(0), retire: at(112)}, "b": {start: at(110)}}},
		{"keys created in one second are ordered by kid",
			[]store.SigningKey{key("y", ES256, 0), key("x", ES256, 0)},
			map[string]keySchedule{"x": {start: at(0), retire: at(15)}, "y": {start: at(10)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schedules(tt.recs, pre, keep)
			for id, w := range tt.want {
				g := got[id]
				if !g.start.Equal(w.start) || !g.retire.Equal(w.retire) {
					t.Errorf("%s: start %s retire %s, want start %s retire %s", id, g.start, g.retire, w.start, w.retire)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d schedules, want %d", len(got), len(tt.want))
			}
		})
	}
	// Without a retention, replaced keys stay.
	if got := schedules([]store.SigningKey{key("a", ES256, 0), key("b", ES256, 1)}, pre, 0)["a"]; !got.retire.IsZero() {
		t.Errorf("retired without a retention: %+v", got)
	}
}

func TestRotationOptionsRejected(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts KeyOptions
		want string
	}{
		{"pre-publication as long as the interval", KeyOptions{RotationInterval: day, PrePublication: day}, "shorter than the rotation interval"},
		{"negative interval", KeyOptions{RotationInterval: -day}, "negative"},
		{"negative retention", KeyOptions{Retention: -time.Hour}, "negative"},
		{"negative reload interval", KeyOptions{ReloadInterval: -time.Minute}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewKeyManager(newTestStore(t), newSealer(t), tt.opts)
			err := m.Load(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tt.want)
			}
			if err := m.Rotate(t.Context()); err == nil {
				t.Fatal("Rotate accepted the options")
			}
			if _, err := m.Sign(ES256, "", accessClaims()); !errors.Is(err, ErrNoSigningKey) {
				t.Fatalf("Sign = %v", err)
			}
		})
	}
}
