package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to check the database directly
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
)

// Outage timings. The proof freezes the database for 20 s with the
// default 5 s store timeout; here the timeout is 2 s and the freeze 6 s,
// three timeouts long, which shows the same things (no request waits
// past the timeout, every stuck connection is given up, the pool recovers
// by itself) in a third of the time.
const (
	outageStoreTimeout = 2 * time.Second
	outageFreeze       = 6 * time.Second
	// outageAnswerBound is the longest any request may take while the
	// database does not answer: the store timeout plus a second.
	outageAnswerBound = outageStoreTimeout + time.Second
	// outageRecoveryBound is how soon after the database is back full
	// service must return, without restarting Caddy.
	outageRecoveryBound = 2 * time.Second
)

// TestDatabaseOutage puts a TCP proxy of the test's own between Gatehouse
// and PostgreSQL and breaks it under token and gate traffic (issue 18):
//
//   - frozen, every request answers within the store timeout plus a
//     second; those that need the database answer 503 with Retry-After
//     (temporarily_unavailable), a signed-in browser is sent back to the
//     app with temporarily_unavailable instead of being asked to sign in,
//     and the gate keeps admitting the sessions and tokens it verified;
//   - restored, full service is back within two seconds;
//   - killed (every connection cut), the one retry hides the dead
//     connections: no request fails;
//
// and afterwards no code was redeemed twice, no refresh token rotated
// twice, and nothing granted before the outage is lost.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the database outage test runs in the full suite")
	}
	dsn, schema := pgtest.Schema(t)
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, net.JoinHostPort(pgCfg.Host, strconv.Itoa(int(pgCfg.Port))))
	echo := newEcho(t)
	storage := fmt.Sprintf("storage postgres {\n\t\t\tdsn %q\n\t\t\tschema %s\n\t\t\ttimeout %s\n\t\t\tmax_conns 8\n\t\t}",
		throughProxy(t, dsn, proxy.addr()), schema, outageStoreTimeout)
	kek := strings.Repeat("ab", 32) // shared storage needs a key encryption key
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(),
		extraGatehouse: []string{storage, "key_encryption_key " + kek}})

	// Before the outage: alice signed in at the issuer and at the gate,
	// two refresh token families, an access token the gate has verified.
	b := in.newBrowser()
	if res := b.authorize(in.gate+"/", ""); !res.sawLogin || res.last.status != http.StatusOK {
		t.Fatalf("gate login before the outage: %d %s", res.last.status, res.last.url)
	}
	families := []*tokenJSON{
		in.tokensFor(t, b, demoSPA, "openid", "offline_access"),
		in.tokensFor(t, b, demoSPA, "openid", "offline_access"),
	}
	_, gateAuth := in.gateToken(t, demoCLI, "openid")
	spa := in.oauthConfig(demoSPA, "openid")

	probes := []outageProbe{
		{name: "refresh", needsStore: true, do: func(ctx context.Context) (*http.Response, error) {
			return in.client.Do(formRequest(ctx, in.issuer+"/token", url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {families[0].RefreshToken}, "client_id": {demoSPA.id}}))
		}},
		{name: "introspection", needsStore: true, do: func(ctx context.Context) (*http.Response, error) {
			return in.client.Do(formRequest(ctx, in.issuer+"/introspect", url.Values{"token": {families[1].AccessToken}, "client_id": {demoSPA.id}}))
		}},
		{name: "userinfo", needsStore: true, do: func(ctx context.Context) (*http.Response, error) {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.issuer+"/userinfo", nil)
			r.Header.Set("Authorization", "Bearer "+families[1].AccessToken)
			return in.client.Do(r)
		}},
		{name: "authorize", needsStore: true, redirect: true, do: func(ctx context.Context) (*http.Response, error) {
			u := spa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"))
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			return b.client.Do(r)
		}},
		{name: "gate session", do: func(ctx context.Context) (*http.Response, error) {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.gate+"/", nil)
			r.Header.Set("Accept", "text/html")
			return b.client.Do(r)
		}},
		{name: "gate bearer", do: func(ctx context.Context) (*http.Response, error) {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.gate+"/api", nil)
			for k, v := range gateAuth {
				r.Header.Set(k, v)
			}
			return in.client.Do(r)
		}},
	}
	// serve runs every probe once, in order, and wants each served.
	serve := func(when string) {
		t.Helper()
		for _, p := range probes {
			a := p.run()
			if !a.served(p) {
				t.Errorf("%s %s: %s", p.name, when, a)
			}
			if p.name == "refresh" && a.status == http.StatusOK {
				var tj tokenJSON
				if json.Unmarshal([]byte(a.body), &tj) != nil || tj.RefreshToken == "" {
					t.Fatalf("refresh %s: %s", when, a)
				}
				families[0] = &tj
			}
		}
	}
	serve("before the outage")

	t.Run("frozen", func(t *testing.T) {
		proxy.freeze()
		end := time.Now().Add(outageFreeze)
		var (
			mu      sync.Mutex
			answers = map[string][]outageAnswer{}
			wg      sync.WaitGroup
		)
		for _, p := range probes {
			wg.Go(func() {
				for time.Now().Before(end) {
					a := p.run()
					mu.Lock()
					answers[p.name] = append(answers[p.name], a)
					mu.Unlock()
					time.Sleep(20 * time.Millisecond) // steady traffic, not a flood
				}
			})
		}
		wg.Wait()
		proxy.restore()
		for _, p := range probes {
			var slowest time.Duration
			for _, a := range answers[p.name] {
				slowest = max(slowest, a.took)
				if a.took > outageAnswerBound {
					t.Errorf("%s took %v while the database was frozen, more than the store timeout plus a second (%v)", p.name, a.took, outageAnswerBound)
				}
				if !a.unavailableOr(p) {
					t.Errorf("%s while the database was frozen: %s", p.name, a)
				}
			}
			if len(answers[p.name]) == 0 {
				t.Errorf("%s: no answer at all while the database was frozen", p.name)
			}
			t.Logf("%s: %d answers during the freeze, the slowest in %v", p.name, len(answers[p.name]), slowest.Round(time.Millisecond))
		}
	})

	t.Run("restored", func(t *testing.T) {
		// The freeze ended above; the first request that reaches the
		// database again must come within outageRecoveryBound.
		restored := time.Now()
		introspection := probes[1]
		for {
			a := introspection.run()
			if a.served(introspection) {
				break
			}
			if time.Since(restored) > outageRecoveryBound {
				t.Fatalf("no service %v after the database came back: %s", outageRecoveryBound, a)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("service back %v after the database", time.Since(restored).Round(time.Millisecond))
		serve("after the freeze")
	})

	t.Run("slow", func(t *testing.T) {
		// A slow database within the timeout still serves everyone.
		proxy.slow(20 * time.Millisecond)
		serve("with a slow database")
		proxy.restore()
	})

	t.Run("killed", func(t *testing.T) {
		cut := proxy.kill()
		if cut == 0 {
			t.Fatal("the proxy had no connection to cut")
		}
		t.Logf("cut %d database connections", cut)
		serve("right after every database connection was cut")
		// And a whole new grant: authorization and code redemption.
		cli := in.oauthConfig(demoCLI, "openid")
		v := oauth2.GenerateVerifier()
		code := mustCode(t, b.authorize(cli.AuthCodeURL("k", oauth2.S256ChallengeOption(v)), ""), "k")
		tj, st := in.postToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cli.RedirectURL},
			"code_verifier": {v}, "client_id": {demoCLI.id}})
		if st != http.StatusOK || tj.AccessToken == "" {
			t.Fatalf("code exchange after the cut: %d %+v", st, tj)
		}
	})

	// Nothing granted before the outage is lost: both families refresh.
	for i, f := range families {
		tj, st := in.refresh(demoSPA, f.RefreshToken)
		if st != http.StatusOK || tj.RefreshToken == "" {
			t.Errorf("family %d after the outage: %d %+v", i, st, tj)
		}
	}
	checkExactlyOnce(t, dsn, schema)
}

