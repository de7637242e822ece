package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gateSeries are one gate configuration's rounds with Caddy's CPU time
// per request in each.
type gateSeries struct {
	series
	CaddyMicros []float64 `json:"caddy_cpu_us_per_request"`
}

// results are everything one run measured.
type results struct {
	Settings settings                `json:"settings"`
	Machine  machine                 `json:"machine"`
	Seconds  float64                 `json:"seconds"`
	Gate     map[string]gateSeries   `json:"gate"`
	Token    map[string]tokenFigures `json:"token_endpoint"`
	Crypto   cryptoFigures           `json:"crypto_bound"`
	Memory   memoryFigures           `json:"memory"`
	Storm    stormFigures            `json:"login_storm"`
	Ratios   map[string]float64      `json:"ratios"`
	Notes    []string                `json:"notes"`
}

func newResults(s settings) *results {
	return &results{Settings: s, Machine: machineInfo(), Gate: map[string]gateSeries{},
		Token: map[string]tokenFigures{}, Ratios: map[string]float64{}}
}

var execLookPath = exec.LookPath

// derive computes the ratios the issue asks for.
func (r *results) derive() {
	g := func(name string) series { return r.Gate[name].series }
	for _, cfg := range []string{"gate_cookie", "gate_bearer", "gate_bearer_10k", "forward_auth"} {
		r.Ratios[cfg+"_vs_plain"] = ratio(g(cfg), g("plain"))
		r.Ratios[cfg+"_p99_vs_plain"] = p99Ratio(g(cfg), g("plain"))
	}
	for _, cfg := range []string{"gate_cookie", "gate_bearer", "gate_bearer_10k"} {
		r.Ratios[cfg+"_vs_forward_auth"] = ratio(g(cfg), g("forward_auth"))
	}
	sq, pg := r.Token["sqlite"], r.Token["postgres"]
	if r.Crypto.RS256PerSec > 0 {
		r.Ratios["token_exchange_vs_crypto_bound"] = sq.Exchange.RPS / r.Crypto.RS256PerSec
	}
	if r.Settings.Postgres {
		div := func(a, b figures) float64 {
			if b.RPS == 0 {
				return 0
			}
			return a.RPS / b.RPS
		}
		r.Ratios["token_exchange_postgres_vs_sqlite"] = div(pg.Exchange, sq.Exchange)
		r.Ratios["refresh_postgres_vs_sqlite"] = div(pg.RefreshIDToken, sq.RefreshIDToken)
		r.Ratios["refresh_without_id_token_postgres_vs_sqlite"] = div(pg.RefreshNoIDToken, sq.RefreshNoIDToken)
		r.Ratios["authorize_postgres_vs_sqlite"] = div(pg.Authorize, sq.Authorize)
	}
	r.Ratios["login_storm_rps_vs_quiet"] = r.Storm.RPSRatio
	r.Ratios["login_storm_p99_vs_quiet"] = r.Storm.P99Ratio
}

