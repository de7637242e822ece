package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Tests of what users' connected apps, token revocation and logout need.

func testConsentList(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	got, err := s.ListConsents(ctx, "user-a")
	must(t, "ListConsents of a user without consents", err)
	if len(got) != 0 {
		t.Fatalf("ListConsents of an empty store = %+v, want none", got)
	}
	// Saved out of order; listed oldest first, ties by client id.
	later := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)}
	tieB := store.Consent{Subject: "user-a", ClientID: "client-c", Scopes: []string{"openid", "email"}, CreatedAt: t0, UpdatedAt: t0}
	tieA := store.Consent{Subject: "user-a", ClientID: "client-b", CreatedAt: t0, UpdatedAt: t0, LastUsedAt: t0.Add(time.Minute)}
	other := store.Consent{Subject: "user-b", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	for _, c := range []store.Consent{later, tieB, other, tieA} {
		must(t, "SaveConsent", s.SaveConsent(ctx, c))
	}
	got, err = s.ListConsents(ctx, "user-a")
	must(t, "ListConsents", err)
	checkEqual(t, "consents of user-a", got, []store.Consent{tieA, tieB, later})
	got, err = s.ListConsents(ctx, "user-b")
	must(t, "ListConsents", err)
	checkEqual(t, "consents of user-b", got, []store.Consent{other})
	// Subjects match exactly, never as a pattern.
	got, err = s.ListConsents(ctx, "user-%")
	must(t, "ListConsents", err)
	if len(got) != 0 {
		t.Fatalf("ListConsents(%q) = %+v, want none", "user-%", got)
	}
}

func testConsentDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	gone := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	sameUser := store.Consent{Subject: "user-a", ClientID: "client-b", Scopes: []string{"email"}, CreatedAt: t0, UpdatedAt: t0}
	sameClient := store.Consent{Subject: "user-b", ClientID: "client-a", Scopes: []string{"profile"}, CreatedAt: t0, UpdatedAt: t0}
	for _, c := range []store.Consent{gone, sameUser, sameClient} {
		must(t, "SaveConsent", s.SaveConsent(ctx, c))
	}
	must(t, "DeleteConsent", s.DeleteConsent(ctx, "user-a", "client-a"))
	_, err := s.GetConsent(ctx, "user-a", "client-a")
	wantErr(t, "GetConsent after DeleteConsent", err, store.ErrNotFound)
	wantErr(t, "DeleteConsent again", s.DeleteConsent(ctx, "user-a", "client-a"), store.ErrNotFound)
	wantErr(t, "DeleteConsent of a pair never saved", s.DeleteConsent(ctx, "user-b", "client-b"), store.ErrNotFound)
	for _, want := range []store.Consent{sameUser, sameClient} {
		got, err := s.GetConsent(ctx, want.Subject, want.ClientID)
		must(t, "GetConsent of a consent that was not deleted", err)
		checkEqual(t, "untouched consent", got, want)
	}
	// A consent given again after deletion starts afresh.
	again := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"email"}, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
	must(t, "SaveConsent after DeleteConsent", s.SaveConsent(ctx, again))
	got, err := s.GetConsent(ctx, "user-a", "client-a")
	must(t, "GetConsent", err)
	checkEqual(t, "consent given again", got, again)
}

func testConsentTouch(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	c := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	other := store.Consent{Subject: "user-a", ClientID: "client-b", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, "SaveConsent", s.SaveConsent(ctx, c))
	must(t, "SaveConsent", s.SaveConsent(ctx, other))

	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first use", t0.Add(time.Hour), t0.Add(time.Hour)},
		{"later use", t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{"an older time never moves it back", t0.Add(90 * time.Minute), t0.Add(2 * time.Hour)},
	}
	for _, st := range steps {
		must(t, "TouchConsent ("+st.name+")", s.TouchConsent(ctx, "user-a", "client-a", st.at))
		got, err := s.GetConsent(ctx, "user-a", "client-a")
		must(t, "GetConsent", err)
		want := c
		want.LastUsedAt = st.want
		checkEqual(t, "consent after "+st.name, got, want)
	}
	got, err := s.GetConsent(ctx, "user-a", "client-b")
	must(t, "GetConsent", err)
	checkEqual(t, "the other app's consent", got, other)

	// Saving the consent again (new scopes) keeps the last use.
	wider := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid", "email"}, CreatedAt: t0.Add(3 * time.Hour), UpdatedAt: t0.Add(3 * time.Hour)}
	must(t, "SaveConsent over a used consent", s.SaveConsent(ctx, wider))
	got, err = s.GetConsent(ctx, "user-a", "client-a")
	must(t, "GetConsent", err)
	want := wider
	want.CreatedAt, want.LastUsedAt = t0, t0.Add(2*time.Hour)
	checkEqual(t, "consent saved again", got, want)

	// Without a consent (first-party apps) nothing is created.
	must(t, "TouchConsent without a consent", s.TouchConsent(ctx, "user-b", "client-a", t0))
	_, err = s.GetConsent(ctx, "user-b", "client-a")
	wantErr(t, "GetConsent after touching a missing consent", err, store.ErrNotFound)
	wantErr(t, "TouchConsent with a zero now", s.TouchConsent(ctx, "user-a", "client-a", time.Time{}), nil)
}

