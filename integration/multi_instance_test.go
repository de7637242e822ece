package integration

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
)

// TestMultiInstance runs two Caddy processes on one PostgreSQL schema.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the multi-instance processes run in the full suite")
	}
	pgtest.DSN(t) // skip (or, under CI=true, fail) before building anything
	bin := buildCaddy(t, t.TempDir())
	t.Run("ConsecutiveRequestsOnDifferentInstances", func(t *testing.T) { testCrossInstanceFlow(t, bin) })
	t.Run("SIGKILLUnderLoad", func(t *testing.T) { testKillUnderLoad(t, bin) })
}

// testCrossInstanceFlow: log in on A and consent; authorize on B with the
// same cookie keys; redeem the code on A; refresh on B; revoke on A and see
// it at introspection, userinfo and the token endpoint on B at once, and at
// B's gate within the revocation poll interval.
func testCrossInstanceFlow(t *testing.T, bin string) {
	c := newCluster(t, bin)
	a, b := c.nodes["a"], c.nodes["b"]
	br := c.browser()
	ctx := c.ctx()
	spa := &oauth2.Config{
		ClientID:    "spa",
		Endpoint:    oauth2.Endpoint{AuthURL: c.issuer + "/authorize", TokenURL: c.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes:      []string{"openid", "profile", "email", "offline_access"},
	}
	resource := oauth2.SetAuthURLParam("resource", clusterResource)

	// Log in and consent on A.
	c.lb.routeTo("a")
	v1 := oauth2.GenerateVerifier()
	res := br.authorize(spa.AuthCodeURL("s1", oauth2.S256ChallengeOption(v1), resource), "allow")
	if !res.sawLogin || !res.sawConsent {
		t.Fatalf("on A: login shown %v, consent shown %v; want both", res.sawLogin, res.sawConsent)
	}
	code1 := mustCode(t, res, "s1")

	// Authorize on B: A's session cookie and the consent stored on A are
	// good there, so neither page is shown. (Without offline_access:
	// asking for it always shows the consent page, on any instance.)
	c.lb.routeTo("b")
	servedByB := c.lb.servedBy("b")
	online := oauth2.SetAuthURLParam("scope", "openid profile email")
	v2 := oauth2.GenerateVerifier()
	res = br.authorize(spa.AuthCodeURL("s2", oauth2.S256ChallengeOption(v2), resource, online), "")
	if res.sawLogin || res.sawConsent {
		t.Fatalf("on B: login shown %v, consent shown %v; want neither", res.sawLogin, res.sawConsent)
	}
	code2 := mustCode(t, res, "s2")
	if c.lb.servedBy("b") == servedByB {
		t.Fatal("the balancer did not send the authorization request to B")
	}
	// And with offline_access on B, the consent page, but no login.
	v3 := oauth2.GenerateVerifier()
	res = br.authorize(spa.AuthCodeURL("s3", oauth2.S256ChallengeOption(v3), resource), "allow")
	if res.sawLogin || !res.sawConsent {
		t.Fatalf("on B with offline_access: login shown %v, consent shown %v; want consent only", res.sawLogin, res.sawConsent)
	}
	code3 := mustCode(t, res, "s3")

	// A's code redeems on B, and B's on A.
	tok1, err := spa.Exchange(ctx, code1, oauth2.VerifierOption(v1)) // routed to B
	if err != nil {
		t.Fatalf("A's code redeemed on B: %v", err)
	}
	c.lb.routeTo("a")
	if _, err := spa.Exchange(ctx, code2, oauth2.VerifierOption(v2)); err != nil {
		t.Fatalf("B's code redeemed on A: %v", err)
	}
	tok, err := spa.Exchange(ctx, code3, oauth2.VerifierOption(v3))
	if err != nil {
		t.Fatalf("B's code redeemed on A: %v", err)
	}
	if tok1.RefreshToken == "" || tok.RefreshToken == "" {
		t.Fatal("no refresh tokens")
	}
	// Each code works once, whichever instance sees the replay.
	c.lb.routeTo("b")
	// (code2's grant is revoked by the replay, as RFC 6749 §4.1.2 asks;
	// nothing below uses it.)
	if _, err := spa.Exchange(ctx, code2, oauth2.VerifierOption(v2)); err == nil {
		t.Fatal("a code redeemed on A was redeemed again on B")
	}

	// Keys: both instances publish the same set, and what A signed
	// verifies with B's keys (go-oidc fetches the JWKS through the
	// balancer, which sends it to B).
	c.converged()
	provider, err := oidc.NewProvider(ctx, c.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if _, err := provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, idToken); err != nil {
		t.Fatalf("an ID token signed on A, with B's keys: %v", err)
	}
	if st := c.bearerStatus(b.url(), "/userinfo", tok.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo on B with an access token from A: %d", st)
	}

	// Refresh on B: a public client's token rotates.
	r1 := tok.RefreshToken
	tj, st, err := c.tokenAt(b.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1}, "client_id": {"spa"}})
	if err != nil || st != http.StatusOK || tj.RefreshToken == "" || tj.RefreshToken == r1 {
		t.Fatalf("refresh on B: %d %+v %v", st, tj, err)
	}
	r2, at2 := tj.RefreshToken, tj.AccessToken
	// B's gate admits the tokens (and caches them); so does A's.
	for _, n := range []*node{b, a} {
		for _, at := range []string{at2, tok1.AccessToken} {
			if st := c.bearerStatus(n.gate(), "/", at); st != http.StatusOK {
				t.Fatalf("gate on %s with a fresh access token: %d", n.name, st)
			}
		}
	}

	// Before any revocation, B's introspection sees both tokens active.
	for _, tk := range []string{at2, r2, tok1.AccessToken} {
		if got := c.introspect(b, tk); got["active"] != true || got["sub"] != "alice" || got["client_id"] != "spa" {
			t.Fatalf("introspection on B of a live token: %v", got)
		}
	}

	// Revoke one access token on A (RFC 7009; denylisted by jti): B's
	// introspection and userinfo refuse it at once, B's gate within the
	// poll interval, and its grant lives on.
	c.revoke(a, tok1.AccessToken)
	revokedAt := time.Now()
	if got := c.introspect(b, tok1.AccessToken); got["active"] != false || len(got) != 1 {
		t.Fatalf("introspection on B of an access token revoked on A: %v, want exactly {active: false}", got)
	}
	if st := c.bearerStatus(b.url(), "/userinfo", tok1.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo on B of an access token revoked on A: %d, want 401", st)
	}
	c.gateRefusesWithinBound(b, tok1.AccessToken, revokedAt)
	tj, st, err = c.tokenAt(b.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok1.RefreshToken}, "client_id": {"spa"}})
	if err != nil || st != http.StatusOK {
		t.Fatalf("the grant of a revoked access token no longer refreshes: %d %+v %v", st, tj, err)
	}
	rt1b := tj.RefreshToken

	// Revoke the refresh token r2 on A: its whole grant goes (RFC 7009
	// §2.1), which every instance's database reads see at once.
	c.revoke(a, r2)
	revokedAt = time.Now()
	for _, tk := range []string{at2, r2} {
		if got := c.introspect(b, tk); got["active"] != false || len(got) != 1 {
			t.Fatalf("introspection on B of a token of a grant revoked on A: %v", got)
		}
	}
	tj, st, err = c.tokenAt(b.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r2}, "client_id": {"spa"}})
	if err != nil || st != http.StatusBadRequest || tj.Error != "invalid_grant" {
		t.Fatalf("refresh on B after the revocation on A: %d %+v %v", st, tj, err)
	}
	if st := c.bearerStatus(b.url(), "/userinfo", at2); st != http.StatusUnauthorized {
		t.Fatalf("userinfo on B after the revocation on A: %d, want 401", st)
	}
	c.gateRefusesWithinBound(b, at2, revokedAt)

	// Refresh token reuse on A revokes a family too (RFC 9700 §4.14.2):
	// replaying tok1's rotated token there ends the family B rotated it
	// into.
	tj, st, err = c.tokenAt(a.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok1.RefreshToken}, "client_id": {"spa"}})
	if err != nil || st != http.StatusBadRequest || tj.Error != "invalid_grant" {
		t.Fatalf("reuse on A of a token rotated on B: %d %+v %v", st, tj, err)
	}
	if got := c.introspect(b, rt1b); got["active"] != false {
		t.Fatalf("introspection on B of the newest token of a family revoked by reuse on A: %v", got)
	}
	tj, st, err = c.tokenAt(b.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1b}, "client_id": {"spa"}})
	if err != nil || st != http.StatusBadRequest || tj.Error != "invalid_grant" {
		t.Fatalf("refresh on B after reuse on A: %d %+v %v", st, tj, err)
	}
}