// checkExactlyOnce looks in the database itself: no grant was revoked (a
// code redeemed twice or a refresh token rotated twice revokes its grant,
// RFC 6749 §4.1.2, RFC 9700 §4.14.2), every redeemed code has its grant,
// and every grant with refresh tokens has exactly one current one.
func checkExactlyOnce(t *testing.T, dsn, schema string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	checks := []struct {
		what, query string
	}{
		{"revoked grants", `SELECT COUNT(*) FROM ` + table("gatehouse_grants") + ` WHERE revoked_at <> 0`},
		{"redeemed codes without their grant", `SELECT COUNT(*) FROM ` + table("gatehouse_auth_codes") + ` c
			WHERE c.redeemed_at <> 0 AND NOT EXISTS (SELECT 1 FROM ` + table("gatehouse_grants") + ` g WHERE g.id = c.grant_id)`},
		{"refresh token families without exactly one current token", `SELECT COUNT(*) FROM (SELECT grant_id FROM ` +
			table("gatehouse_refresh_tokens") + ` GROUP BY grant_id HAVING COUNT(*) FILTER (WHERE rotated_at = 0) <> 1) f`},
	}
	var grants int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table("gatehouse_grants")).Scan(&grants); err != nil || grants == 0 {
		t.Fatalf("grants in the database: %d %v", grants, err)
	}
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%s: %d, want none", c.what, n)
		}
	}
	t.Logf("%d grants, none revoked, each code redeemed once, each refresh token rotated once", grants)
}