func testRevokeGrantsFor(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	as := func(subject, client string) func(*family) {
		return func(f *family) {
			f.code.Subject, f.code.ClientID, f.grant.Subject, f.grant.ClientID = subject, client, subject, client
		}
	}
	one := issue(t, s, "one", as("user-a", "client-a"))
	two := issue(t, s, "two", as("user-a", "client-a"))
	earlier := issue(t, s, "earlier", as("user-a", "client-a"))
	otherClient := issue(t, s, "other-client", as("user-a", "client-b"))
	otherUser := issue(t, s, "other-user", as("user-b", "client-a"))
	firstRevoked := t0.Add(time.Minute)
	must(t, "RevokeGrant", s.RevokeGrant(ctx, earlier.grant.ID, firstRevoked))

	untouched := probe{grants: []string{otherClient.grant.ID, otherUser.grant.ID}, tokens: []string{otherClient.token.Hash, otherUser.token.Hash}}
	before := observe(t, s, untouched)

	now := t0.Add(time.Hour)
	n, err := s.RevokeGrantsFor(ctx, "user-a", "client-a", now)
	must(t, "RevokeGrantsFor", err)
	if n != 2 {
		t.Errorf("RevokeGrantsFor revoked %d grants, want 2 (the third was already revoked)", n)
	}
	for _, f := range []family{one, two, earlier} {
		g, err := s.GetGrant(ctx, f.grant.ID)
		must(t, "GetGrant", err)
		want := now
		if f.grant.ID == earlier.grant.ID {
			want = firstRevoked
		}
		if !g.RevokedAt.Truncate(time.Millisecond).Equal(want.Truncate(time.Millisecond)) {
			t.Errorf("grant %s revoked at %s, want %s", g.ID, formatTime(g.RevokedAt), formatTime(want))
		}
		// The family's refresh tokens are dead with it.
		_, err = s.RotateRefreshToken(ctx, f.token.Hash, now, newToken(f.grant, f.grant.ID+"/next", now))
		wantErr(t, "RotateRefreshToken of a revoked family", err, store.ErrRevoked)
	}
	checkUnchanged(t, s, untouched, before)

	n, err = s.RevokeGrantsFor(ctx, "user-a", "client-a", now.Add(time.Hour))
	must(t, "RevokeGrantsFor again", err)
	if n != 0 {
		t.Errorf("RevokeGrantsFor again revoked %d grants, want 0", n)
	}
	n, err = s.RevokeGrantsFor(ctx, "user-c", "client-a", now)
	must(t, "RevokeGrantsFor of a user without grants", err)
	if n != 0 {
		t.Errorf("RevokeGrantsFor of a user without grants revoked %d", n)
	}
	_, err = s.RevokeGrantsFor(ctx, "user-b", "client-a", time.Time{})
	wantErr(t, "RevokeGrantsFor with a zero now", err, nil)
	checkUnchanged(t, s, untouched, before)
}

func testListGrantsBySession(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	inSession := func(session string, created time.Time) func(*family) {
		return func(f *family) {
			f.code.SessionIDHash, f.grant.SessionIDHash = hashOf(session), hashOf(session)
			f.grant.CreatedAt = created
		}
	}
	// Created out of order; listed oldest first whatever their state.
	second := issue(t, s, "second", inSession("session:a", t0.Add(2*time.Minute)))
	first := issue(t, s, "first", inSession("session:a", t0.Add(time.Minute)))
	third := issue(t, s, "third", inSession("session:a", t0.Add(3*time.Minute)))
	elsewhere := issue(t, s, "elsewhere", inSession("session:b", t0))
	must(t, "RevokeGrant", s.RevokeGrant(ctx, third.grant.ID, t0.Add(time.Hour)))
	third.grant.RevokedAt = t0.Add(time.Hour)

	got, err := s.ListGrantsBySession(ctx, hashOf("session:a"), 10)
	must(t, "ListGrantsBySession", err)
	checkEqual(t, "grants of session a", got, []store.Grant{first.grant, second.grant, third.grant})
	got, err = s.ListGrantsBySession(ctx, hashOf("session:a"), 2)
	must(t, "ListGrantsBySession with a limit", err)
	checkEqual(t, "the first two grants of session a", got, []store.Grant{first.grant, second.grant})
	got, err = s.ListGrantsBySession(ctx, hashOf("session:b"), 10)
	must(t, "ListGrantsBySession", err)
	checkEqual(t, "grants of session b", got, []store.Grant{elsewhere.grant})
	got, err = s.ListGrantsBySession(ctx, hashOf("session:none"), 10)
	must(t, "ListGrantsBySession of a session without grants", err)
	if len(got) != 0 {
		t.Errorf("ListGrantsBySession of a session without grants = %+v", got)
	}
	_, err = s.ListGrantsBySession(ctx, hashOf("session:a"), 0)
	wantErr(t, "ListGrantsBySession with a zero limit", err, nil)
}

