package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func testGrantNotFound(t *testing.T, open opener) {
	s := open(t)
	_, err := s.GetGrant(t.Context(), "grant-nothing")
	wantErr(t, "GetGrant of an unknown id", err, store.ErrNotFound)
}

func testGrantRevoke(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)
	other := issue(t, s, "b", nil)

	revokeAt := redeemAt.Add(time.Hour)
	must(t, "RevokeGrant", s.RevokeGrant(ctx, f.grant.ID, revokeAt))
	revoked := f.grant
	revoked.RevokedAt = revokeAt
	g, err := s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "revoked grant", g, revoked)

	// Its refresh tokens are still there to look at, but dead.
	tok, tg, err := s.GetRefreshToken(ctx, f.token.Hash)
	must(t, "GetRefreshToken", err)
	checkEqual(t, "refresh token of a revoked grant", tok, f.token)
	checkEqual(t, "refresh token's grant", tg, revoked)
	p := probe{grants: []string{f.grant.ID}, tokens: []string{f.token.Hash, hashOf("refresh:a/2")}}
	before := observe(t, s, p)
	useAt := revokeAt.Add(time.Minute)
	_, err = s.RotateRefreshToken(ctx, f.token.Hash, useAt, newToken(f.grant, "a/2", useAt))
	wantErr(t, "RotateRefreshToken of a revoked grant's token", err, store.ErrRevoked)
	_, err = s.ExtendRefreshToken(ctx, f.token.Hash, useAt, useAt.Add(time.Hour))
	wantErr(t, "ExtendRefreshToken of a revoked grant's token", err, store.ErrRevoked)
	checkUnchanged(t, s, p, before)

	// Other grants are untouched.
	g, err = s.GetGrant(ctx, other.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "another grant", g, other.grant)

	// Revoking again is fine and keeps the first revocation time.
	must(t, "RevokeGrant again", s.RevokeGrant(ctx, f.grant.ID, revokeAt.Add(time.Hour)))
	g, err = s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant revoked twice", g, revoked)

	must(t, "RevokeGrant of an unknown id", s.RevokeGrant(ctx, "grant-nothing", revokeAt))
	_, err = s.GetGrant(ctx, "grant-nothing")
	wantErr(t, "GetGrant after revoking an unknown id", err, store.ErrNotFound)
}

func testRefreshTokenNotFound(t *testing.T, open opener) {
	s := open(t)
	_, _, err := s.GetRefreshToken(t.Context(), hashOf("refresh:nothing"))
	wantErr(t, "GetRefreshToken of an unknown hash", err, store.ErrNotFound)
}

func testRotate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)

	// Rotate twice down the chain: each new token is current, each old one
	// is marked rotated when it was.
	old := f.token
	for i, at := range []time.Time{redeemAt.Add(time.Hour), redeemAt.Add(2 * time.Hour)} {
		next := newToken(f.grant, fmt.Sprintf("a/%d", i+2), at)
		g, err := s.RotateRefreshToken(ctx, old.Hash, at, next)
		must(t, "RotateRefreshToken", err)
		checkEqual(t, "grant returned by RotateRefreshToken", g, f.grant)

		tok, tg, err := s.GetRefreshToken(ctx, old.Hash)
		must(t, "GetRefreshToken of the old token", err)
		rotated := old
		rotated.RotatedAt = at
		checkEqual(t, "old token", tok, rotated)
		checkEqual(t, "old token's grant", tg, f.grant)

		tok, tg, err = s.GetRefreshToken(ctx, next.Hash)
		must(t, "GetRefreshToken of the new token", err)
		checkEqual(t, "new token", tok, next)
		checkEqual(t, "new token's grant", tg, f.grant)
		old = next
	}
}

