package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// testRevokedSince: the feed lists revoked, unexpired grants, sessions and
// denylisted access tokens from a point in time on, in revocation order,
// bounded by limit.
func testRevokedSince(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	live := newSession("live")
	gone := newSession("gone")
	old := newSession("old")
	for _, sess := range []store.Session{live, gone, old} {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	fam := issue(t, s, "feed", nil)
	expired := issue(t, s, "expired", func(f *family) { f.grant.ExpiresAt = t0.Add(time.Minute) })

	must(t, "RevokeSession", s.RevokeSession(ctx, old.IDHash, t0.Add(1*time.Second)))
	must(t, "RevokeSession", s.RevokeSession(ctx, gone.IDHash, t0.Add(10*time.Second)))
	must(t, "RevokeGrant", s.RevokeGrant(ctx, fam.grant.ID, t0.Add(20*time.Second)))
	must(t, "RevokeGrant", s.RevokeGrant(ctx, expired.grant.ID, t0.Add(30*time.Second)))
	must(t, "DenylistToken", s.DenylistToken(ctx, "jti-live", t0.Add(15*time.Second), t0.Add(10*time.Minute)))
	must(t, "DenylistToken", s.DenylistToken(ctx, "jti-expired", t0.Add(25*time.Second), t0.Add(2*time.Minute)))

	now := t0.Add(5 * time.Minute) // the "expired" grant has ended by now
	got, err := s.RevokedSince(ctx, t0.Add(5*time.Second), now, 100)
	must(t, "RevokedSince", err)
	want := []store.Revocation{
		{Kind: store.RevokedSession, ID: gone.IDHash, RevokedAt: t0.Add(10 * time.Second), ExpiresAt: gone.ExpiresAt},
		{Kind: store.RevokedToken, ID: "jti-live", RevokedAt: t0.Add(15 * time.Second), ExpiresAt: t0.Add(10 * time.Minute)},
		{Kind: store.RevokedGrant, ID: fam.grant.ID, RevokedAt: t0.Add(20 * time.Second), ExpiresAt: fam.grant.ExpiresAt},
	}
	checkEqual(t, "revocations", got, want)

	got, err = s.RevokedSince(ctx, time.Time{}, now, 1)
	must(t, "RevokedSince with a limit", err)
	if len(got) != 1 || got[0].ID != old.IDHash {
		t.Fatalf("RevokedSince(zero, limit 1) = %+v, want only the first revocation", got)
	}
	got, err = s.RevokedSince(ctx, t0.Add(time.Hour), now, 100)
	must(t, "RevokedSince after the last one", err)
	if len(got) != 0 {
		t.Fatalf("RevokedSince after every revocation = %+v, want none", got)
	}
	_, err = s.RevokedSince(ctx, t0, time.Time{}, 10)
	if err == nil {
		t.Fatal("RevokedSince accepted a zero now")
	}
	if _, err := s.GetSession(ctx, live.IDHash); err != nil {
		t.Fatal(err)
	}
}
