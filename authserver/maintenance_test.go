package authserver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// waitLimit bounds every wait below; reaching it means the code under test
// is stuck.
const waitLimit = 10 * time.Second

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "core.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	s, err := seal.New(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// coreHasher is shared: making one hashes a dummy password at full cost.
var coreHasher = sync.OnceValue(func() *identity.Hasher { return identity.NewHasher(0) })

// coreConfig is the least a Server needs, over st, with loaded keys (ES256
// only: RSA key generation would dominate these tests).
func coreConfig(t *testing.T, st store.Store) Config {
	t.Helper()
	keys := token.NewKeyManager(st, newTestSealer(t), token.KeyOptions{Algorithms: []string{"ES256"}})
	if err := keys.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	users, err := identity.NewStaticDirectory(nil)
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := ui.New(ui.Branding{}, "")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Issuer: "https://issuer.example", Store: st, Keys: keys, Users: users,
		Clients: clients.Static{}, UI: renderer, Hasher: coreHasher(),
		CookieSecrets: [][]byte{[]byte("core-test-cookie-secret-0123456789abcdef")},
	}
}

// manualTicks replaces a Server's tickers with channels the test ticks by
// hand, one per job, and records which tickers were stopped.
type manualTicks struct {
	t       *testing.T
	ch      map[string]chan time.Time
	mu      sync.Mutex
	stopped []string
}

func tickByHand(t *testing.T, s *Server) *manualTicks {
	m := &manualTicks{t: t, ch: map[string]chan time.Time{}}
	for _, j := range s.jobs() {
		m.ch[j.name] = make(chan time.Time)
	}
	s.ticker = func(job string, _ time.Duration) (<-chan time.Time, func()) {
		c, ok := m.ch[job]
		if !ok {
			t.Errorf("ticker for unknown job %q", job)
		}
		return c, func() { m.mu.Lock(); m.stopped = append(m.stopped, job); m.mu.Unlock() }
	}
	return m
}

// tick makes job run and returns once that run has finished: the loop
// takes the second tick only when it is back waiting, after the first run
// (the second run may still be under way, which the checks tolerate).
func (m *manualTicks) tick(job string) {
	m.t.Helper()
	for range 2 {
		select {
		case m.ch[job] <- time.Time{}:
		case <-time.After(waitLimit):
			m.t.Fatalf("job %q is not waiting for ticks", job)
		}
	}
}

// start runs s.Run until the test ends, and returns what stops it and
// waits for it to return.
func startRun(t *testing.T, s *Server) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	stop = func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func testSession(id string, expires time.Time) store.Session {
	return store.Session{IDHash: id, Subject: "u", AuthTime: expires.Add(-time.Hour), CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}
}

