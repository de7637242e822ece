package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

const (
	// racers is how many callers each concurrency test releases at once.
	racers = 100
	// raceTimeout bounds a whole race; a backend that deadlocks fails
	// instead of hanging the test binary.
	raceTimeout = 60 * time.Second
)

// race runs call racers times concurrently, all released together, each on
// one of stores in turn, and returns the errors by caller.
func race(t *testing.T, stores []store.Store, call func(ctx context.Context, s store.Store, i int) error) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = call(ctx, stores[i%len(stores)], i)
		})
	}
	close(start)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the race did not finish within %v", raceTimeout)
	}
	return errs
}

// tally checks that exactly one caller succeeded and every other one got
// loser, and returns the winner's index.
func tally(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner, winners, losers := -1, 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			winners++
		case errors.Is(err, loser):
			losers++
		default:
			t.Errorf("%s, caller %d: unexpected error %v", what, i, err)
		}
	}
	if winners != 1 || losers != len(errs)-1 {
		t.Fatalf("%s: %d succeeded and %d got %v, want 1 and %d", what, winners, losers, loser, len(errs)-1)
	}
	return winner
}

func testConcurrentRedeem(t *testing.T, stores []store.Store) {
	s := stores[0]
	c := newCode("a")
	g := grantFor(c)
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
	tokens := make([]store.RefreshToken, racers)
	for i := range tokens {
		tokens[i] = newToken(g, fmt.Sprint("a/", i), redeemAt)
	}
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return s.RedeemAuthCode(ctx, c.Hash, redeemAt, g, &tokens[i])
	})
	winner := tally(t, "RedeemAuthCode", errs, store.ErrCodeReused)

	// The losers were replays, so the grant is revoked.
	got, err := s.GetGrant(t.Context(), g.ID)
	must(t, "GetGrant", err)
	want := g
	want.RevokedAt = redeemAt
	checkEqual(t, "grant after racing redemptions", got, want)
	for i, tok := range tokens {
		_, _, err := s.GetRefreshToken(t.Context(), tok.Hash)
		if i == winner {
			must(t, "GetRefreshToken of the winner's token", err)
			continue
		}
		wantErr(t, "GetRefreshToken of a loser's token", err, store.ErrNotFound)
	}
	useAt := redeemAt.Add(time.Minute)
	_, err = s.RotateRefreshToken(t.Context(), tokens[winner].Hash, useAt, newToken(g, "a/next", useAt))
	wantErr(t, "RotateRefreshToken of the winner's token", err, store.ErrRevoked)
}

func testConcurrentRotate(t *testing.T, stores []store.Store) {
	s := stores[0]
	f := issue(t, s, "a", nil)
	rotateAt := redeemAt.Add(time.Hour)
	next := make([]store.RefreshToken, racers)
	for i := range next {
		next[i] = newToken(f.grant, fmt.Sprint("a/next/", i), rotateAt)
	}
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		_, err := s.RotateRefreshToken(ctx, f.token.Hash, rotateAt, next[i])
		return err
	})
	winner := tally(t, "RotateRefreshToken", errs, store.ErrRefreshTokenReused)

	got, err := s.GetGrant(t.Context(), f.grant.ID)
	must(t, "GetGrant", err)
	want := f.grant
	want.RevokedAt = rotateAt
	checkEqual(t, "grant after racing rotations", got, want)
	tok, _, err := s.GetRefreshToken(t.Context(), f.token.Hash)
	must(t, "GetRefreshToken", err)
	rotated := f.token
	rotated.RotatedAt = rotateAt
	checkEqual(t, "rotated token", tok, rotated)
	for i, n := range next {
		_, _, err := s.GetRefreshToken(t.Context(), n.Hash)
		if i == winner {
			must(t, "GetRefreshToken of the winner's token", err)
			continue
		}
		wantErr(t, "GetRefreshToken of a loser's token", err, store.ErrNotFound)
	}
	useAt := rotateAt.Add(time.Minute)
	_, err = s.RotateRefreshToken(t.Context(), next[winner].Hash, useAt, newToken(f.grant, "a/after", useAt))
	wantErr(t, "RotateRefreshToken of the winner's token", err, store.ErrRevoked)
}

func testConcurrentSaveConsent(t *testing.T, stores []store.Store) {
	saves := make([]store.Consent, racers)
	for i := range saves {
		at := t0.Add(time.Duration(i) * time.Second)
		saves[i] = store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid", fmt.Sprint("scope-", i)}, CreatedAt: at, UpdatedAt: at}
	}
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return s.SaveConsent(ctx, saves[i])
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("SaveConsent, caller %d: %v", i, err)
		}
	}
	got, err := stores[0].GetConsent(t.Context(), "user-a", "client-a")
	must(t, "GetConsent", err)
	// One record: created by one save, last replaced by one save (whole,
	// never a mix of two).
	sameMilli := func(a, b time.Time) bool { return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond)) }
	created := slices.IndexFunc(saves, func(c store.Consent) bool { return sameMilli(c.CreatedAt, got.CreatedAt) })
	updated := slices.IndexFunc(saves, func(c store.Consent) bool { return sameMilli(c.UpdatedAt, got.UpdatedAt) })
	if created < 0 || updated < 0 {
		t.Fatalf("consent after racing saves has CreatedAt %s and UpdatedAt %s, not from any save",
			formatTime(got.CreatedAt), formatTime(got.UpdatedAt))
	}
	want := saves[updated]
	want.CreatedAt = saves[created].CreatedAt
	checkEqual(t, "consent after racing saves", got, want)
}

