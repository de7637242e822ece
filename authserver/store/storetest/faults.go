package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// faultRounds and faultRacers size RunUnderFaults: fewer callers than the
// plain races, since every cut connection costs a reconnect.
const (
	faultRounds = 8
	faultRacers = 16
)

// RunUnderFaults races redemptions of one code and rotations of one
// refresh token, as the concurrency suite does, while the backend's test
// keeps cutting the store's database connections (faults(true) starts
// that, faults(false) stops it; it is off while records are set up and
// read back). A caller may then get store.ErrUnavailable (its connection
// was cut where running the call again would not be safe, during a
// COMMIT), but a retry must never apply a write twice: at most one caller
// wins each race, at most one of the racers' new refresh tokens exists,
// and when a caller was told it won, it is its token.
func RunUnderFaults(t *testing.T, s store.Store, faults func(on bool)) {
	t.Helper()
	var won, unavailable, calls int
	for round := range faultRounds {
		for _, kind := range []string{"redeem", "rotate"} {
			name := fmt.Sprintf("fault-%s-%d", kind, round)
			var (
				tokens []store.RefreshToken
				call   func(ctx context.Context, i int) error
				loser  error
			)
			switch kind {
			case "redeem":
				c := newCode(name)
				g := grantFor(c)
				must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c))
				for i := range faultRacers {
					tokens = append(tokens, newToken(g, fmt.Sprint(name, "/", i), redeemAt))
				}
				call = func(ctx context.Context, i int) error {
					return s.RedeemAuthCode(ctx, c.Hash, redeemAt, g, &tokens[i])
				}
				loser = store.ErrCodeReused
			case "rotate":
				f := issue(t, s, name, nil)
				rotateAt := redeemAt.Add(time.Hour)
				for i := range faultRacers {
					tokens = append(tokens, newToken(f.grant, fmt.Sprint(name, "/next/", i), rotateAt))
				}
				call = func(ctx context.Context, i int) error {
					_, err := s.RotateRefreshToken(ctx, f.token.Hash, rotateAt, tokens[i])
					return err
				}
				loser = store.ErrRefreshTokenReused
			}

			faults(true)
			errs := raceN(t, faultRacers, call)
			faults(false)

			winner := -1
			for i, err := range errs {
				calls++
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("%s: callers %d and %d both succeeded", name, winner, i)
					}
					winner = i
					won++
				case errors.Is(err, store.ErrUnavailable):
					unavailable++
				case !errors.Is(err, loser):
					t.Errorf("%s, caller %d: unexpected error %v", name, i, err)
				}
			}
			stored := -1
			for i, tok := range tokens {
				_, _, err := s.GetRefreshToken(t.Context(), tok.Hash)
				switch {
				case err == nil && stored >= 0:
					t.Fatalf("%s: the tokens of callers %d and %d were both stored: a write ran twice", name, stored, i)
				case err == nil:
					stored = i
				case !errors.Is(err, store.ErrNotFound):
					t.Fatalf("%s: GetRefreshToken: %v", name, err)
				}
			}
			if winner >= 0 && stored != winner {
				t.Errorf("%s: caller %d was told it won, but the stored token is caller %d's", name, winner, stored)
			}
		}
	}
	if won == 0 {
		t.Errorf("no race had a winner in %d rounds: the faults left the store no chance", faultRounds)
	}
	t.Logf("%d calls under faults: %d races won, %d calls answered ErrUnavailable", calls, won, unavailable)
}

// raceN runs call n times concurrently, all released together, within
// raceTimeout.
func raceN(t *testing.T, n int, call func(ctx context.Context, i int) error) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(ctx, i)
		})
	}
	close(start)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the race did not finish within %v", raceTimeout)
	}
	return errs
}
