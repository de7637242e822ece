package gate

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// BenchmarkGateUnderLoginStorm: gated requests (session cookie, in this
// process) while 50 browsers post wrong passwords for unknown users,
// each costing a full-price argon2id hash, as fast as they are answered.
// Compare ns/op of "quiet" with "storm" (the default hashing limits: at
// most GOMAXPROCS-1 hashes, a CPU share on one core, a queue answered
// "busy, retry" beyond a second) and "storm-unbounded" (one hash per
// core and an endless queue, as before issue 19):
//
//	go test ./authserver/gate -run '^$' -bench BenchmarkGateUnderLoginStorm -benchtime 2s
//
// hashed/s and busy/s say how many storm logins were hashed and refused
// unhashed. Login throttling is off, the worst case: every guess that
// gets a slot is hashed.
func BenchmarkGateUnderLoginStorm(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name   string
		storm  bool
		limits identity.HasherLimits
	}{
		{"quiet", false, identity.HasherLimits{}},
		{"storm", true, identity.HasherLimits{}},
		{"storm-unbounded", true, identity.HasherLimits{Concurrency: procs, CPUShare: 1, MaxQueue: 1 << 20, QueueWait: 1 << 62}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hasher := identity.NewHasherWithLimits(tc.limits)
			f := ast.New(b, ast.Options{Configure: func(c *authserver.Config) { c.Hasher = hasher }})
			s := newSite(b, localGate(b, f, Config{}))
			if resp := s.signIn(f.NewBrowser(b), "/"); resp.StatusCode != http.StatusFound {
				b.Fatalf("sign-in through the gate: %d", resp.StatusCode)
			}
			var hashed, busy atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if tc.storm {
				for i := range 50 {
					guesser := f.NewBrowser(b)
					guesser.Username, guesser.Password = fmt.Sprintf("nobody-%d", i), "guess"
					page := guesser.Follow(guesser.Get("/account/apps"))
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							switch guesser.Login(page).Code {
							case http.StatusUnauthorized:
								hashed.Add(1)
							case http.StatusServiceUnavailable:
								busy.Add(1)
							}
						}
					})
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodGet, gateOrigin+"/", nil)
					r.Header.Set("Accept", "text/html")
					s.j.add(r)
					if s.g.Handle(httptest.NewRecorder(), r, gateOrigin) == nil {
						b.Error("the gate refused a signed-in browser")
						return
					}
				}
			})
			secs := b.Elapsed().Seconds()
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(hashed.Load())/secs, "hashed/s")
			b.ReportMetric(float64(busy.Load())/secs, "busy/s")
		})
	}
}