func testRotateReused(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)
	rotateAt := redeemAt.Add(time.Hour)
	current := newToken(f.grant, "a/2", rotateAt)
	_, err := s.RotateRefreshToken(ctx, f.token.Hash, rotateAt, current)
	must(t, "RotateRefreshToken", err)

	// The rotated token comes back: someone kept a copy.
	replayAt := rotateAt.Add(time.Hour)
	stolen := newToken(f.grant, "a/stolen", replayAt)
	_, err = s.RotateRefreshToken(ctx, f.token.Hash, replayAt, stolen)
	wantErr(t, "RotateRefreshToken of a rotated token", err, store.ErrRefreshTokenReused)

	revoked := f.grant
	revoked.RevokedAt = replayAt
	g, err := s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after refresh token reuse", g, revoked)
	_, _, err = s.GetRefreshToken(ctx, stolen.Hash)
	wantErr(t, "GetRefreshToken of the replay's token", err, store.ErrNotFound)

	// The family is dead: the current token no longer works either.
	useAt := replayAt.Add(time.Minute)
	_, err = s.RotateRefreshToken(ctx, current.Hash, useAt, newToken(f.grant, "a/3", useAt))
	wantErr(t, "RotateRefreshToken of the current token", err, store.ErrRevoked)
	_, err = s.ExtendRefreshToken(ctx, current.Hash, useAt, useAt.Add(time.Hour))
	wantErr(t, "ExtendRefreshToken of the current token", err, store.ErrRevoked)
	tok, _, err := s.GetRefreshToken(ctx, current.Hash)
	must(t, "GetRefreshToken of the current token", err)
	checkEqual(t, "current token", tok, current)

	// Presenting the rotated token again is still reuse, and the first
	// revocation time stays.
	_, err = s.RotateRefreshToken(ctx, f.token.Hash, useAt, newToken(f.grant, "a/4", useAt))
	wantErr(t, "RotateRefreshToken of a rotated token, again", err, store.ErrRefreshTokenReused)
	g, err = s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after a second reuse", g, revoked)
}

// unusableCase is a refresh token that neither RotateRefreshToken nor
// ExtendRefreshToken may accept, and the error they must give.
type unusableCase struct {
	name string
	// prepare issues a family and returns the hash to present and when.
	prepare func(t *testing.T, s store.Store) (f family, hash string, now time.Time)
	want    error
}

var unusableCases = []unusableCase{
	{"UnknownToken", func(t *testing.T, s store.Store) (family, string, time.Time) {
		f := issue(t, s, "a", nil)
		return f, hashOf("refresh:unknown"), redeemAt.Add(time.Hour)
	}, store.ErrNotFound},
	{"ExpiredAtExpiry", func(t *testing.T, s store.Store) (family, string, time.Time) {
		f := issue(t, s, "a", nil)
		return f, f.token.Hash, f.token.ExpiresAt
	}, store.ErrNotFound},
	{"ExpiredLongAgo", func(t *testing.T, s store.Store) (family, string, time.Time) {
		f := issue(t, s, "a", nil)
		return f, f.token.Hash, f.token.ExpiresAt.Add(7 * 24 * time.Hour)
	}, store.ErrNotFound},
	{"GrantRevoked", func(t *testing.T, s store.Store) (family, string, time.Time) {
		f := issue(t, s, "a", nil)
		must(t, "RevokeGrant", s.RevokeGrant(t.Context(), f.grant.ID, redeemAt.Add(time.Minute)))
		return f, f.token.Hash, redeemAt.Add(time.Hour)
	}, store.ErrRevoked},
	{"GrantExpired", func(t *testing.T, s store.Store) (family, string, time.Time) {
		// A token stored past its grant's end (the caller broke the
		// invariant) still dies with the grant.
		f := issue(t, s, "a", func(f *family) {
			f.grant.ExpiresAt = redeemAt.Add(time.Hour)
			f.token.ExpiresAt = redeemAt.Add(2 * time.Hour)
		})
		return f, f.token.Hash, redeemAt.Add(90 * time.Minute)
	}, store.ErrRevoked},
}

func testRotateUnusable(t *testing.T, open opener) {
	for _, tc := range unusableCases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			f, hash, now := tc.prepare(t, s)
			next := newToken(f.grant, "a/next", now)
			p := probe{grants: []string{f.grant.ID}, tokens: []string{f.token.Hash, next.Hash}}
			before := observe(t, s, p)
			_, err := s.RotateRefreshToken(t.Context(), hash, now, next)
			wantErr(t, "RotateRefreshToken", err, tc.want)
			checkUnchanged(t, s, p, before)
		})
	}
}

func testExtendUnusable(t *testing.T, open opener) {
	for _, tc := range unusableCases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			f, hash, now := tc.prepare(t, s)
			p := probe{grants: []string{f.grant.ID}, tokens: []string{f.token.Hash}}
			before := observe(t, s, p)
			_, err := s.ExtendRefreshToken(t.Context(), hash, now, now.Add(time.Hour))
			wantErr(t, "ExtendRefreshToken", err, tc.want)
			checkUnchanged(t, s, p, before)
		})
	}
}

