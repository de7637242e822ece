package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadUnderTraffic: configuration reloads through the admin API
// (what `caddy reload` does), while a signed-in browser uses the gated
// site, an API client calls it with a Bearer token and a confidential
// client refreshes its token, fail no request, sign nobody out, and keep
// the brute-force defence's lock.
func TestReloadUnderTraffic(t *testing.T) {
	echo := newEcho(t)
	adminPort := freePort(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), adminPort: adminPort, upstream: echo.addr(),
		extraGatehouse: []string{"login_throttle {\n\t\t\tmax_failures 3\n\t\t\tmax_failures_per_ip 100\n\t\t\tlockout 5m\n\t\t\tbackoff off\n\t\t}"}})
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	// The traffic's credentials: a gate session, a Bearer token for the
	// gated site, a refresh token.
	b := in.newBrowser()
	if res := b.authorize(in.gate+"/start", ""); !res.sawLogin {
		t.Fatal("the gate did not send the browser to sign in")
	}
	_, bearer := in.gateToken(t, demoCLI, "openid")
	web := in.tokensFor(t, in.newBrowser(), demoWeb, "openid", "offline_access")

	// Then alice is locked out by three wrong passwords.
	mallory := in.newBrowser()
	form := in.loginPage(t, mallory)
	for i := range 3 {
		if a := mallory.tryLogin(form, "alice", "guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %q", i+1, a.status, a.message)
		}
	}
	aliceLocked := func(when string) {
		t.Helper()
		x := in.newBrowser()
		if a := x.tryLogin(in.loginPage(t, x), "alice", alicePassword); a.status != http.StatusTooManyRequests {
			t.Errorf("alice with the right password %s: %d; want 429, still locked", when, a.status)
		}
	}
	aliceLocked("before the reloads")

	// Each worker repeats one kind of request until stopped (bounded),
	// counting successes and recording every failure.
	var failures []string
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	noRedirects := func(c *http.Client) *http.Client {
		cc := *c
		cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &cc
	}
	type worker struct {
		name string
		do   func() (*http.Response, error)
		ok   atomic.Int64
	}
	workers := []*worker{
		{name: "gate session", do: func() (*http.Response, error) {
			return noRedirects(b.client).Get(in.gate + "/reports")
		}},
		{name: "gate bearer", do: func() (*http.Response, error) {
			req, _ := http.NewRequest(http.MethodGet, in.gate+"/api/data", nil)
			for k, v := range bearer {
				req.Header.Set(k, v)
			}
			return in.client.Do(req)
		}},
		{name: "refresh", do: func() (*http.Response, error) {
			return in.client.PostForm(in.issuer+"/token", url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {web.RefreshToken}, "client_id": {demoWeb.id}, "client_secret": {demoWeb.secret}})
		}},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for range 20000 { // bounded; stop ends it long before
				select {
				case <-stop:
					return
				default:
				}
				resp, err := w.do()
				if err != nil {
					fail("%s: %v", w.name, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail("%s: HTTP %d %.200s", w.name, resp.StatusCode, body)
					continue
				}
				w.ok.Add(1)
			}
		})
	}
	// progress waits until every worker has had n more requests succeed.
	progress := func(n int64) {
		t.Helper()
		start := make([]int64, len(workers))
		for i, w := range workers {
			start[i] = w.ok.Load()
		}
		for range 400 { // at most 20 s
			done := true
			for i, w := range workers {
				done = done && w.ok.Load() >= start[i]+n
			}
			if done {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("traffic stalled: %v", failures)
	}

	progress(5)
	cfg := call(t, http.DefaultClient, http.MethodGet, admin+"/config/", nil, nil)
	var doc map[string]any
	if err := json.Unmarshal(cfg.body, &doc); err != nil {
		t.Fatal(err)
	}
	const reloads = 4
	for i := range reloads {
		// A changed configuration each time, so each load is a reload.
		doc["apps"].(map[string]any)["gatehouse"].(map[string]any)["revocation_poll_interval"] = fmt.Sprintf("%ds", 3+i)
		if r := call(t, http.DefaultClient, http.MethodPost, admin+"/load", doc, nil); r.status != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i+1, r.status, r.body)
		}
		progress(5)
	}
	close(stop)
	wg.Wait()

	running := call(t, http.DefaultClient, http.MethodGet, admin+"/config/apps/gatehouse/revocation_poll_interval", nil, nil)
	if got := strings.TrimSpace(string(running.body)); got != fmt.Sprintf(`"%ds"`, 3+reloads-1) {
		t.Errorf("the running configuration has revocation_poll_interval %s: the reloads did not take", got)
	}
	if len(failures) > 0 {
		t.Errorf("requests failed during the reloads:\n%s", strings.Join(failures, "\n"))
	}
	for _, w := range workers {
		t.Logf("%s: %d requests succeeded across %d reloads", w.name, w.ok.Load(), reloads)
		if w.ok.Load() < 5*(reloads+1) {
			t.Errorf("%s: only %d requests succeeded", w.name, w.ok.Load())
		}
	}
	// The browser is still signed in at the gate and the lock holds.
	if p := b.get(in.gate + "/after"); decodeEcho(t, p).Path != "/after" {
		t.Errorf("the gate session after the reloads: %d %s", p.status, p.url)
	}
	aliceLocked("after the reloads")
}
