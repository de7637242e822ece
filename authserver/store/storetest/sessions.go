package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func testSessionRoundTrip(t *testing.T, open opener) {
	s := open(t)
	live := newSession("live")
	// Times in another zone must come back as the same instants.
	revoked := newSession("revoked")
	revoked.AuthTime = revoked.AuthTime.In(time.FixedZone("UTC+5:30", 5*3600+1800))
	revoked.RevokedAt = t0.Add(30 * time.Minute)
	federated := newSession("federated")
	federated.IDP, federated.AMR = "corp", []string{"pwd", "mfa"}
	for _, sess := range []store.Session{live, revoked, federated} {
		must(t, "CreateSession", s.CreateSession(t.Context(), sess))
	}
	for _, want := range []store.Session{live, revoked, federated} {
		got, err := s.GetSession(t.Context(), want.IDHash)
		must(t, "GetSession", err)
		checkEqual(t, "session", got, want)
	}
}

func testSessionNotFound(t *testing.T, open opener) {
	s := open(t)
	_, err := s.GetSession(t.Context(), hashOf("session:nobody"))
	wantErr(t, "GetSession of an unknown id", err, store.ErrNotFound)
}

func testSessionDuplicate(t *testing.T, open opener) {
	s := open(t)
	first := newSession("a")
	must(t, "CreateSession", s.CreateSession(t.Context(), first))
	dup := first
	dup.Subject = "someone-else"
	dup.ExpiresAt = dup.ExpiresAt.Add(time.Hour)
	wantErr(t, "CreateSession with a used id", s.CreateSession(t.Context(), dup), store.ErrAlreadyExists)
	got, err := s.GetSession(t.Context(), first.IDHash)
	must(t, "GetSession", err)
	checkEqual(t, "session after a duplicate create", got, first)
}

func testSessionRevoke(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	a, b := newSession("a"), newSession("b")
	must(t, "CreateSession", s.CreateSession(ctx, a))
	must(t, "CreateSession", s.CreateSession(ctx, b))

	revokedAt := t0.Add(5 * time.Minute)
	must(t, "RevokeSession", s.RevokeSession(ctx, a.IDHash, revokedAt))
	got, err := s.GetSession(ctx, a.IDHash)
	must(t, "GetSession", err)
	want := a
	want.RevokedAt = revokedAt
	checkEqual(t, "revoked session", got, want)

	got, err = s.GetSession(ctx, b.IDHash)
	must(t, "GetSession", err)
	checkEqual(t, "the other session", got, b)

	// Revoking again is fine and keeps the first revocation time.
	must(t, "RevokeSession again", s.RevokeSession(ctx, a.IDHash, t0.Add(10*time.Minute)))
	got, err = s.GetSession(ctx, a.IDHash)
	must(t, "GetSession", err)
	checkEqual(t, "session revoked twice", got, want)

	// Revoking an unknown session is fine and creates nothing.
	unknown := hashOf("session:nobody")
	must(t, "RevokeSession of an unknown id", s.RevokeSession(ctx, unknown, revokedAt))
	_, err = s.GetSession(ctx, unknown)
	wantErr(t, "GetSession after revoking an unknown id", err, store.ErrNotFound)
}