func testDenylist(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	check := func(jti string, want bool) {
		t.Helper()
		got, err := s.IsTokenDenylisted(ctx, jti)
		must(t, "IsTokenDenylisted", err)
		if got != want {
			t.Errorf("IsTokenDenylisted(%q) = %v, want %v", jti, got, want)
		}
	}
	check("jti-a", false)
	must(t, "DenylistToken", s.DenylistToken(ctx, "jti-a", t0, t0.Add(10*time.Minute)))
	check("jti-a", true)
	check("jti-b", false)
	check("JTI-A", false) // ids are case-sensitive
	// Denylisting again keeps the first record (seen through the feed).
	must(t, "DenylistToken again", s.DenylistToken(ctx, "jti-a", t0.Add(time.Minute), t0.Add(time.Hour)))
	feed, err := s.RevokedSince(ctx, time.Time{}, t0.Add(time.Second), 10)
	must(t, "RevokedSince", err)
	checkEqual(t, "the feed after a repeated denylisting", feed,
		[]store.Revocation{{Kind: store.RevokedToken, ID: "jti-a", RevokedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}})

	wantErr(t, "DenylistToken with a zero now", s.DenylistToken(ctx, "jti-c", time.Time{}, t0), nil)
	wantErr(t, "DenylistToken with an empty jti", s.DenylistToken(ctx, "", t0, t0.Add(time.Minute)), nil)
	check("jti-c", false)
	check("", false)

	// Garbage collection drops entries once the token has expired, not
	// before.
	must(t, "DenylistToken", s.DenylistToken(ctx, "jti-long", t0, t0.Add(48*time.Hour)))
	_, err = s.GarbageCollect(ctx, t0.Add(5*time.Minute), 100)
	must(t, "GarbageCollect", err)
	check("jti-a", true)
	n, err := s.GarbageCollect(ctx, t0.Add(11*time.Minute), 100)
	must(t, "GarbageCollect", err)
	if n != 1 {
		t.Errorf("GarbageCollect deleted %d records, want the one expired denylist entry", n)
	}
	check("jti-a", false)
	check("jti-long", true)
}

// testTokensTouchConsent: redeeming a code, rotating and extending a
// refresh token record the use on the grant's consent in their own
// transaction; a grant without a consent (a first-party app) gets none.
func testTokensTouchConsent(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "touched", func(f *family) {
		c := store.Consent{Subject: f.grant.Subject, ClientID: f.grant.ClientID, Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
		must(t, "SaveConsent", s.SaveConsent(ctx, c))
	})
	lastUse := func() time.Time {
		t.Helper()
		c, err := s.GetConsent(ctx, f.grant.Subject, f.grant.ClientID)
		must(t, "GetConsent", err)
		return c.LastUsedAt
	}
	// The store keeps milliseconds.
	ms := func(at time.Time) time.Time { return at.Truncate(time.Millisecond) }
	if got := lastUse(); !got.Equal(ms(redeemAt)) {
		t.Errorf("after RedeemAuthCode the last use is %v, want %v", got, ms(redeemAt))
	}
	rotated := redeemAt.Add(time.Minute)
	next := newToken(f.grant, "touched/2", rotated)
	if _, err := s.RotateRefreshToken(ctx, f.token.Hash, rotated, next); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if got := lastUse(); !got.Equal(ms(rotated)) {
		t.Errorf("after RotateRefreshToken the last use is %v, want %v", got, ms(rotated))
	}
	extended := rotated.Add(time.Minute)
	if _, err := s.ExtendRefreshToken(ctx, next.Hash, extended, extended.Add(time.Hour)); err != nil {
		t.Fatalf("ExtendRefreshToken: %v", err)
	}
	if got := lastUse(); !got.Equal(ms(extended)) {
		t.Errorf("after ExtendRefreshToken the last use is %v, want %v", got, ms(extended))
	}
	// A failed rotation (the token was already rotated) records nothing.
	if _, err := s.RotateRefreshToken(ctx, f.token.Hash, extended.Add(time.Minute), newToken(f.grant, "touched/3", extended)); err == nil {
		t.Fatal("a rotated token was rotated again")
	}
	if got := lastUse(); !got.Equal(ms(extended)) {
		t.Errorf("a refused rotation moved the last use to %v", got)
	}

	// No consent: the redemption works and creates none.
	plain := issue(t, s, "first-party", func(f *family) { f.grant.Subject, f.code.Subject = "user-fp", "user-fp" })
	_, err := s.GetConsent(ctx, plain.grant.Subject, plain.grant.ClientID)
	wantErr(t, "GetConsent for a grant without consent", err, store.ErrNotFound)
}
