package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// tokenFigures are the token endpoint's rates on one store.
type tokenFigures struct {
	Authorize        figures `json:"authorize_codes"`
	Exchange         figures `json:"code_exchange_rs256_id_token"`
	ExchangeES256    figures `json:"code_exchange_es256_id_token"`
	RefreshIDToken   figures `json:"refresh_with_id_token"`
	RefreshNoIDToken figures `json:"refresh_without_id_token"`
}

// memoryFigures are Caddy's resident set sizes.
type memoryFigures struct {
	IdleMiB  float64 `json:"idle_mib"`
	StateMiB float64 `json:"after_sessions_and_tokens_mib"`
	// Settled: after a forced GC and return of free memory to the OS
	// (live state, not garbage the runtime has yet to give back).
	IdleSettledMiB  float64 `json:"idle_settled_mib"`
	StateSettledMiB float64 `json:"after_sessions_and_tokens_settled_mib"`
	Sessions        int     `json:"sessions"`
	Tokens          int     `json:"tokens"`
	AfterBurstMiB   float64 `json:"after_login_burst_mib"`
	AfterIdleMiB    float64 `json:"after_burst_and_idle_mib"`
	BurstBusy       int     `json:"login_burst_busy_answers"`
}

// state is what the measurements need from a signed-in user.
type state struct {
	browser    *browser
	rtOpenID   string   // refresh token whose refreshes carry an ID token
	rtPlain    string   // refresh token without openid
	tokens     []string // distinct access tokens for the gate
	gateCookie string
}

// serve runs h on a loopback port and returns host:port.
func serve(h http.HandlerFunc) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(l, h) }()
	return l.Addr().String(), nil
}

