package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The program itself is run by hand (go run ./bench -quick); these tests
// keep its parts honest and cheap: the load generator against a local
// server, the arithmetic, the Caddyfile it writes, and its output.

func TestLoadGenerator(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusTeapot)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := newClient(4, nil)
	f := run(client, 4, 200*time.Millisecond, request{want: http.StatusOK, build: func(int, int) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		return r
	}})
	if f.OK == 0 || f.RPS <= 0 || f.Errors != 0 || f.P50ms <= 0 || f.P99ms < f.P50ms {
		t.Errorf("load against a local server: %+v", f)
	}
	// A finite work list ends the run early; unexpected answers count
	// as errors; seen gets every expected answer's body.
	var next, seen atomic.Int64
	f = run(client, 4, time.Minute, request{want: http.StatusOK,
		build: func(int, int) *http.Request {
			i := next.Add(1)
			if i > 10 {
				return nil
			}
			path := "/"
			if i%2 == 0 {
				path = "/bad"
			}
			r, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			return r
		},
		seen: func(_ *http.Response, body []byte) {
			if string(body) == "ok" {
				seen.Add(1)
			}
		},
	})
	if f.OK != 5 || f.Errors != 5 || seen.Load() != 5 {
		t.Errorf("10 requests, half refused: %+v, seen %d", f, seen.Load())
	}
}

func TestRatiosAndMedians(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median of four = %v", got)
	}
	a := series{Rounds: []figures{{RPS: 90, P99ms: 2}, {RPS: 50, P99ms: 3}, {RPS: 100, P99ms: 2}}}
	b := series{Rounds: []figures{{RPS: 100, P99ms: 1}, {RPS: 50, P99ms: 1}, {RPS: 200, P99ms: 2}}}
	// Round by round: 0.9, 1.0, 0.5; the median is 0.9.
	if got := ratio(a, b); got != 0.9 {
		t.Errorf("ratio = %v, want 0.9", got)
	}
	if got := p99Ratio(a, b); got != 2 {
		t.Errorf("p99Ratio = %v, want 2", got)
	}
	s := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, 1, time.Second)
	if s.RPS != 3 || s.P50ms != 2 || s.P99ms != 3 || s.Errors != 1 {
		t.Errorf("summarize = %+v", s)
	}
}

func TestCaddyfileAdapts(t *testing.T) {
	for _, pg := range []*pgTarget{nil, {dsn: "postgres://u@127.0.0.1:5432/db", schema: "s"}} {
		cfg := caddyConfig{dir: t.TempDir(), ports: ports{1001, 1002, 1003, 1004}, upstream: "127.0.0.1:1005", authService: "127.0.0.1:1006",
			passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$8Jz1ElyHYMk0h9Nf8tTfFUDDgNtA5dbF5oZLtHBBYSs", postgres: pg}
		out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg.caddyfile()), map[string]any{"filename": "Caddyfile"})
		if err != nil {
			t.Fatalf("the bench's Caddyfile does not adapt: %v\n%s", err, cfg.caddyfile())
		}
		if len(warnings) > 0 {
			t.Errorf("warnings: %v", warnings)
		}
		for _, want := range []string{`"handler":"authgate"`, `"token_cache_size":16384`, `"handler":"authserver"`, `"uri":"/check"`} {
			if !strings.Contains(strings.ReplaceAll(string(out), " ", ""), want) {
				t.Errorf("adapted config lacks %s", want)
			}
		}
	}
}

func TestResultsOutput(t *testing.T) {
	r := newResults(settings{Workers: 32, Rounds: 2, Round: time.Second, Tokens: 10_000, Postgres: true})
	for name, rps := range map[string][]float64{"plain": {100, 110}, "gate_cookie": {95, 108}, "gate_bearer": {97, 104},
		"gate_bearer_10k": {96, 100}, "forward_auth": {50, 60}} {
		var g gateSeries
		for _, x := range rps {
			g.Rounds = append(g.Rounds, figures{RPS: x, P50ms: 1, P99ms: 2})
			g.CaddyMicros = append(g.CaddyMicros, 150)
		}
		r.Gate[name] = g
	}
	r.Token["sqlite"] = tokenFigures{Authorize: figures{RPS: 4000}, Exchange: figures{RPS: 650}, RefreshIDToken: figures{RPS: 750}, RefreshNoIDToken: figures{RPS: 3000}}
	r.Token["postgres"] = tokenFigures{Authorize: figures{RPS: 2000}, Exchange: figures{RPS: 520}, RefreshIDToken: figures{RPS: 600}, RefreshNoIDToken: figures{RPS: 1000}}
	r.Crypto = cryptoFigures{RS256PerSec: 1000, ES256PerSec: 20000}
	r.derive()
	path := filepath.Join(t.TempDir(), "bench", "results.json")
	if err := r.write(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"gate_cookie_vs_plain", "gate_bearer_vs_plain", "gate_bearer_10k_vs_plain", "gate_cookie_vs_forward_auth",
		"gate_bearer_vs_forward_auth", "token_exchange_vs_crypto_bound", "token_exchange_postgres_vs_sqlite", "refresh_postgres_vs_sqlite",
		"authorize_postgres_vs_sqlite", "raw"} {
		if _, ok := top[key]; !ok {
			t.Errorf("results.json lacks %s", key)
		}
	}
	if got := top["token_exchange_vs_crypto_bound"]; got != 0.65 {
		t.Errorf("token_exchange_vs_crypto_bound = %v, want 0.65", got)
	}
	if got := top["authorize_postgres_vs_sqlite"]; got != 0.5 {
		t.Errorf("authorize_postgres_vs_sqlite = %v, want 0.5", got)
	}
	md := r.markdown()
	for _, want := range []string{"| config | req/s |", "`authgate`, Bearer, 10000 distinct tokens", "| code → tokens, RS256 ID token"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
}
