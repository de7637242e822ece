package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func testAuthCodeRoundTrip(t *testing.T, open opener) {
	s := open(t)
	full := newCode("full")
	// GetAuthCode returns codes whatever their state: this one has no
	// lists, has expired long ago and was created redeemed.
	bare := newCode("bare")
	bare.Scopes = nil
	bare.Resources = []string{}
	bare.Nonce, bare.CodeChallenge, bare.CodeChallengeMethod = "", "", ""
	bare.ExpiresAt = t0.Add(-24 * time.Hour)
	bare.RedeemedAt = t0.Add(-25 * time.Hour)
	for _, c := range []store.AuthCode{full, bare} {
		must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
	}
	for _, want := range []store.AuthCode{full, bare} {
		got, err := s.GetAuthCode(t.Context(), want.Hash)
		must(t, "GetAuthCode", err)
		checkEqual(t, "auth code", got, want)
	}
}

func testAuthCodeNotFound(t *testing.T, open opener) {
	s := open(t)
	_, err := s.GetAuthCode(t.Context(), hashOf("code:nothing"))
	wantErr(t, "GetAuthCode of an unknown hash", err, store.ErrNotFound)
}

func testAuthCodeDuplicate(t *testing.T, open opener) {
	s := open(t)
	first := newCode("a")
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), first))
	dup := newCode("b")
	dup.Hash = first.Hash
	wantErr(t, "CreateAuthCode with a used hash", s.CreateAuthCode(t.Context(), dup), store.ErrAlreadyExists)
	got, err := s.GetAuthCode(t.Context(), first.Hash)
	must(t, "GetAuthCode", err)
	checkEqual(t, "auth code after a duplicate create", got, first)
}

func testRedeem(t *testing.T, open opener) {
	for _, withToken := range []bool{true, false} {
		name := "WithoutRefreshToken"
		if withToken {
			name = "WithRefreshToken"
		}
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			c := newCode("a")
			g := grantFor(c)
			rt := newToken(g, "a", redeemAt)
			var rtp *store.RefreshToken
			if withToken {
				rtp = &rt
			}
			must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c))
			must(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, c.Hash, redeemAt, g, rtp))

			gotCode, err := s.GetAuthCode(ctx, c.Hash)
			must(t, "GetAuthCode", err)
			wantCode := c
			wantCode.RedeemedAt = redeemAt
			checkEqual(t, "redeemed code", gotCode, wantCode)

			gotGrant, err := s.GetGrant(ctx, g.ID)
			must(t, "GetGrant", err)
			checkEqual(t, "grant", gotGrant, g)

			gotToken, gotGrant, err := s.GetRefreshToken(ctx, rt.Hash)
			if !withToken {
				wantErr(t, "GetRefreshToken of a token never issued", err, store.ErrNotFound)
				return
			}
			must(t, "GetRefreshToken", err)
			checkEqual(t, "refresh token", gotToken, rt)
			checkEqual(t, "refresh token's grant", gotGrant, g)
		})
	}
}

// redeemCall is a RedeemAuthCode call that must fail.
type redeemCall struct {
	hash  string
	now   time.Time
	grant store.Grant
	token *store.RefreshToken
	probe probe
}

func testRedeemFailures(t *testing.T, open opener) {
	// plain creates code "a" and the arguments that would redeem it.
	plain := func(t *testing.T, s store.Store) redeemCall {
		c := newCode("a")
		must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
		g := grantFor(c)
		rt := newToken(g, "a", redeemAt)
		return redeemCall{
			hash: c.Hash, now: redeemAt, grant: g, token: &rt,
			probe: probe{codes: []string{c.Hash}, grants: []string{g.ID}, tokens: []string{rt.Hash}},
		}
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T, s store.Store) redeemCall
		want    error // nil: any error
	}{
		{"UnknownCode", func(t *testing.T, s store.Store) redeemCall {
			call := plain(t, s)
			call.hash = hashOf("code:unknown")
			return call
		}, store.ErrNotFound},
		{"ExpiredAtExpiry", func(t *testing.T, s store.Store) redeemCall {
			call := plain(t, s)
			call.now = newCode("a").ExpiresAt
			return call
		}, store.ErrNotFound},
		{"ExpiredLongAgo", func(t *testing.T, s store.Store) redeemCall {
			call := plain(t, s)
			call.now = newCode("a").ExpiresAt.Add(24 * time.Hour)
			return call
		}, store.ErrNotFound},
		{"GrantIDDiffersFromCode", func(t *testing.T, s store.Store) redeemCall {
			call := plain(t, s)
			call.grant.ID = "grant-other"
			call.token.GrantID = "grant-other"
			call.probe.grants = append(call.probe.grants, "grant-other")
			return call
		}, nil},
		{"RefreshTokenOfAnotherGrant", func(t *testing.T, s store.Store) redeemCall {
			call := plain(t, s)
			call.token.GrantID = "grant-other"
			return call
		}, nil},
		{"GrantAlreadyExists", func(t *testing.T, s store.Store) redeemCall {
			// Code b was issued for the same grant id and redeemed first.
			f := issue(t, s, "b", func(f *family) {
				f.code.GrantID = "grant-a"
				f.grant.ID = "grant-a"
				f.token.GrantID = "grant-a"
			})
			call := plain(t, s)
			call.probe.tokens = append(call.probe.tokens, f.token.Hash)
			return call
		}, store.ErrAlreadyExists},
		{"RefreshTokenAlreadyExists", func(t *testing.T, s store.Store) redeemCall {
			f := issue(t, s, "b", nil)
			call := plain(t, s)
			call.token.Hash = f.token.Hash
			call.probe.grants = append(call.probe.grants, f.grant.ID)
			return call
		}, store.ErrAlreadyExists},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			call := tc.prepare(t, s)
			before := observe(t, s, call.probe)
			err := s.RedeemAuthCode(t.Context(), call.hash, call.now, call.grant, call.token)
			wantErr(t, "RedeemAuthCode", err, tc.want)
			checkUnchanged(t, s, call.probe, before)
		})
	}
}