func measure(s settings, tryPostgres bool, profileDir string) (*results, error) {
	pinSelf()
	res := newResults(s)
	upstream, err := serve(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	if err != nil {
		return nil, err
	}
	// The do-nothing auth service forward_auth asks: always yes.
	authService, err := serve(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-User", "bench") })
	if err != nil {
		return nil, err
	}
	hash, err := identity.HashPassword(benchPassword, identity.DefaultParams())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	newConfig := func(name string, pg *pgTarget) (caddyConfig, error) {
		p, err := freePorts(4)
		if err != nil {
			return caddyConfig{}, err
		}
		return caddyConfig{dir: filepath.Join(dir, name), ports: ports{p[0], p[1], p[2], p[3]},
			upstream: upstream, authService: authService, passwordHash: hash, postgres: pg}, nil
	}

	step("crypto bound")
	if res.Crypto, err = measureCrypto(s.TokenEndpoint / 2); err != nil {
		return nil, err
	}

	cfg, err := newConfig("sqlite", nil)
	if err != nil {
		return nil, err
	}
	if profileDir != "" {
		p, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		cfg.adminPort = p[0]
	}
	step("starting Caddy (SQLite)")
	c, err := startCaddy(cfg)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	// Idle: after the hasher has returned the startup hash's memory.
	time.Sleep(6 * time.Second)
	res.Memory.IdleMiB = c.rssMiB()
	res.Memory.IdleSettledMiB = c.settledRSSMiB()

	step(fmt.Sprintf("signing in, minting %d tokens and %d gate sessions", s.Tokens, s.Sessions))
	st, err := prepare(cfg.ports, s.Tokens, s.Sessions)
	if err != nil {
		return nil, err
	}
	res.Memory.Tokens, res.Memory.Sessions = len(st.tokens), s.Sessions
	res.Memory.StateMiB = c.rssMiB()
	res.Memory.StateSettledMiB = c.settledRSSMiB()

	step(fmt.Sprintf("gate: %d interleaved rounds of %v", s.Rounds, s.Round))
	gateRounds(res, c, cfg.ports, st, s)
	if profileDir != "" {
		step("profiling Caddy under each configuration into " + profileDir)
		if err := profileGate(profileDir, cfg.adminPort, cfg.ports, st, s.Workers); err != nil {
			return nil, err
		}
	}

	step("token endpoint (SQLite)")
	if res.Token["sqlite"], err = tokenEndpoint(cfg.ports, st, s); err != nil {
		return nil, err
	}

	step(fmt.Sprintf("login burst of %d, then %v idle", s.LoginBurst, s.IdleAfter))
	res.Memory.BurstBusy = loginBurst(cfg.ports.issuerURL(), s.LoginBurst)
	res.Memory.AfterBurstMiB = c.rssMiB()
	time.Sleep(s.IdleAfter)
	res.Memory.AfterIdleMiB = c.rssMiB()

	step(fmt.Sprintf("login storm: %d workers for %v", s.StormWorkers, s.Storm))
	if res.Storm, err = loginStorm(c, cfg.ports, st.browser, st.gateCookie, s.Workers, s.StormWorkers, s.Storm); err != nil {
		res.Notes = append(res.Notes, "login storm not measured: "+err.Error())
	}
	c.stop()

	if !tryPostgres {
		res.Notes = append(res.Notes, "PostgreSQL skipped (-no-postgres)")
	} else if pg, err := openPostgres(postgresDSN()); err != nil {
		res.Notes = append(res.Notes, "PostgreSQL not measured: "+err.Error())
	} else {
		defer pg.drop()
		res.Settings.Postgres = true
		step("token endpoint (PostgreSQL)")
		pcfg, err := newConfig("postgres", pg)
		if err != nil {
			return nil, err
		}
		pc, err := startCaddy(pcfg)
		if err != nil {
			return nil, err
		}
		pst, err := prepare(pcfg.ports, 0, 0)
		if err == nil {
			res.Token["postgres"], err = tokenEndpoint(pcfg.ports, pst, s)
		}
		pc.stop()
		if err != nil {
			return nil, err
		}
	}
	res.Notes = append(res.Notes, oauth2ProxyNote())
	res.derive()
	return res, nil
}

var started = time.Now()

func step(what string) {
	fmt.Fprintf(os.Stderr, "bench: %5.1f s  %s\n", time.Since(started).Seconds(), what)
}

// prepare signs the bench user in, gets refresh tokens with and without
// openid for the gate's resource, mints n distinct access tokens by
// refreshing, and signs sessions browsers in at the gate.
func prepare(p ports, n, sessions int) (*state, error) {
	st := &state{browser: newBrowser()}
	issuer, gate := p.issuerURL(), p.gateURL()
	code, _, err := st.browser.signIn(authorizeURL(issuer, benchClient, "openid offline_access", gate), benchPassword)
	if err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	plain := newClient(4, nil)
	defer plain.CloseIdleConnections()
	t, err := exchange(plain, issuer, benchClient, code)
	if err != nil {
		return nil, err
	}
	st.rtOpenID = t.RefreshToken
	if code, _, err = st.browser.signIn(authorizeURL(issuer, benchClient, "email groups offline_access", gate), benchPassword); err != nil {
		return nil, err
	}
	if t, err = exchange(plain, issuer, benchClient, code); err != nil {
		return nil, err
	}
	st.rtPlain = t.RefreshToken
	if st.rtOpenID == "" || st.rtPlain == "" {
		return nil, errors.New("no refresh tokens")
	}
	st.tokens = []string{t.AccessToken}
	var mu sync.Mutex
	for len(st.tokens) < n {
		refreshLoad(issuer, benchClient, st.rtPlain, 16, time.Second, func(tok string) {
			mu.Lock()
			if len(st.tokens) < n {
				st.tokens = append(st.tokens, tok)
			}
			mu.Unlock()
		})
	}
	// Each token is used once, so the gate has verified and cached all.
	var next atomic.Int64
	warmClient := newClient(16, nil)
	defer warmClient.CloseIdleConnections()
	warm := run(warmClient, 16, time.Minute, request{want: http.StatusOK, build: func(int, int) *http.Request {
		i := int(next.Add(1)) - 1
		if i >= len(st.tokens) {
			return nil
		}
		return bearer(gate, st.tokens[i])
	}})
	if warm.Errors > 0 {
		return nil, fmt.Errorf("the gate refused %d of %d fresh tokens", warm.Errors, len(st.tokens))
	}
	if st.gateCookie, err = gateSession(st.browser, issuer, gate); err != nil {
		return nil, err
	}
	var made, failed atomic.Int64
	var wg sync.WaitGroup
	for range min(8, sessions) {
		wg.Go(func() {
			for int(made.Add(1)) <= sessions {
				if _, err := gateSession(st.browser, issuer, gate); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("%d gate sessions failed", f)
	}
	return st, nil
}

func bearer(site, tok string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, site+"/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// gateConfig is one site configuration the load generator drives.
type gateConfig struct {
	name  string
	build func(int, int) *http.Request
}

// gateConfigs are the gate's configurations and their baselines.
func gateConfigs(p ports, st *state) []gateConfig {
	var rotation atomic.Int64
	return []gateConfig{
		{"plain", func(int, int) *http.Request { r, _ := http.NewRequest(http.MethodGet, p.plainURL()+"/", nil); return r }},
		{"gate_cookie", func(int, int) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, p.gateURL()+"/", nil)
			r.Header.Set("Cookie", st.gateCookie)
			return r
		}},
		{"gate_bearer", func(int, int) *http.Request { return bearer(p.gateURL(), st.tokens[0]) }},
		{"gate_bearer_10k", func(int, int) *http.Request {
			return bearer(p.gateURL(), st.tokens[int(rotation.Add(1))%len(st.tokens)])
		}},
		{"forward_auth", func(int, int) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, p.forwardURL()+"/", nil)
			return r
		}},
	}
}

// gateRounds measures the gate configurations, interleaved round by
// round, with Caddy's CPU time per request.
func gateRounds(res *results, c *child, p ports, st *state, s settings) {
	configs := gateConfigs(p, st)
	client := newClient(s.Workers, nil)
	defer client.CloseIdleConnections()
	for _, cfg := range configs { // warm connections and caches
		run(client, s.Workers, 300*time.Millisecond, request{want: http.StatusOK, build: cfg.build})
	}
	for range s.Rounds {
		for _, cfg := range configs {
			cpu0 := c.cpuSeconds()
			f := run(client, s.Workers, s.Round, request{want: http.StatusOK, build: cfg.build})
			ser := res.Gate[cfg.name]
			ser.Rounds = append(ser.Rounds, f)
			if f.OK > 0 {
				ser.CaddyMicros = append(ser.CaddyMicros, 1e6*(c.cpuSeconds()-cpu0)/float64(f.OK))
			}
			res.Gate[cfg.name] = ser
		}
	}
}

// profileGate saves a CPU profile of Caddy under each configuration's
// load (4 s each) into dir, from Caddy's admin endpoint.
func profileGate(dir string, adminPort int, p ports, st *state, workers int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", adminPort))
	if err != nil {
		return err
	}
	heap, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "caddy-heap.pprof"), heap, 0o644); err != nil {
		return err
	}
	client := newClient(workers, nil)
	defer client.CloseIdleConnections()
	for _, cfg := range gateConfigs(p, st) {
		done := make(chan struct{})
		go func() {
			run(client, workers, 5*time.Second, request{want: http.StatusOK, build: cfg.build})
			close(done)
		}()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=4", adminPort))
		if err != nil {
			return err
		}
		prof, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		<-done
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "caddy-"+cfg.name+".pprof"), prof, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tokenEndpoint measures /authorize, code exchanges (RS256 and ES256 ID
// tokens) and refreshes.
func tokenEndpoint(p ports, st *state, s settings) (tokenFigures, error) {
	var out tokenFigures
	issuer, d, w := p.issuerURL(), s.TokenEndpoint, 16
	codes, f := collectCodes(st.browser, issuer, benchClient, "openid", p.gateURL(), w, d)
	out.Authorize = f
	if len(codes) == 0 {
		return out, errors.New("/authorize issued no codes")
	}
	out.Exchange = exchangeAll(issuer, benchClient, codes, w, d)
	if _, _, err := st.browser.signIn(authorizeURL(issuer, benchES256, "openid", p.gateURL()), benchPassword); err != nil {
		return out, fmt.Errorf("the ES256 client: %w", err)
	}
	esCodes, _ := collectCodes(st.browser, issuer, benchES256, "openid", p.gateURL(), w, d)
	out.ExchangeES256 = exchangeAll(issuer, benchES256, esCodes, w, d)
	out.RefreshIDToken = refreshLoad(issuer, benchClient, st.rtOpenID, w, d, nil)
	out.RefreshNoIDToken = refreshLoad(issuer, benchClient, st.rtPlain, w, d, nil)
	return out, nil
}

// loginBurst signs n new browsers in with the right password, two at a
// time, retrying "busy" answers as a person would; it returns how many
// busy answers there were.
func loginBurst(issuer string, n int) int {
	var next, busy atomic.Int64
	var wg sync.WaitGroup
	for range min(2, n) {
		wg.Go(func() {
			for int(next.Add(1)) <= n {
				for range 20 {
					b := newBrowser()
					_, status, err := b.signIn(authorizeURL(issuer, benchClient, "openid", ""), benchPassword)
					b.client.CloseIdleConnections()
					if err == nil || status != http.StatusServiceUnavailable {
						break
					}
					busy.Add(1)
					time.Sleep(time.Second)
				}
			}
		})
	}
	wg.Wait()
	return int(busy.Load())
}

// oauth2ProxyNote says whether forward_auth to a real oauth2-proxy was
// measured: only with the binary on PATH, which this run does not build.
func oauth2ProxyNote() string {
	if path, err := execLookPath("oauth2-proxy"); err == nil {
		return "oauth2-proxy found at " + path + " but not measured by this version of the program"
	}
	return "forward_auth to oauth2-proxy not measured: no oauth2-proxy binary on PATH (see docs/benchmarks.md for the outside measurement)"
}

// machine describes where the run happened.
type machine struct {
	GOOS, GOARCH string
	CPUs         int
	CPUModel     string
	GoVersion    string
}

func machineInfo() machine {
	m := machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