// A rotation whose next token is unacceptable changes nothing: the old
// token stays current.
func testRotateBadNext(t *testing.T, open opener) {
	cases := []struct {
		name string
		next func(t *testing.T, s store.Store, f family) store.RefreshToken
		want error // nil: any error
	}{
		{"OtherGrant", func(t *testing.T, s store.Store, f family) store.RefreshToken {
			other := issue(t, s, "b", nil)
			return newToken(other.grant, "b/2", redeemAt.Add(time.Hour))
		}, nil},
		{"UnknownGrant", func(t *testing.T, s store.Store, f family) store.RefreshToken {
			next := newToken(f.grant, "a/2", redeemAt.Add(time.Hour))
			next.GrantID = "grant-nothing"
			return next
		}, nil},
		{"HashOfAnotherToken", func(t *testing.T, s store.Store, f family) store.RefreshToken {
			other := issue(t, s, "b", nil)
			next := newToken(f.grant, "a/2", redeemAt.Add(time.Hour))
			next.Hash = other.token.Hash
			return next
		}, store.ErrAlreadyExists},
		{"HashOfItself", func(t *testing.T, s store.Store, f family) store.RefreshToken {
			next := newToken(f.grant, "a/2", redeemAt.Add(time.Hour))
			next.Hash = f.token.Hash
			return next
		}, store.ErrAlreadyExists},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			f := issue(t, s, "a", nil)
			next := tc.next(t, s, f)
			p := probe{
				grants: []string{f.grant.ID, next.GrantID},
				tokens: []string{f.token.Hash, next.Hash},
			}
			before := observe(t, s, p)
			_, err := s.RotateRefreshToken(t.Context(), f.token.Hash, redeemAt.Add(time.Hour), next)
			wantErr(t, "RotateRefreshToken", err, tc.want)
			checkUnchanged(t, s, p, before)
		})
	}
}

func testExtend(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)

	// Within the grant's lifetime the new expiry is taken as given.
	now := redeemAt.Add(time.Hour)
	g, err := s.ExtendRefreshToken(ctx, f.token.Hash, now, now.Add(24*time.Hour))
	must(t, "ExtendRefreshToken", err)
	checkEqual(t, "grant returned by ExtendRefreshToken", g, f.grant)
	want := f.token
	want.ExpiresAt = now.Add(24 * time.Hour)
	tok, _, err := s.GetRefreshToken(ctx, f.token.Hash)
	must(t, "GetRefreshToken", err)
	checkEqual(t, "extended token", tok, want)

	// Past the grant's end it is capped there.
	now = now.Add(time.Hour)
	_, err = s.ExtendRefreshToken(ctx, f.token.Hash, now, f.grant.ExpiresAt.Add(90*24*time.Hour))
	must(t, "ExtendRefreshToken past the grant", err)
	want.ExpiresAt = f.grant.ExpiresAt
	tok, _, err = s.GetRefreshToken(ctx, f.token.Hash)
	must(t, "GetRefreshToken", err)
	checkEqual(t, "token extended past its grant", tok, want)
}

func testExtendRotated(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)
	rotateAt := redeemAt.Add(time.Hour)
	current := newToken(f.grant, "a/2", rotateAt)
	_, err := s.RotateRefreshToken(ctx, f.token.Hash, rotateAt, current)
	must(t, "RotateRefreshToken", err)

	replayAt := rotateAt.Add(time.Minute)
	_, err = s.ExtendRefreshToken(ctx, f.token.Hash, replayAt, replayAt.Add(24*time.Hour))
	wantErr(t, "ExtendRefreshToken of a rotated token", err, store.ErrRefreshTokenReused)

	revoked := f.grant
	revoked.RevokedAt = replayAt
	g, err := s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after refresh token reuse", g, revoked)
	tok, _, err := s.GetRefreshToken(ctx, f.token.Hash)
	must(t, "GetRefreshToken", err)
	rotated := f.token
	rotated.RotatedAt = rotateAt
	checkEqual(t, "rotated token", tok, rotated)
	_, err = s.RotateRefreshToken(ctx, current.Hash, replayAt, newToken(f.grant, "a/3", replayAt))
	wantErr(t, "RotateRefreshToken of the current token", err, store.ErrRevoked)
}