// introspect asks n's introspection endpoint about tk, as the spa client.
func (c *cluster) introspect(n *node, tk string) map[string]any {
	c.t.Helper()
	resp, err := c.client.PostForm(n.url()+"/introspect", url.Values{"token": {tk}, "client_id": {"spa"}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&got) != nil {
		c.t.Fatalf("introspection on %s: status %d", n.name, resp.StatusCode)
	}
	return got
}

// revoke revokes tk at n's revocation endpoint, as the spa client.
func (c *cluster) revoke(n *node, tk string) {
	c.t.Helper()
	resp, err := c.client.PostForm(n.url()+"/revoke", url.Values{"token": {tk}, "client_id": {"spa"}})
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("revocation on %s: %d", n.name, resp.StatusCode)
	}
}

// gateRefusesWithinBound waits for n's gate to refuse an access token
// revoked at revokedAt. The gate does no database round trip per request:
// it learns of revocations from the feed every revocation_poll_interval.
func (c *cluster) gateRefusesWithinBound(n *node, accessToken string, revokedAt time.Time) {
	c.t.Helper()
	bound := clusterRevocationPoll + time.Second // the poll, plus a request's slack
	for {
		st := c.bearerStatus(n.gate(), "/", accessToken)
		if st == http.StatusUnauthorized {
			break
		}
		if st != http.StatusOK {
			c.t.Fatalf("gate on %s: %d", n.name, st)
		}
		if time.Since(revokedAt) > bound {
			c.t.Fatalf("gate on %s still admits a token revoked on another instance %v ago (bound %v)", n.name, time.Since(revokedAt), bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Logf("the gate on %s refused a token revoked elsewhere %v after the revocation", n.name, time.Since(revokedAt).Round(time.Millisecond))
}

// grantSeen is what a load worker holds: the newest tokens of one refresh
// token family, as the client last saw them succeed.
type grantSeen struct {
	refresh string
	access  []string // every access token the family gave out
	// abandoned: a rotation's outcome was lost, so refresh may have been
	// rotated already and presenting it again would rightly be reuse.
	abandoned bool
}

// testKillUnderLoad: clients exchange codes and rotate refresh tokens on
// both instances; one instance is SIGKILLed mid-load and restarted. Every
// token the clients saw issued is still valid afterwards, and none was
// issued twice.
func testKillUnderLoad(t *testing.T, bin string) {
	c := newCluster(t, bin)
	a, b := c.nodes["a"], c.nodes["b"]
	nodes := []*node{a, b}

	// One browser session, shared by the workers: codes come from
	// prompt=none authorizations without pages. Cookies are per host, not
	// per port, so the instances' ports all get it.
	br := c.browser()
	c.lb.routeTo("a")
	cli := &oauth2.Config{ClientID: "cli", RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes: []string{"openid", "offline_access"}}
	cli.Endpoint.AuthURL = c.issuer + "/authorize"
	v := oauth2.GenerateVerifier()
	mustCode(t, br.authorize(cli.AuthCodeURL("warm", oauth2.S256ChallengeOption(v)), ""), "warm")

	const (
		workers  = 8
		maxCalls = 500 // token endpoint requests, all workers together
		window   = 5 * time.Second
	)
	var (
		calls      atomic.Int64
		mu         sync.Mutex
		families   []*grantSeen
		refreshes  = map[string]bool{} // every refresh token seen issued
		unknown    atomic.Int64        // requests whose outcome the client never learned
		cutOff     atomic.Int64        // of which reached A and were cut off by the kill
		inflightA  atomic.Int64        // token requests to A under way
		lost       []string            // failures that must not happen
		codesOK    atomic.Int64
		rotationOK atomic.Int64
	)
	record := func(f *grantSeen, tj *tokenJSON) {
		mu.Lock()
		defer mu.Unlock()
		if refreshes[tj.RefreshToken] {
			lost = append(lost, "a refresh token was issued twice")
		}
		refreshes[tj.RefreshToken] = true
		f.refresh = tj.RefreshToken
		f.access = append(f.access, tj.AccessToken)
	}
	// token is cluster.tokenAt, counting requests in flight to A.
	token := func(n *node, form url.Values) (*tokenJSON, int, error) {
		if n == a {
			inflightA.Add(1)
			defer inflightA.Add(-1)
		}
		return c.tokenAt(n.url(), form)
	}
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lost = append(lost, fmt.Sprintf(format, args...))
	}

	// The load is paced, maxCalls token requests spread over the window,
	// so the kill lands in the middle of it.
	start := time.Now()
	deadline := start.Add(window + 5*time.Second)
	pace := make(chan struct{})
	go func() {
		defer close(pace)
		tick := time.NewTicker(window / maxCalls)
		defer tick.Stop()
		for range maxCalls {
			<-tick.C
			select {
			case pace <- struct{}{}:
			case <-time.After(time.Until(deadline)):
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var f *grantSeen
			rotations := 0
			for i := 0; ; i++ {
				if _, ok := <-pace; !ok {
					return
				}
				n := nodes[(w+i)%2]
				if f != nil && rotations >= 4+w%5 {
					f, rotations = nil, 0 // families of a few rotations each: codes and refreshes mix
				}
				if f == nil {
					// A new family: a code from n, redeemed on the other.
					verifier := oauth2.GenerateVerifier()
					authURL := n.url() + "/authorize?" + url.Values{
						"response_type": {"code"}, "client_id": {"cli"}, "redirect_uri": {cli.RedirectURL},
						"scope": {"openid offline_access"}, "state": {"x"}, "prompt": {"none"},
						"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
					}.Encode()
					resp, err := br.client.Get(authURL)
					if err != nil {
						continue // n is down; the next turn goes to the other one
					}
					resp.Body.Close()
					loc, _ := url.Parse(resp.Header.Get("Location"))
					code := ""
					if loc != nil {
						code = loc.Query().Get("code")
					}
					if code == "" {
						fail("authorize on %s: %d %s", n.name, resp.StatusCode, resp.Header.Get("Location"))
						return
					}
					calls.Add(1)
					other := nodes[(w+i+1)%2]
					tj, st, err := token(other, url.Values{"grant_type": {"authorization_code"}, "code": {code},
						"redirect_uri": {cli.RedirectURL}, "client_id": {"cli"}, "code_verifier": {verifier}})
					switch {
					case err != nil || st >= 500:
						unknown.Add(1) // the code is abandoned, never retried
						if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
							cutOff.Add(1)
						}
					case st != http.StatusOK:
						fail("a fresh code was refused on %s: %d %s", other.name, st, tj.Error)
					default:
						f = &grantSeen{}
						record(f, tj)
						codesOK.Add(1)
						mu.Lock()
						families = append(families, f)
						mu.Unlock()
					}
					continue
				}
				calls.Add(1)
				tj, st, err := token(n, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.refresh}, "client_id": {"cli"}})
				switch {
				case err != nil || st >= 500:
					// The rotation may have happened with its answer lost:
					// presenting this token again would (rightly) look like
					// reuse. The family is left as the client last saw it.
					unknown.Add(1)
					if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
						cutOff.Add(1)
					}
					mu.Lock()
					f.abandoned = true
					mu.Unlock()
					f = nil
				case st != http.StatusOK:
					fail("refresh token the client saw issued was refused on %s: %d %s %s", n.name, st, tj.Error, tj.Description)
					f = nil
				default:
					record(f, tj)
					rotationOK.Add(1)
					rotations++
				}
			}
		})
	}

	// Kill A with SIGKILL a second and a half in, while it is serving a
	// token request if one comes within a moment, and bring it back.
	time.Sleep(1500 * time.Millisecond)
	for wait := time.Now().Add(500 * time.Millisecond); inflightA.Load() == 0 && time.Now().Before(wait); {
		time.Sleep(100 * time.Microsecond)
	}
	c.kill(a)
	killedAt := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	c.launch(a)
	c.waitReady(a)
	restartedAt := time.Since(start)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d token requests in %v: %d codes and %d rotations succeeded, %d outcomes unknown (%d cut off in flight); A killed at %v, serving again at %v",
		calls.Load(), elapsed.Round(time.Millisecond), codesOK.Load(), rotationOK.Load(), unknown.Load(), cutOff.Load(),
		killedAt.Round(time.Millisecond), restartedAt.Round(time.Millisecond))
	for _, l := range lost {
		t.Error(l)
	}
	if t.Failed() {
		t.FailNow()
	}
	if codesOK.Load() < workers || rotationOK.Load() < 50 {
		t.Fatalf("too little load got through to test anything: %d codes, %d rotations", codesOK.Load(), rotationOK.Load())
	}
	if unknown.Load() == 0 {
		t.Log("no request was cut off by the kill")
	}

	// Nothing the clients saw succeed was lost: every access token still
	// works at userinfo on both instances (the restarted A included, with
	// the keys it reloaded), and every family's newest refresh token still
	// rotates.
	// Keys rotated during the load (every few seconds here), created by
	// whichever instance found the rotation due, and both publish them.
	if kids := c.converged(); len(kids) < 4 {
		t.Errorf("published keys %v: no rotation happened during the load", kids)
	}
	jtis := map[string]bool{}
	for i, f := range families {
		for j, at := range f.access {
			claims := jwtClaims(t, at)
			jti, _ := claims["jti"].(string)
			if jtis[jti] {
				t.Errorf("access token jti %q issued twice", jti)
			}
			jtis[jti] = true
			// Spot-check the old ones on both instances; the newest of
			// each family on both too.
			if j == len(f.access)-1 || j%4 == 0 {
				for _, n := range nodes {
					if st := c.bearerStatus(n.url(), "/userinfo", at); st != http.StatusOK {
						t.Errorf("family %d, access token %d on %s: userinfo %d", i, j, n.name, st)
					}
				}
			}
		}
		if f.abandoned {
			continue
		}
		n := nodes[i%2]
		tj, st, err := c.tokenAt(n.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.refresh}, "client_id": {"cli"}})
		if err != nil || st != http.StatusOK {
			t.Errorf("family %d: its newest refresh token on %s: %d %v %v", i, n.name, st, tj, err)
		}
	}
	// And the database agrees that nothing was issued twice: no family has
	// two current refresh tokens.
	db := openRaw(t, c)
	var forked int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM (SELECT grant_id FROM gatehouse_refresh_tokens
		WHERE rotated_at = 0 GROUP BY grant_id HAVING count(*) > 1) AS forks`).Scan(&forked); err != nil {
		t.Fatal(err)
	}
	if forked != 0 {
		t.Errorf("%d refresh token families have more than one current token", forked)
	}
	var redeemed, grants int
	if err := db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM gatehouse_auth_codes WHERE redeemed_at <> 0),
		(SELECT count(*) FROM gatehouse_grants)`).Scan(&redeemed, &grants); err != nil {
		t.Fatal(err)
	}
	if redeemed != grants {
		t.Errorf("%d codes redeemed but %d grants exist", redeemed, grants)
	}
	if grants < len(families) {
		t.Errorf("%d grants stored, but clients saw %d issued", grants, len(families))
	}
}

// openRaw opens the cluster's schema directly, to check what the
// instances stored.
func openRaw(t *testing.T, c *cluster) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{c.schema}.Sanitize()
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}
