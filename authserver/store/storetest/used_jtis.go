package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// testUseOnce: an identifier is accepted once until it expires, then
// again; ids are exact; bad arguments are refused without recording;
// garbage collection drops expired ids only.
func testUseOnce(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	exp := t0.Add(5 * time.Minute)
	must(t, "UseOnce first", s.UseOnce(ctx, "ca:app:jti-1", t0, exp))
	wantErr(t, "UseOnce replayed", s.UseOnce(ctx, "ca:app:jti-1", t0.Add(time.Minute), exp), store.ErrReplay)
	wantErr(t, "UseOnce replayed just before expiry", s.UseOnce(ctx, "ca:app:jti-1", exp.Add(-time.Millisecond), exp), store.ErrReplay)
	must(t, "UseOnce of another id", s.UseOnce(ctx, "ca:app:jti-2", t0, exp))
	must(t, "UseOnce differing only in case", s.UseOnce(ctx, "CA:APP:JTI-1", t0, exp))
	// Once expired the id may be taken again, and is then live again.
	later := exp.Add(10 * time.Minute)
	must(t, "UseOnce after expiry", s.UseOnce(ctx, "ca:app:jti-1", exp, later))
	wantErr(t, "UseOnce replayed after renewal", s.UseOnce(ctx, "ca:app:jti-1", exp.Add(time.Second), later), store.ErrReplay)

	wantErr(t, "UseOnce with a zero now", s.UseOnce(ctx, "ca:zero", time.Time{}, exp), nil)
	wantErr(t, "UseOnce with an empty id", s.UseOnce(ctx, "", t0, exp), nil)
	wantErr(t, "UseOnce with an oversized id", s.UseOnce(ctx, strings.Repeat("x", 513), t0, exp), nil)
	must(t, "UseOnce after a refused zero now", s.UseOnce(ctx, "ca:zero", t0, exp))

	must(t, "UseOnce long-lived", s.UseOnce(ctx, "dpop:long", t0, t0.Add(48*time.Hour)))
	n, err := s.GarbageCollect(ctx, exp.Add(time.Minute), 100)
	must(t, "GarbageCollect", err)
	// jti-2, the case variant and ca:zero expired at exp; jti-1 was renewed.
	if n != 3 {
		t.Errorf("GarbageCollect deleted %d records, want the 3 expired ids", n)
	}
	wantErr(t, "UseOnce of a renewed id after GC", s.UseOnce(ctx, "ca:app:jti-1", exp.Add(time.Minute), later), store.ErrReplay)
	wantErr(t, "UseOnce of a long-lived id after GC", s.UseOnce(ctx, "dpop:long", exp.Add(time.Minute), later), store.ErrReplay)
	must(t, "UseOnce of a collected id", s.UseOnce(ctx, "ca:app:jti-2", exp.Add(time.Minute), later))
}

// testUseOnceConcurrent: of many simultaneous uses of one id exactly one
// succeeds, the others see ErrReplay.
func testUseOnceConcurrent(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.UseOnce(ctx, "dpop:race", t0, t0.Add(time.Minute)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrReplay):
			t.Fatalf("UseOnce: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent UseOnce calls succeeded, want exactly 1", ok, n)
	}
}
