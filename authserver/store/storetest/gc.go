package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// gcAt is when the garbage collection tests collect.
var gcAt = t0.Add(48 * time.Hour)

func testGCExpiredOnly(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	var gone, kept probe

	// Sessions: one expired; one live; one revoked but not expired, which
	// stays until it expires.
	expiredSession := newSession("expired")
	liveSession := newSession("live")
	liveSession.ExpiresAt = t0.Add(72 * time.Hour)
	revokedSession := newSession("revoked")
	revokedSession.ExpiresAt = t0.Add(72 * time.Hour)
	revokedSession.RevokedAt = t0.Add(2 * time.Hour)
	for _, sess := range []store.Session{expiredSession, liveSession, revokedSession} {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	gone.sessions = append(gone.sessions, expiredSession.IDHash)
	kept.sessions = append(kept.sessions, liveSession.IDHash, revokedSession.IDHash)

	// Codes: one expired without being redeemed, one still valid.
	staleCode, freshCode := newCode("stale"), newCode("fresh")
	freshCode.ExpiresAt = gcAt.Add(time.Hour)
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, staleCode))
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, freshCode))
	gone.codes = append(gone.codes, staleCode.Hash)
	kept.codes = append(kept.codes, freshCode.Hash)

	rotateAt := t0.Add(time.Hour)
	// An expired grant goes with all its refresh tokens, rotated or not.
	expired := issue(t, s, "expired", func(f *family) { f.grant.ExpiresAt = t0.Add(36 * time.Hour) })
	expiredNext := newToken(expired.grant, "expired/2", rotateAt)
	_, err := s.RotateRefreshToken(ctx, expired.token.Hash, rotateAt, expiredNext)
	must(t, "RotateRefreshToken", err)
	gone.grants = append(gone.grants, expired.grant.ID)
	gone.tokens = append(gone.tokens, expired.token.Hash, expiredNext.Hash)

	// A live grant keeps its current token; its rotated token has expired
	// and goes.
	live := issue(t, s, "live", nil)
	liveNext := newToken(live.grant, "live/2", rotateAt)
	liveNext.ExpiresAt = t0.Add(72 * time.Hour)
	_, err = s.RotateRefreshToken(ctx, live.token.Hash, rotateAt, liveNext)
	must(t, "RotateRefreshToken", err)
	kept.grants = append(kept.grants, live.grant.ID)
	kept.tokens = append(kept.tokens, liveNext.Hash)
	gone.tokens = append(gone.tokens, live.token.Hash)

	// A revoked grant stays until it expires, with its unexpired token.
	revoked := issue(t, s, "revoked", func(f *family) { f.token.ExpiresAt = t0.Add(72 * time.Hour) })
	must(t, "RevokeGrant", s.RevokeGrant(ctx, revoked.grant.ID, t0.Add(2*time.Hour)))
	kept.grants = append(kept.grants, revoked.grant.ID)
	kept.tokens = append(kept.tokens, revoked.token.Hash)

	// The codes behind the three grants expired a minute after t0.
	gone.codes = append(gone.codes, expired.code.Hash, live.code.Hash, revoked.code.Hash)

	wantDeleted := len(gone.sessions) + len(gone.codes) + len(gone.grants) + len(gone.tokens)
	before := observe(t, s, kept)
	n, err := s.GarbageCollect(ctx, gcAt, 100)
	must(t, "GarbageCollect", err)
	if n != wantDeleted {
		t.Errorf("GarbageCollect deleted %d records, want %d", n, wantDeleted)
	}
	checkMissing(t, s, gone)
	checkUnchanged(t, s, kept, before)

	n, err = s.GarbageCollect(ctx, gcAt, 100)
	must(t, "GarbageCollect again", err)
	if n != 0 {
		t.Errorf("GarbageCollect with nothing left to collect deleted %d records", n)
	}
	checkUnchanged(t, s, kept, before)
}

func testGCLimit(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	const perKind = 5
	var all probe
	for i := range perKind {
		sess := newSession(fmt.Sprint("s", i))
		must(t, "CreateSession", s.CreateSession(ctx, sess))
		all.sessions = append(all.sessions, sess.IDHash)

		// A grant without refresh tokens, so each kind counts alone.
		c := newCode(fmt.Sprint("g", i))
		g := grantFor(c)
		g.ExpiresAt = t0.Add(2 * time.Hour)
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
		must(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, c.Hash, redeemAt, g, nil))
		all.codes = append(all.codes, c.Hash)
		all.grants = append(all.grants, g.ID)
	}
	live := newSession("live")
	live.ExpiresAt = t0.Add(72 * time.Hour)
	must(t, "CreateSession", s.CreateSession(ctx, live))
	kept := probe{sessions: []string{live.IDHash}}
	before := observe(t, s, kept)

	// With a limit of 2 per kind, three kinds of 5 take 2+2+2, 2+2+2, 1+1+1.
	const limit = 2
	left := perKind
	for round := 1; left > 0; round++ {
		want := 3 * min(limit, left)
		left -= min(limit, left)
		n, err := s.GarbageCollect(ctx, gcAt, limit)
		must(t, "GarbageCollect", err)
		if n != want {
			t.Fatalf("round %d: GarbageCollect deleted %d records, want %d", round, n, want)
		}
		for kind, present := range countPresent(t, s, all) {
			if present != left {
				t.Fatalf("round %d: %d %s left, want %d", round, present, kind, left)
			}
		}
	}
	n, err := s.GarbageCollect(ctx, gcAt, limit)
	must(t, "GarbageCollect", err)
	if n != 0 {
		t.Errorf("GarbageCollect with nothing left to collect deleted %d records", n)
	}
	checkUnchanged(t, s, kept, before)
}

// countPresent counts, by kind, the records p names that exist.
func countPresent(t *testing.T, s store.Store, p probe) map[string]int {
	t.Helper()
	counts := map[string]int{"sessions": 0, "auth codes": 0, "grants": 0}
	for _, o := range observe(t, s, p) {
		if !o.Missing {
			counts[o.Kind+"s"]++
		}
	}
	return counts
}