// testConcurrentSecret races creators of a secret, over a few names: a
// backend that lets a second creator overwrite the first may only be caught
// when two callers both find the name missing, which a race does not always
// arrange.
func testConcurrentSecret(t *testing.T, stores []store.Store) {
	const names = 10
	for n := range names {
		name := fmt.Sprint("key-", n)
		candidates := make([][]byte, racers)
		for i := range candidates {
			candidates[i] = fmt.Appendf(nil, "sealed-%s-candidate-%03d", name, i)
		}
		values := make([][]byte, racers)
		errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
			v, err := s.GetOrCreateSecret(ctx, name, t0, candidates[i])
			values[i] = v
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("GetOrCreateSecret(%s), caller %d: %v", name, i, err)
			}
		}
		if !slices.ContainsFunc(candidates, func(c []byte) bool { return bytes.Equal(c, values[0]) }) {
			t.Fatalf("GetOrCreateSecret(%s) returned %q, which no caller offered", name, values[0])
		}
		for i, v := range values {
			if !bytes.Equal(v, values[0]) {
				t.Fatalf("GetOrCreateSecret(%s) returned %q to caller %d but %q to caller 0", name, v, i, values[0])
			}
		}
		for _, s := range stores {
			v, err := s.GetOrCreateSecret(t.Context(), name, t0.Add(time.Hour), []byte("late"))
			must(t, "GetOrCreateSecret", err)
			if !bytes.Equal(v, values[0]) {
				t.Fatalf("GetOrCreateSecret(%s) after the race returned %q, want %q", name, v, values[0])
			}
		}
	}
}

func testConcurrentRevokedSession(t *testing.T, stores []store.Store) {
	sess := newSession("a")
	must(t, "CreateSession", stores[0].CreateSession(t.Context(), sess))
	revokedAt := t0.Add(time.Minute)
	// Revoked through the last store, read through all of them.
	must(t, "RevokeSession", stores[len(stores)-1].RevokeSession(t.Context(), sess.IDHash, revokedAt))
	got := make([]store.Session, racers)
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		var err error
		got[i], err = s.GetSession(ctx, sess.IDHash)
		return err
	})
	want := sess
	want.RevokedAt = revokedAt
	for i, err := range errs {
		must(t, fmt.Sprint("GetSession, caller ", i), err)
		checkEqual(t, fmt.Sprint("session seen by caller ", i), got[i], want)
	}
}

// testSharedVisibility checks that what one store writes the other reads at
// once, for every kind of record.
func testSharedVisibility(t *testing.T, stores []store.Store) {
	a, b := stores[0], stores[1]
	ctx := t.Context()

	sess := newSession("a")
	must(t, "CreateSession on a", a.CreateSession(ctx, sess))
	got, err := b.GetSession(ctx, sess.IDHash)
	must(t, "GetSession on b", err)
	checkEqual(t, "session seen by b", got, sess)
	wantErr(t, "CreateSession of the same id on b", b.CreateSession(ctx, sess), store.ErrAlreadyExists)

	f := issue(t, a, "a", nil)
	rotateAt := redeemAt.Add(time.Hour)
	next := newToken(f.grant, "a/2", rotateAt)
	_, err = b.RotateRefreshToken(ctx, f.token.Hash, rotateAt, next)
	must(t, "RotateRefreshToken on b of a token issued on a", err)
	_, err = a.RotateRefreshToken(ctx, f.token.Hash, rotateAt.Add(time.Second), newToken(f.grant, "a/3", rotateAt))
	wantErr(t, "RotateRefreshToken on a of the token b rotated", err, store.ErrRefreshTokenReused)
	g, err := b.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant on b", err)
	if g.RevokedAt.IsZero() {
		t.Fatal("b does not see the revocation a made")
	}

	c := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, "SaveConsent on b", b.SaveConsent(ctx, c))
	gotConsent, err := a.GetConsent(ctx, c.Subject, c.ClientID)
	must(t, "GetConsent on a", err)
	checkEqual(t, "consent seen by a", gotConsent, c)

	k := store.SigningKey{ID: "k1", Algorithm: "ES256", Sealed: []byte("sealed"), CreatedAt: t0}
	must(t, "CreateSigningKey on a", a.CreateSigningKey(ctx, k))
	keys, err := b.ListSigningKeys(ctx)
	must(t, "ListSigningKeys on b", err)
	checkEqual(t, "signing keys seen by b", keys, []store.SigningKey{k})

	secret, err := b.GetOrCreateSecret(ctx, "cookie-key", t0, []byte("from-b"))
	must(t, "GetOrCreateSecret on b", err)
	fromA, err := a.GetOrCreateSecret(ctx, "cookie-key", t0, []byte("from-a"))
	must(t, "GetOrCreateSecret on a", err)
	if !bytes.Equal(fromA, secret) {
		t.Fatalf("a got secret %q, b got %q", fromA, secret)
	}

	n, err := a.GarbageCollect(ctx, t0.Add(400*24*time.Hour), 100)
	must(t, "GarbageCollect on a", err)
	if n == 0 {
		t.Fatal("GarbageCollect on a deleted nothing")
	}
	_, err = b.GetSession(ctx, sess.IDHash)
	wantErr(t, "GetSession on b after a collected it", err, store.ErrNotFound)
}
