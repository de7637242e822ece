package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Races that several server instances sharing one database run into, beyond
// the single-record races of concurrency.go.

// testConcurrentRevokeSessionDuringReads revokes a session while racers
// read it through every store: a read that starts after RevokeSession
// returned sees the revocation, on every store and in the revocation feed;
// a read before sees the session live or revoked, never anything else.
func testConcurrentRevokeSessionDuringReads(t *testing.T, stores []store.Store) {
	sess := newSession("read-revoke")
	must(t, "CreateSession", stores[0].CreateSession(t.Context(), sess))
	revokedAt := t0.Add(time.Minute)
	var revoked atomic.Bool
	type seen struct {
		afterRevoke bool
		got         store.Session
	}
	views := make([]seen, racers)
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		if i == 0 {
			err := s.RevokeSession(ctx, sess.IDHash, revokedAt)
			revoked.Store(err == nil)
			return err
		}
		after := revoked.Load()
		got, err := s.GetSession(ctx, sess.IDHash)
		views[i] = seen{after, got}
		return err
	})
	for i, err := range errs {
		must(t, fmt.Sprint("caller ", i), err)
	}
	live, dead := sess, sess
	dead.RevokedAt = revokedAt
	for i, v := range views[1:] {
		switch {
		case v.afterRevoke:
			checkEqual(t, fmt.Sprint("session read after the revocation by caller ", i+1), v.got, dead)
		case !v.got.RevokedAt.IsZero():
			checkEqual(t, fmt.Sprint("session read during the revocation by caller ", i+1), v.got, dead)
		default:
			checkEqual(t, fmt.Sprint("session read before the revocation by caller ", i+1), v.got, live)
		}
	}
	for i, s := range stores {
		got, err := s.GetSession(t.Context(), sess.IDHash)
		must(t, "GetSession", err)
		checkEqual(t, fmt.Sprint("session on store ", i, " after the race"), got, dead)
		feed, err := s.RevokedSince(t.Context(), revokedAt, revokedAt, 10)
		must(t, "RevokedSince", err)
		want := []store.Revocation{{Kind: store.RevokedSession, ID: sess.IDHash, RevokedAt: revokedAt, ExpiresAt: sess.ExpiresAt}}
		checkEqual(t, fmt.Sprint("revocation feed on store ", i), feed, want)
	}
}

// testConcurrentRevokeGrantDuringRotation revokes a grant while racers
// rotate its refresh token: at most one rotation wins, the others see reuse
// or the revocation, and afterwards the grant is revoked and no token of its
// family is usable on any store, whichever came first.
func testConcurrentRevokeGrantDuringRotation(t *testing.T, stores []store.Store) {
	f := issue(t, stores[0], "revoke-rotate", nil)
	at := redeemAt.Add(time.Hour)
	next := make([]store.RefreshToken, racers)
	for i := range next {
		next[i] = newToken(f.grant, fmt.Sprint("revoke-rotate/next/", i), at)
	}
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		if i == 0 {
			return s.RevokeGrant(ctx, f.grant.ID, at)
		}
		_, err := s.RotateRefreshToken(ctx, f.token.Hash, at, next[i])
		return err
	})
	must(t, "RevokeGrant", errs[0])
	winners := 0
	for i, err := range errs[1:] {
		switch {
		case err == nil:
			winners++
		case errors.Is(err, store.ErrRefreshTokenReused), errors.Is(err, store.ErrRevoked):
		default:
			t.Errorf("RotateRefreshToken, caller %d: unexpected error %v", i+1, err)
		}
	}
	if winners > 1 {
		t.Fatalf("%d rotations of one token succeeded", winners)
	}
	later := at.Add(time.Minute)
	for i, s := range stores {
		g, err := s.GetGrant(t.Context(), f.grant.ID)
		must(t, "GetGrant", err)
		if !g.RevokedAt.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("store %d: grant revoked at %s, want %s", i, formatTime(g.RevokedAt), formatTime(at))
		}
		for j, tok := range append([]store.RefreshToken{f.token}, next[1:]...) {
			_, err := s.RotateRefreshToken(t.Context(), tok.Hash, later, newToken(f.grant, fmt.Sprint("revoke-rotate/after/", i, "/", j), later))
			if err == nil {
				t.Fatalf("store %d: a token of the revoked family was rotated", i)
			}
		}
	}
}

// testConcurrentGarbageCollect runs many collections at once through every
// store (as when the leader lock is lost mid-pass): none fails, and every
// expired record is deleted, and counted, exactly once.
func testConcurrentGarbageCollect(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const expired, live = 60, 5
	for i := range expired + live {
		exp := t0.Add(time.Duration(i) * time.Second)
		if i >= expired {
			exp = gcAt.Add(time.Hour)
		}
		sess := newSession(fmt.Sprint("gc-race-", i))
		sess.ExpiresAt = exp
		must(t, "CreateSession", stores[0].CreateSession(ctx, sess))
		code := newCode(fmt.Sprint("gc-race-", i))
		code.ExpiresAt = exp
		must(t, "CreateAuthCode", stores[0].CreateAuthCode(ctx, code))
	}
	var total atomic.Int64
	errs := race(t, stores, func(ctx context.Context, s store.Store, _ int) error {
		// Small batches, repeated until dry, make passes overlap.
		for range 2 * expired {
			n, err := s.GarbageCollect(ctx, gcAt, 4)
			if err != nil || n == 0 {
				return err
			}
			total.Add(int64(n))
		}
		return errors.New("garbage collection never ran dry")
	})
	for i, err := range errs {
		must(t, fmt.Sprint("GarbageCollect, caller ", i), err)
	}
	if got := total.Load(); got != 2*expired {
		t.Errorf("racing collections deleted %d records in all, want %d", got, 2*expired)
	}
	for i := range expired + live {
		_, err := stores[len(stores)-1].GetSession(ctx, newSession(fmt.Sprint("gc-race-", i)).IDHash)
		if i < expired {
			wantErr(t, fmt.Sprint("expired session ", i), err, store.ErrNotFound)
		} else {
			must(t, fmt.Sprint("live session ", i), err)
		}
	}
}