// TestRunJobs: each background job runs at its ticks, with the server's,
// the watcher's and the key manager's clocks.
func TestRunJobs(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name string
		job  string
		// setup prepares cfg and returns what must hold after one run.
		setup func(t *testing.T, cfg *Config) (check func(t *testing.T))
	}{
		{"expired state is collected", "gc", func(t *testing.T, cfg *Config) func(*testing.T) {
			cfg.Now = func() time.Time { return now }
			for _, s := range []store.Session{testSession("expired", now.Add(-time.Second)), testSession("live", now.Add(time.Hour))} {
				if err := cfg.Store.CreateSession(t.Context(), s); err != nil {
					t.Fatal(err)
				}
			}
			return func(t *testing.T) {
				if _, err := cfg.Store.GetSession(t.Context(), "expired"); err == nil {
					t.Error("the expired session survived garbage collection")
				}
				if _, err := cfg.Store.GetSession(t.Context(), "live"); err != nil {
					t.Errorf("the live session was collected: %v", err)
				}
			}
		}},
		{"revocations are polled", "revocations", func(t *testing.T, cfg *Config) func(*testing.T) {
			cfg.Revocations = revocation.New(cfg.Store, time.Second, func() time.Time { return now })
			if err := cfg.Revocations.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Store.CreateSession(t.Context(), testSession("s", now.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Store.RevokeSession(t.Context(), "s", now); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if !cfg.Revocations.Revoked(store.RevokedSession, "s") {
					t.Error("the revocation was not picked up")
				}
			}
		}},
		{"keys another instance created are loaded", "keys", func(t *testing.T, cfg *Config) func(*testing.T) {
			// A store of their own: coreConfig's keys are sealed with
			// another key.
			cfg.Store = openSQLite(t)
			sealer := newTestSealer(t)
			opts := token.KeyOptions{Algorithms: []string{"ES256"}, Now: func() time.Time { return now }, PrePublication: time.Hour}
			cfg.Keys = token.NewKeyManager(cfg.Store, sealer, opts)
			other := token.NewKeyManager(cfg.Store, sealer, opts)
			for _, m := range []*token.KeyManager{cfg.Keys, other} {
				if err := m.Load(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			before := string(cfg.Keys.JWKS())
			if err := other.Rotate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if got, want := string(cfg.Keys.JWKS()), string(other.JWKS()); got == before || got != want {
					t.Errorf("JWKS after a reload:\n%s\nwant the other instance's\n%s", got, want)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := coreConfig(t, openSQLite(t))
			check := tt.setup(t, &cfg)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ticks := tickByHand(t, s)
			stop := startRun(t, s)
			ticks.tick(tt.job)
			check(t)
			stop()
		})
	}
}

// blockingGC holds a garbage collection pass until its context ends.
type blockingGC struct {
	store.Store
	started  chan struct{}
	returned atomic.Bool
}

func (b *blockingGC) GarbageCollect(ctx context.Context, _ time.Time, _ int) (int, error) {
	close(b.started)
	<-ctx.Done()
	b.returned.Store(true)
	return 0, ctx.Err()
}

// TestRunStops: when its context ends Run stops every job, and returns
// only after a job under way has returned and every ticker is stopped.
func TestRunStops(t *testing.T) {
	cfg := coreConfig(t, openSQLite(t))
	gc := &blockingGC{Store: cfg.Store, started: make(chan struct{})}
	cfg.Store = gc
	cfg.Revocations = revocation.New(gc, time.Second, nil)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ticks := tickByHand(t, s)
	stop := startRun(t, s)
	select {
	case ticks.ch["gc"] <- time.Time{}:
	case <-time.After(waitLimit):
		t.Fatal("the gc job is not waiting for ticks")
	}
	select {
	case <-gc.started:
	case <-time.After(waitLimit):
		t.Fatal("the gc job did not run")
	}
	stop()
	if !gc.returned.Load() {
		t.Error("Run returned while a garbage collection pass was still under way")
	}
	ticks.mu.Lock()
	defer ticks.mu.Unlock()
	slices.Sort(ticks.stopped)
	if want := []string{"gc", "keys", "revocations"}; !slices.Equal(ticks.stopped, want) {
		t.Errorf("tickers stopped: %v, want %v", ticks.stopped, want)
	}
}

// TestGCPassBatches: a pass removes at most batches*batch records, so a
// backlog takes several passes, and never touches live state.
func TestGCPassBatches(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	st := openSQLite(t)
	for i := range 7 {
		if err := st.CreateSession(t.Context(), testSession(fmt.Sprint("expired-", i), now.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateSession(t.Context(), testSession("live", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{6, 1, 0} {
		// SQLite has a single writer, so every pass runs.
		ran, n, err := gcPass(t.Context(), st, clock, 2, 3, nil)
		if err != nil || !ran || n != want {
			t.Fatalf("pass %d: ran=%v removed=%d err=%v, want %d removed", i+1, ran, n, err, want)
		}
	}
	if _, err := st.GetSession(t.Context(), "live"); err != nil {
		t.Fatalf("the live session was collected: %v", err)
	}
}

// TestGCPassOneInstanceAtATime: two instances on one PostgreSQL schema.
// While one collects garbage the other skips its pass and deletes
// nothing; afterwards it collects.
func TestGCPassOneInstanceAtATime(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	a, b := pgtest.Open(t, dsn, schema), pgtest.Open(t, dsn, schema)
	ctx := t.Context()
	now := time.Now()
	clock := func() time.Time { return now }
	if err := a.CreateSession(ctx, testSession("expired", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	ranA, err := a.WithLeaderLock(ctx, gcLock, func(ctx context.Context) error {
		ran, n, err := gcPass(ctx, b, clock, gcBatch, gcBatches, nil)
		if err != nil || ran || n != 0 {
			t.Errorf("b while a collects: ran=%v removed=%d err=%v, want a skipped pass", ran, n, err)
		}
		if _, err := b.GetSession(ctx, "expired"); err != nil {
			t.Errorf("b's skipped pass removed the expired session: %v", err)
		}
		return nil
	})
	if err != nil || !ranA {
		t.Fatalf("a: ran=%v err=%v", ranA, err)
	}
	ran, n, err := gcPass(ctx, b, clock, gcBatch, gcBatches, nil)
	if err != nil || !ran || n != 1 {
		t.Fatalf("b after a finished: ran=%v removed=%d err=%v, want 1 removed", ran, n, err)
	}
}

// TestNewGCInterval: a negative interval is refused, zero takes the default.
func TestNewGCInterval(t *testing.T) {
	cfg := coreConfig(t, openSQLite(t))
	cfg.GCInterval = -time.Minute
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "GCInterval") {
		t.Fatalf("New with a negative GCInterval: %v", err)
	}
	cfg.GCInterval = 0
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.GCInterval != DefaultGCInterval {
		t.Fatalf("GCInterval %v, want the default %v", s.cfg.GCInterval, DefaultGCInterval)
	}
}

// TestGCPassDeletesRetiredKeys: two instances on one PostgreSQL schema
// rotate twice; once the first keys are past their retention a GC pass on
// one instance deletes them, and both, and a restarted one, still sign
// with the same key and publish the same JWKS.
func TestGCPassDeletesRetiredKeys(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	a, b := pgtest.Open(t, dsn, schema), pgtest.Open(t, dsn, schema)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	sealer, err := seal.New(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	opts := token.KeyOptions{Algorithms: []string{"ES256"}, Now: clock,
		RotationInterval: 30 * 24 * time.Hour, PrePublication: 24 * time.Hour, Retention: 2 * time.Hour}
	keysA, keysB := token.NewKeyManager(a, sealer, opts), token.NewKeyManager(b, sealer, opts)
	for _, m := range []*token.KeyManager{keysA, keysB} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := keysA.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(opts.PrePublication + opts.Retention)
	}
	for _, m := range []*token.KeyManager{keysA, keysB} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	jwks := string(keysA.JWKS())
	ran, n, err := gcPass(ctx, b, clock, gcBatch, gcBatches, keysB)
	if err != nil || !ran || n != 1 {
		t.Fatalf("GC pass: ran=%v removed=%d err=%v, want the oldest key removed", ran, n, err)
	}
	listed, err := a.ListSigningKeys(ctx)
	if err != nil || len(listed) != 2 {
		t.Fatalf("keys left: %d (%v), want the retired predecessor and the signing key", len(listed), err)
	}
	restarted := token.NewKeyManager(a, sealer, opts)
	for name, m := range map[string]*token.KeyManager{"a": keysA, "b": keysB, "restarted": restarted} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if string(m.JWKS()) != jwks {
			t.Errorf("%s publishes %s after the GC pass, want %s", name, m.JWKS(), jwks)
		}
	}
	if listed, _ := a.ListSigningKeys(ctx); len(listed) != 2 {
		t.Errorf("reloading after the GC pass created keys: %d stored", len(listed))
	}
}

// TestNewRefusesIDTokenAlgWithoutKey: a configured client whose ID tokens
// no key could sign is refused at start, not at its first token request.
func TestNewRefusesIDTokenAlgWithoutKey(t *testing.T) {
	for _, tc := range []struct {
		alg     string
		wantErr string
	}{
		{"ES256", ""},
		{"", `client "app": id_token_signed_response_alg: there is no RS256 signing key (keys: ES256)`},
		{"EdDSA", `client "app": id_token_signed_response_alg: there is no EdDSA signing key`},
	} {
		cfg := coreConfig(t, openSQLite(t)) // keys: ES256 only
		static, err := clients.NewStatic([]*clients.Client{{ID: "app", Metadata: clients.Metadata{Type: clients.FirstPartyPublic,
			RedirectURIs: []string{"https://app.example/cb"}, IDTokenSigningAlg: tc.alg}}}, SupportedScopes())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Clients = static
		_, err = New(cfg)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("New with a client naming %q: %v, want %q", tc.alg, err, tc.wantErr)
		}
	}
}