// throughProxy returns dsn with its host and port replaced by addr.
func throughProxy(t *testing.T, dsn, addr string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Host = addr
		return u.String()
	}
	// key=value: later settings win.
	return dsn + " host=" + host + " port=" + port
}

func formRequest(ctx context.Context, rawURL string, form url.Values) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// outageProbe is one kind of request the outage test keeps sending.
type outageProbe struct {
	name string
	// needsStore: the answer needs the database; without it the probe is
	// served from what the gate verified before.
	needsStore bool
	// redirect: served is a redirect to the app (the authorization
	// endpoint), not a 200.
	redirect bool
	do       func(ctx context.Context) (*http.Response, error)
}

type outageAnswer struct {
	status     int
	retryAfter string
	location   string
	body       string
	err        error
	took       time.Duration
}

func (a outageAnswer) String() string {
	if a.err != nil {
		return fmt.Sprintf("failed after %v: %v", a.took, a.err)
	}
	body := a.body
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("%d after %v (Retry-After %q, Location %q): %s", a.status, a.took.Round(time.Millisecond), a.retryAfter, a.location, body)
}

// run sends the probe, bounded well beyond any answer the test accepts.
func (p outageProbe) run() outageAnswer {
	ctx, cancel := context.WithTimeout(context.Background(), 4*outageAnswerBound)
	defer cancel()
	start := time.Now()
	resp, err := p.do(ctx)
	a := outageAnswer{err: err}
	if err == nil {
		raw, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.status, a.retryAfter, a.location, a.body, a.err = resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), string(raw), rerr
	}
	a.took = time.Since(start)
	return a
}

// served reports whether the answer is the probe's normal success.
func (a outageAnswer) served(p outageProbe) bool {
	if a.err != nil {
		return false
	}
	if p.redirect {
		u, err := url.Parse(a.location)
		return a.status/100 == 3 && err == nil && u.Query().Get("code") != "" && u.Query().Get("error") == ""
	}
	return a.status == http.StatusOK
}

// unavailableOr reports whether the answer is right for a database that
// does not answer: served (the gate's cached sessions and tokens), or
// told to try again: 503 temporarily_unavailable with Retry-After, or for
// the authorization endpoint a redirect to the app with that error.
func (a outageAnswer) unavailableOr(p outageProbe) bool {
	if a.err != nil {
		return false
	}
	if !p.needsStore {
		return a.served(p)
	}
	if p.redirect {
		u, err := url.Parse(a.location)
		return a.status/100 == 3 && err == nil && u.Query().Get("error") == "temporarily_unavailable"
	}
	return a.status == http.StatusServiceUnavailable && a.retryAfter != "" && strings.Contains(a.body, `"temporarily_unavailable"`)
}
