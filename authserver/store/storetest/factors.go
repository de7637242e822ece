package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func newFactor(user, id string) store.UserFactor {
	return store.UserFactor{
		ID: id, UserID: user, Kind: store.FactorTOTP, Name: "Authenticator app ✓",
		Secret: []byte{0, 1, 2, 0xfe, 0xff}, CreatedAt: t0,
	}
}

func testFactorRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a, b := newFactor("usr_a", "fac_1"), newFactor("usr_a", "fac_2")
	b.CreatedAt = t0.Add(time.Second)
	other := newFactor("usr_b", "fac_3")
	for _, f := range []store.UserFactor{b, a, other} {
		must(t, "CreateFactor", s.CreateFactor(ctx, f))
	}
	wantErr(t, "CreateFactor with a used id", s.CreateFactor(ctx, a), store.ErrAlreadyExists)
	got, err := s.ListFactors(ctx, "usr_a")
	must(t, "ListFactors", err)
	checkEqual(t, "factors, oldest first", got, []store.UserFactor{a, b})
	if got[0].Confirmed() {
		t.Fatal("a new factor is confirmed")
	}
	none, err := s.ListFactors(ctx, "usr_nobody")
	must(t, "ListFactors of a user without factors", err)
	if len(none) != 0 {
		t.Fatalf("ListFactors of a user without factors = %v", none)
	}

	// Confirming needs the right user and happens once.
	wantErr(t, "ConfirmFactor of another user's factor", s.ConfirmFactor(ctx, "usr_b", a.ID, 100, t0), store.ErrNotFound)
	must(t, "ConfirmFactor", s.ConfirmFactor(ctx, "usr_a", a.ID, 100, t0.Add(time.Minute)))
	wantErr(t, "ConfirmFactor twice", s.ConfirmFactor(ctx, "usr_a", a.ID, 200, t0.Add(time.Minute)), store.ErrNotFound)
	got, err = s.ListFactors(ctx, "usr_a")
	must(t, "ListFactors", err)
	want := a
	want.ConfirmedAt, want.LastUsedAt, want.LastStep = t0.Add(time.Minute), t0.Add(time.Minute), 100
	checkEqual(t, "confirmed factor", got[0], want)
	if !got[0].Confirmed() || got[1].Confirmed() {
		t.Fatal("Confirmed() wrong after ConfirmFactor")
	}
}

func testFactorSteps(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := newFactor("usr_a", "fac_1")
	must(t, "CreateFactor", s.CreateFactor(ctx, f))
	wantErr(t, "UseFactorStep of an unconfirmed factor", s.UseFactorStep(ctx, f.UserID, f.ID, 5, t0), store.ErrNotFound)
	must(t, "ConfirmFactor", s.ConfirmFactor(ctx, f.UserID, f.ID, 10, t0))
	cases := []struct {
		name   string
		user   string
		step   int64
		target error
	}{
		{"the confirming step again", f.UserID, 10, store.ErrStepUsed},
		{"an older step", f.UserID, 9, store.ErrStepUsed},
		{"the next step", f.UserID, 11, nil},
		{"that step replayed", f.UserID, 11, store.ErrStepUsed},
		{"another user's factor", "usr_b", 12, store.ErrNotFound},
		{"a later step", f.UserID, 13, nil},
		{"the skipped step after a later one", f.UserID, 12, store.ErrStepUsed},
	}
	for _, c := range cases {
		err := s.UseFactorStep(ctx, c.user, f.ID, c.step, t0.Add(time.Minute))
		if c.target == nil {
			must(t, "UseFactorStep "+c.name, err)
		} else {
			wantErr(t, "UseFactorStep "+c.name, err, c.target)
		}
	}
	wantErr(t, "UseFactorStep of an unknown factor", s.UseFactorStep(ctx, f.UserID, "fac_nope", 99, t0), store.ErrNotFound)
	got, err := s.ListFactors(ctx, f.UserID)
	must(t, "ListFactors", err)
	want := f
	want.ConfirmedAt, want.LastUsedAt, want.LastStep = t0, t0.Add(time.Minute), 13
	checkEqual(t, "factor after the steps", got[0], want)
}

func testFactorDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a, b := newFactor("usr_a", "fac_1"), newFactor("usr_a", "fac_2")
	other := newFactor("usr_b", "fac_3")
	for _, f := range []store.UserFactor{a, b, other} {
		must(t, "CreateFactor", s.CreateFactor(ctx, f))
	}
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, "usr_a", []string{hashOf("rc:a")}, t0))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, "usr_b", []string{hashOf("rc:b")}, t0))
	wantErr(t, "DeleteFactor of another user's factor", s.DeleteFactor(ctx, "usr_b", a.ID), store.ErrNotFound)
	must(t, "DeleteFactor", s.DeleteFactor(ctx, "usr_a", a.ID))
	wantErr(t, "DeleteFactor again", s.DeleteFactor(ctx, "usr_a", a.ID), store.ErrNotFound)
	n, err := s.DeleteFactors(ctx, "usr_a")
	must(t, "DeleteFactors", err)
	if n != 1 {
		t.Fatalf("DeleteFactors = %d, want 1", n)
	}
	left, err := s.ListFactors(ctx, "usr_a")
	must(t, "ListFactors", err)
	codes, err := s.CountRecoveryCodes(ctx, "usr_a")
	must(t, "CountRecoveryCodes", err)
	if len(left) != 0 || codes != 0 {
		t.Fatalf("after DeleteFactors: %d factors and %d recovery codes left", len(left), codes)
	}
	// The other user keeps theirs.
	others, err := s.ListFactors(ctx, "usr_b")
	must(t, "ListFactors", err)
	otherCodes, err := s.CountRecoveryCodes(ctx, "usr_b")
	must(t, "CountRecoveryCodes", err)
	if len(others) != 1 || otherCodes != 1 {
		t.Fatalf("another user's factors were touched: %d factors, %d codes", len(others), otherCodes)
	}
}

func testRecoveryCodes(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := []string{hashOf("rc:1"), hashOf("rc:2"), hashOf("rc:3")}
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, "usr_a", first, t0))
	must(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, "usr_a", first[0], t0.Add(time.Minute)))
	wantErr(t, "UseRecoveryCode again", s.UseRecoveryCode(ctx, "usr_a", first[0], t0.Add(time.Minute)), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode by another user", s.UseRecoveryCode(ctx, "usr_b", first[1], t0), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode of an unknown code", s.UseRecoveryCode(ctx, "usr_a", hashOf("rc:nope"), t0), store.ErrNotFound)
	n, err := s.CountRecoveryCodes(ctx, "usr_a")
	must(t, "CountRecoveryCodes", err)
	if n != 2 {
		t.Fatalf("CountRecoveryCodes = %d, want 2", n)
	}
	// Regenerating replaces every code, used or not.
	second := []string{hashOf("rc:4"), hashOf("rc:5")}
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, "usr_a", second, t0.Add(time.Hour)))
	wantErr(t, "UseRecoveryCode of a replaced code", s.UseRecoveryCode(ctx, "usr_a", first[1], t0), store.ErrNotFound)
	must(t, "UseRecoveryCode of a new code", s.UseRecoveryCode(ctx, "usr_a", second[1], t0))
	if n, err = s.CountRecoveryCodes(ctx, "usr_a"); err != nil || n != 1 {
		t.Fatalf("CountRecoveryCodes after regenerating = %d, %v; want 1", n, err)
	}
	// A duplicate hash fails the whole replacement and keeps the old codes.
	err = s.ReplaceRecoveryCodes(ctx, "usr_a", []string{hashOf("rc:6"), hashOf("rc:6")}, t0)
	wantErr(t, "ReplaceRecoveryCodes with a duplicate", err, store.ErrAlreadyExists)
	if n, err = s.CountRecoveryCodes(ctx, "usr_a"); err != nil || n != 1 {
		t.Fatalf("CountRecoveryCodes after a failed replacement = %d, %v; want 1", n, err)
	}
}

func testDeleteUserDropsFactors(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	u := newUser("factors")
	must(t, "CreateUser", s.CreateUser(ctx, u))
	must(t, "CreateFactor", s.CreateFactor(ctx, newFactor(u.ID, "fac_u")))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, []string{hashOf("rc:u")}, t0))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID, t0))
	left, err := s.ListFactors(ctx, u.ID)
	must(t, "ListFactors", err)
	codes, err := s.CountRecoveryCodes(ctx, u.ID)
	must(t, "CountRecoveryCodes", err)
	if len(left) != 0 || codes != 0 {
		t.Fatalf("after DeleteUser: %d factors and %d recovery codes left", len(left), codes)
	}
}

func testConcurrentUseFactorStep(t *testing.T, stores []store.Store) {
	f := newFactor("usr_race", "fac_race")
	must(t, "CreateFactor", stores[0].CreateFactor(t.Context(), f))
	must(t, "ConfirmFactor", stores[0].ConfirmFactor(t.Context(), f.UserID, f.ID, 1, t0))
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return s.UseFactorStep(ctx, f.UserID, f.ID, 2, t0.Add(time.Minute))
	})
	tally(t, "UseFactorStep", errs, store.ErrStepUsed)
}

func testConcurrentUseRecoveryCode(t *testing.T, stores []store.Store) {
	hashes := make([]string, 3)
	for i := range hashes {
		hashes[i] = hashOf(fmt.Sprint("rc:race:", i))
	}
	must(t, "ReplaceRecoveryCodes", stores[0].ReplaceRecoveryCodes(t.Context(), "usr_race", hashes, t0))
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return s.UseRecoveryCode(ctx, "usr_race", hashes[1], t0.Add(time.Minute))
	})
	tally(t, "UseRecoveryCode", errs, store.ErrNotFound)
}
