// Command bench measures what Gatehouse costs, side by side with what
// users run instead, in one run on one machine (issue 19):
//
//	go run ./bench           # the full run, a few minutes
//	go run ./bench -quick    # under 90 s, fewer and shorter rounds
//
// It starts a tiny upstream, a do-nothing auth service and one Caddy (a
// child process running this program's Caddy build, pinned to core 0
// with GOMAXPROCS=1 when there are two or more cores) with the sites:
// plain reverse_proxy, authgate (session cookie, Bearer tokens: one, and
// 10,000 distinct ones in rotation), and forward_auth to the auth
// service. A closed-loop load generator (fixed concurrency, rounds
// interleaved) measures each; then the token endpoint on SQLite and,
// when reachable, PostgreSQL; the RSA-2048 and ES256 signing bound on
// the same core; memory; and gated traffic under a login storm. It
// prints a Markdown table and writes bench/results.json. Everything
// listens on loopback only, and every phase is bounded in time.
// docs/benchmarks.md has a run's results and how to read them.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// settings of one run.
type settings struct {
	Quick         bool          `json:"quick"`
	Workers       int           `json:"workers"`
	Rounds        int           `json:"rounds"`
	Round         time.Duration `json:"round_ns"`
	Tokens        int           `json:"distinct_tokens"`
	Sessions      int           `json:"gate_sessions"`
	StormWorkers  int           `json:"storm_workers"`
	Storm         time.Duration `json:"storm_ns"`
	LoginBurst    int           `json:"login_burst"`
	IdleAfter     time.Duration `json:"idle_after_burst_ns"`
	Pinned        bool          `json:"caddy_pinned_to_one_core"`
	Postgres      bool          `json:"postgres"`
	TokenEndpoint time.Duration `json:"token_endpoint_phase_ns"`
}

func main() {
	childCaddy := flag.String("child-caddy", "", "internal: run Caddy on this Caddyfile")
	childDir := flag.String("child-dir", "", "internal: the Caddy child's data directory")
	childCrypto := flag.Duration("child-crypto", 0, "internal: measure signing for this long per algorithm")
	quick := flag.Bool("quick", false, "fewer, shorter rounds: under 90 s")
	out := flag.String("out", filepath.Join("bench", "results.json"), "where to write the JSON results")
	workers := flag.Int("c", 32, "concurrent connections of the load generator")
	noPostgres := flag.Bool("no-postgres", false, "skip PostgreSQL even when reachable")
	profile := flag.String("profile", "", "also save Caddy CPU profiles under each gate configuration into this directory")
	flag.Parse()
	switch {
	case *childCaddy != "":
		runCaddyChild(*childCaddy, *childDir)
		return
	case *childCrypto > 0:
		runCryptoChild(*childCrypto)
		return
	}
	s := settings{
		Quick: *quick, Workers: *workers, Rounds: 5, Round: 5 * time.Second, Tokens: 10_000, Sessions: 10_000,
		StormWorkers: 50, Storm: 15 * time.Second, LoginBurst: 100, IdleAfter: 30 * time.Second,
		Pinned: canPin(), TokenEndpoint: 3 * time.Second,
	}
	if *quick {
		// Quick: 2,000 distinct tokens and 500 sessions instead of 10,000
		// (results.json records the numbers used).
		s.Rounds, s.Round, s.Tokens, s.Sessions = 3, 1200*time.Millisecond, 2_000, 300
		s.Storm, s.LoginBurst, s.IdleAfter, s.TokenEndpoint = 3*time.Second, 5, 6*time.Second, 800*time.Millisecond
	}
	start := time.Now()
	res, err := measure(s, !*noPostgres, *profile)
	if err != nil {
		fail(err)
	}
	res.Seconds = time.Since(start).Seconds()
	if err := res.write(*out); err != nil {
		fail(err)
	}
	fmt.Print(res.markdown())
	fmt.Fprintf(os.Stderr, "bench: %.0f s; results in %s\n", res.Seconds, *out)
}