func testRedeemTwice(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)

	// The replay carries its own refresh token, which must not be stored.
	replayAt := redeemAt.Add(20 * time.Second)
	replayToken := newToken(f.grant, "a/replay", replayAt)
	err := s.RedeemAuthCode(ctx, f.code.Hash, replayAt, f.grant, &replayToken)
	wantErr(t, "second RedeemAuthCode", err, store.ErrCodeReused)

	revoked := f.grant
	revoked.RevokedAt = replayAt
	g, err := s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after the code was replayed", g, revoked)

	c, err := s.GetAuthCode(ctx, f.code.Hash)
	must(t, "GetAuthCode", err)
	wantCode := f.code
	wantCode.RedeemedAt = redeemAt
	checkEqual(t, "replayed code", c, wantCode)

	_, _, err = s.GetRefreshToken(ctx, replayToken.Hash)
	wantErr(t, "GetRefreshToken of the replay's token", err, store.ErrNotFound)

	// The refresh token the first redemption issued dies with the grant.
	tok, tg, err := s.GetRefreshToken(ctx, f.token.Hash)
	must(t, "GetRefreshToken", err)
	checkEqual(t, "first refresh token", tok, f.token)
	checkEqual(t, "first refresh token's grant", tg, revoked)
	next := newToken(f.grant, "a/2", replayAt.Add(time.Minute))
	_, err = s.RotateRefreshToken(ctx, f.token.Hash, replayAt.Add(time.Minute), next)
	wantErr(t, "RotateRefreshToken after the code was replayed", err, store.ErrRevoked)
	_, err = s.ExtendRefreshToken(ctx, f.token.Hash, replayAt.Add(time.Minute), replayAt.Add(time.Hour))
	wantErr(t, "ExtendRefreshToken after the code was replayed", err, store.ErrRevoked)

	// A third try is refused the same way and keeps the first revocation.
	err = s.RedeemAuthCode(ctx, f.code.Hash, replayAt.Add(10*time.Second), f.grant, nil)
	wantErr(t, "third RedeemAuthCode", err, store.ErrCodeReused)
	g, err = s.GetGrant(ctx, f.grant.ID)
	must(t, "GetGrant", err)
	checkEqual(t, "grant after the code was replayed twice", g, revoked)
}

// A replayed code revokes the grant even after its first refresh token was
// rotated: the whole family goes.
func testRedeemTwiceAfterRotation(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	f := issue(t, s, "a", nil)
	rotateAt := redeemAt.Add(5 * time.Second)
	next := newToken(f.grant, "a/2", rotateAt)
	_, err := s.RotateRefreshToken(ctx, f.token.Hash, rotateAt, next)
	must(t, "RotateRefreshToken", err)

	err = s.RedeemAuthCode(ctx, f.code.Hash, rotateAt.Add(time.Second), f.grant, nil)
	wantErr(t, "second RedeemAuthCode", err, store.ErrCodeReused)
	_, err = s.RotateRefreshToken(ctx, next.Hash, rotateAt.Add(time.Minute), newToken(f.grant, "a/3", rotateAt.Add(time.Minute)))
	wantErr(t, "RotateRefreshToken of the current token", err, store.ErrRevoked)
}