// write saves the results as JSON: the ratios at the top level,
// next to the raw figures.
func (r *results) write(path string) error {
	top := map[string]any{"raw": r}
	for k, v := range r.Ratios {
		top[k] = v
	}
	raw, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// markdown is the run as tables for docs/benchmarks.md.
func (r *results) markdown() string {
	var b strings.Builder
	s := r.Settings
	pin := "Caddy pinned to core 0, GOMAXPROCS=1"
	if !s.Pinned {
		pin = "Caddy not pinned (one core, or no taskset)"
	}
	fmt.Fprintf(&b, "Machine: %d × %s, %s/%s, %s. %s; load generator %d connections, %d interleaved rounds of %v; run took %.0f s.\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GOOS, r.Machine.GOARCH, r.Machine.GoVersion, pin, s.Workers, s.Rounds, s.Round, r.Seconds)

	b.WriteString("| config | req/s | × plain (median of rounds) | × forward_auth | p50 ms | p99 ms | p99 × plain | Caddy CPU µs/req |\n|---|---|---|---|---|---|---|---|\n")
	for _, cfg := range []struct{ key, label string }{
		{"plain", "plain `reverse_proxy`"},
		{"gate_cookie", "`authgate`, session cookie"},
		{"gate_bearer", "`authgate`, Bearer, 1 token"},
		{"gate_bearer_10k", fmt.Sprintf("`authgate`, Bearer, %d distinct tokens", s.Tokens)},
		{"forward_auth", "`forward_auth` to a do-nothing service"},
	} {
		g := r.Gate[cfg.key]
		m := g.Median()
		vsPlain, vsFA, p99 := "1.00", "—", "1.00"
		if cfg.key != "plain" {
			vsPlain = fmt.Sprintf("%.2f", r.Ratios[cfg.key+"_vs_plain"])
			p99 = fmt.Sprintf("%.2f", r.Ratios[cfg.key+"_p99_vs_plain"])
		}
		if v, ok := r.Ratios[cfg.key+"_vs_forward_auth"]; ok {
			vsFA = fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.2f | %.2f | %s | %.0f |\n", cfg.label, m.RPS, vsPlain, vsFA, m.P50ms, m.P99ms, p99, median(g.CaddyMicros))
	}

	b.WriteString("\n| token endpoint (16 connections) | SQLite /s | PostgreSQL /s | PostgreSQL × SQLite |\n|---|---|---|---|\n")
	sq, pg := r.Token["sqlite"], r.Token["postgres"]
	for _, row := range []struct {
		label  string
		sq, pg figures
	}{
		{"`/authorize` codes (signed-in browser)", sq.Authorize, pg.Authorize},
		{"code → tokens, RS256 ID token + ES256 access token", sq.Exchange, pg.Exchange},
		{"code → tokens, ES256 ID token (`id_token_signed_response_alg`)", sq.ExchangeES256, pg.ExchangeES256},
		{"refresh with RS256 ID token", sq.RefreshIDToken, pg.RefreshIDToken},
		{"refresh without ID token", sq.RefreshNoIDToken, pg.RefreshNoIDToken},
	} {
		pgRate, rel := "—", "—"
		if s.Postgres {
			pgRate = fmt.Sprintf("%.0f", row.pg.RPS)
			if row.sq.RPS > 0 {
				rel = fmt.Sprintf("%.2f", row.pg.RPS/row.sq.RPS)
			}
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s |\n", row.label, row.sq.RPS, pgRate, rel)
	}
	fmt.Fprintf(&b, "\nCrypto bound on Caddy's core: RSA-2048 (RS256) %.0f signs/s, ES256 %.0f signs/s; code exchange × RSA bound: %.2f.\n",
		r.Crypto.RS256PerSec, r.Crypto.ES256PerSec, r.Ratios["token_exchange_vs_crypto_bound"])

	m := r.Memory
	fmt.Fprintf(&b, "\nMemory (Caddy RSS): idle %.0f MiB (settled %.0f); after %d gate sessions + %d cached tokens %.0f MiB, settled %.0f MiB (+%.0f over settled idle, %.2f KiB per entry); after %d password logins %.0f MiB, %v later %.0f MiB (+%.0f over idle); %d busy answers retried during the burst.\n",
		m.IdleMiB, m.IdleSettledMiB, m.Sessions, m.Tokens, m.StateMiB, m.StateSettledMiB, m.StateSettledMiB-m.IdleSettledMiB,
		1024*(m.StateSettledMiB-m.IdleSettledMiB)/float64(max(1, m.Sessions+m.Tokens)),
		s.LoginBurst, m.AfterBurstMiB, s.IdleAfter, m.AfterIdleMiB, m.AfterIdleMiB-m.IdleMiB, m.BurstBusy)

	st := r.Storm
	fmt.Fprintf(&b, "\nLogin storm (%d workers from %d addresses, wrong passwords for unknown names, %v): gated cookie traffic %.0f → %.0f req/s (%.2f× quiet), p99 %.2f → %.2f ms (%.2f×); Caddy CPU %.0f %%; %d storm logins hashed, %d refused busy or throttled; correct login from a browser with a device cookie %.0f ms (ok %v), from a new browser %.0f ms (status %d).\n",
		st.Workers, st.Workers, s.Storm, st.Quiet.RPS, st.Storm.RPS, st.RPSRatio, st.Quiet.P99ms, st.Storm.P99ms, st.P99Ratio, st.CaddyCPUPercent,
		st.LoginsAnswered, st.LoginsRefused, st.TrustedLoginMS, st.TrustedLoginOK, st.NewLoginMS, st.NewLoginStatus)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s.\n", n)
	}
	return b.String()
}
