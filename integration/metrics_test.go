package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// metricsSnapshot is one scrape of Caddy's admin /metrics: each sample
// line's series (name{labels}) and value.
type metricsSnapshot map[string]float64

// scrapeMetrics reads the admin endpoint's /metrics, where Caddy serves
// its configuration's registry, Gatehouse's metrics included.
func scrapeMetrics(t *testing.T, admin string) metricsSnapshot {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	out := metricsSnapshot{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("unparseable metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics: after a sign-in flow, a refresh, a reused refresh token, a
// wrong password and gated requests, the gatehouse_ counters on Caddy's
// admin endpoint moved by exactly what those requests did, and no series
// carries a user id, a client id or a path.
func TestMetrics(t *testing.T) {
	echo := newEcho(t)
	adminPort := freePort(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), adminPort: adminPort, upstream: echo.addr()})
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	site := in.gate

	before := scrapeMetrics(t, admin)

	// A wrong password, then the flow: login page, sign-in, consent,
	// code, tokens.
	b := in.newBrowser()
	cfg := in.oauthConfig(demoSPA, "openid", "offline_access")
	v := oauth2.GenerateVerifier()
	p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if r := b.submit(p, map[string]string{"username": "alice", "password": "not-her-password"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	tok := in.tokensFor(t, b, demoSPA, "openid", "offline_access")
	next, st := in.refresh(demoSPA, tok.RefreshToken)
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %+v", st, next)
	}
	if _, st := in.refresh(demoSPA, tok.RefreshToken); st != http.StatusBadRequest {
		t.Fatalf("reused refresh token: %d", st)
	}

	// The gate: a bad Bearer token (401), then a browser sent to sign in
	// (already signed in at the issuer: no second password) and let
	// through, then once more through its session.
	resp := in.request(t, http.MethodGet, site+"/api", nil, map[string]string{"Authorization": "Bearer not-a-token"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad Bearer token at the gate: %d", resp.StatusCode)
	}
	res := b.authorize(site+"/reports", "")
	decodeEcho(t, res.last)
	decodeEcho(t, b.get(site+"/again"))

	after := scrapeMetrics(t, admin)
	delta := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`gatehouse_logins_total{method="password",result="failure"}`:                                      1,
		`gatehouse_logins_total{method="password",result="success"}`:                                      1,
		`gatehouse_authorization_requests_total{outcome="login_page"}`:                                    2, // the wrong password's request, and the flow's
		`gatehouse_authorization_requests_total{outcome="consent_page"}`:                                  1,
		`gatehouse_authorization_requests_total{outcome="code_issued"}`:                                   2, // the app's and the gate's
		`gatehouse_consents_total{action="granted"}`:                                                      1,
		`gatehouse_tokens_issued_total{client_type="third_party_public",grant_type="authorization_code"}`: 1,
		`gatehouse_tokens_issued_total{client_type="third_party_public",grant_type="refresh_token"}`:      1,
		`gatehouse_refresh_token_reuse_total`:                                                             1,
		`gatehouse_code_replays_total`:                                                                    0,
		`gatehouse_password_hash_queue_wait_seconds_count{result="granted"}`:                              2,
		`gatehouse_gate_decisions_total{outcome="unauthorized",site="` + site + `"}`:                      1,
		`gatehouse_gate_decisions_total{outcome="allowed",site="` + site + `"}`:                           2,
		`gatehouse_gate_decisions_total{outcome="redirected",site="` + site + `"}`:                        2, // to sign in, and back from the callback
		`gatehouse_gate_cache_hits_total{cache="session",site="` + site + `"}`:                            1,
	} {
		if got := delta(series); got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	if got := after[`gatehouse_store_operation_duration_seconds_count{operation="transaction"}`]; got <= before[`gatehouse_store_operation_duration_seconds_count{operation="transaction"}`] {
		t.Errorf("no store transaction timed (%v)", got)
	}
	// The feed is polled every 5 s by default: its age stays within a
	// few intervals while the store answers.
	if age, ok := after["gatehouse_revocation_feed_age_seconds"]; !ok || age < 0 || age > 30 {
		t.Errorf("gatehouse_revocation_feed_age_seconds = %v (exported: %v)", age, ok)
	}
	if after[`gatehouse_gate_cache_capacity{cache="token",site="`+site+`"}`] != 10000 {
		t.Errorf("token cache capacity not exported: %v", after[`gatehouse_gate_cache_capacity{cache="token",site="`+site+`"}`])
	}
	for series := range after {
		if !strings.HasPrefix(series, "gatehouse_") {
			continue
		}
		for _, banned := range []string{"alice", "demo-spa", "/reports", "/api", "gh_"} {
			if strings.Contains(series, banned) {
				t.Errorf("series %s carries %q", series, banned)
			}
		}
	}
}

// TestMetricsSurviveReload: a configuration reload (a new metrics
// registry in Caddy) keeps Gatehouse's counters counting from where they
// were, and the gauges of the new configuration's gates and revocation
// feed are exported, once each (a duplicate would fail the scrape).
func TestMetricsSurviveReload(t *testing.T) {
	echo := newEcho(t)
	adminPort := freePort(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), adminPort: adminPort, upstream: echo.addr()})
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	failures := `gatehouse_logins_total{method="password",result="failure"}`
	wrongPassword := func() {
		t.Helper()
		b := in.newBrowser()
		p := b.get(in.oauthConfig(demoSPA, "openid").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if r := b.submit(p, map[string]string{"username": "alice", "password": "not-her-password"}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	wrongPassword()
	before := scrapeMetrics(t, admin)[failures]
	if before < 1 {
		t.Fatalf("%s = %v before the reload", failures, before)
	}

	// Reload a changed configuration through the admin API, as `caddy
	// reload` does.
	cfg := call(t, http.DefaultClient, http.MethodGet, admin+"/config/", nil, nil)
	var doc map[string]any
	if err := json.Unmarshal(cfg.body, &doc); err != nil {
		t.Fatal(err)
	}
	doc["apps"].(map[string]any)["gatehouse"].(map[string]any)["revocation_poll_interval"] = "4s"
	if r := call(t, http.DefaultClient, http.MethodPost, admin+"/load", doc, nil); r.status != http.StatusOK {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}

	after := scrapeMetrics(t, admin)
	if after[failures] != before {
		t.Errorf("%s = %v after the reload, was %v", failures, after[failures], before)
	}
	for _, series := range []string{"gatehouse_revocation_feed_age_seconds",
		`gatehouse_gate_cache_capacity{cache="token",site="` + in.gate + `"}`} {
		if _, ok := after[series]; !ok {
			t.Errorf("%s is not exported after the reload", series)
		}
	}
	wrongPassword()
	if got := scrapeMetrics(t, admin)[failures]; got != before+1 {
		t.Errorf("%s = %v after one more failure, want %v", failures, got, before+1)
	}
}
