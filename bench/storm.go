package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The login storm: workers posting wrong passwords for names nobody has
// (each costs a full argon2id hash, the worst case), each from its own
// loopback address, while gated traffic is measured; and how long a
// correct login takes meanwhile, from a browser that signed in before
// (device cookie) and from a new one.

type stormFigures struct {
	Workers         int     `json:"workers"`
	Quiet           figures `json:"gate_cookie_quiet"`
	Storm           figures `json:"gate_cookie_storm"`
	RPSRatio        float64 `json:"rps_storm_vs_quiet"`
	P99Ratio        float64 `json:"p99_storm_vs_quiet"`
	LoginsAnswered  int     `json:"storm_logins_answered"`
	LoginsRefused   int     `json:"storm_logins_busy_or_throttled"`
	TrustedLoginMS  float64 `json:"trusted_device_login_ms"`
	TrustedLoginOK  bool    `json:"trusted_device_login_ok"`
	NewLoginMS      float64 `json:"new_browser_login_ms"`
	NewLoginStatus  int     `json:"new_browser_login_status"`
	CaddyCPUPercent float64 `json:"caddy_cpu_percent_during_storm"`
}

// loginPage opens a login form for a new browser (dialling from local)
// and returns the browser and the form's fields and URL.
func loginPage(issuer string, local net.Addr, jarFrom *browser) (*browser, url.Values, string, error) {
	jar, _ := cookiejar.New(nil)
	b := &browser{client: newClient(1, local), jar: jar}
	b.client.Jar = jar
	if jarFrom != nil { // carry the device cookie only
		iu, _ := url.Parse(issuer)
		for _, c := range jarFrom.jar.Cookies(iu) {
			if strings.Contains(c.Name, "device") {
				jar.SetCookies(iu, []*http.Cookie{c})
			}
		}
	}
	resp, body, err := b.get(authorizeURL(issuer, benchClient, "openid", ""), "text/html")
	if err != nil {
		return nil, nil, "", err
	}
	if resp, body, err = b.follow(resp, body, benchRedirect); err != nil {
		return nil, nil, "", err
	}
	if !strings.Contains(body, `name="password"`) {
		return nil, nil, "", fmt.Errorf("no login form: %d", resp.StatusCode)
	}
	return b, formFields(body), resp.Request.URL.Scheme + "://" + resp.Request.URL.Host + resp.Request.URL.Path, nil
}

// timedLogin posts a login and reports how long until the answer, and
// the answer's status.
func timedLogin(b *browser, form url.Values, action, username, password string) (time.Duration, int, error) {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("username", username)
	f.Set("password", password)
	req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	t0 := time.Now()
	resp, _, err := b.do(req)
	if err != nil {
		return 0, 0, err
	}
	return time.Since(t0), resp.StatusCode, nil
}

// loginStorm measures gated cookie traffic quiet and under a storm of
// workers, for d each.
func loginStorm(c *child, p ports, signedIn *browser, gateCookie string, workers, stormWorkers int, d time.Duration) (stormFigures, error) {
	out := stormFigures{Workers: stormWorkers}
	gated := request{want: http.StatusOK, build: func(int, int) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, p.gateURL()+"/", nil)
		r.Header.Set("Cookie", gateCookie)
		return r
	}}
	load := newClient(workers, nil)
	defer load.CloseIdleConnections()
	out.Quiet = run(load, workers, d, gated)

	// The storm's browsers, each from an address of its own.
	type guesser struct {
		b      *browser
		form   url.Values
		action string
	}
	guessers := make([]guesser, stormWorkers)
	for i := range guessers {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 1+byte(i/250), 2+byte(i%250))}
		b, form, action, err := loginPage(p.issuerURL(), local, nil)
		if err != nil {
			return out, fmt.Errorf("storm worker %d: %w", i, err)
		}
		guessers[i] = guesser{b, form, action}
		defer b.client.CloseIdleConnections()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var answered, refused atomic.Int64
	var wg sync.WaitGroup
	for i, g := range guessers {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				_, status, err := timedLogin(g.b, g.form, g.action, fmt.Sprintf("nobody-%d-%d", i, n), "wrong")
				switch {
				case err != nil:
				case status == http.StatusUnauthorized:
					answered.Add(1)
				default:
					refused.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Second) // let the storm build up
	cpu0, t0 := c.cpuSeconds(), time.Now()
	var logins sync.WaitGroup
	logins.Go(func() {
		time.Sleep(d / 3)
		b, form, action, err := loginPage(p.issuerURL(), nil, signedIn)
		if err != nil {
			return
		}
		defer b.client.CloseIdleConnections()
		took, status, err := timedLogin(b, form, action, benchUser, benchPassword)
		out.TrustedLoginMS, out.TrustedLoginOK = ms(took), err == nil && status/100 == 3
	})
	logins.Go(func() {
		time.Sleep(2 * d / 3)
		b, form, action, err := loginPage(p.issuerURL(), nil, nil)
		if err != nil {
			return
		}
		defer b.client.CloseIdleConnections()
		took, status, err := timedLogin(b, form, action, benchUser, benchPassword)
		if err == nil {
			out.NewLoginMS, out.NewLoginStatus = ms(took), status
		}
	})
	out.Storm = run(load, workers, d, gated)
	out.CaddyCPUPercent = 100 * (c.cpuSeconds() - cpu0) / time.Since(t0).Seconds()
	logins.Wait()
	cancel()
	wg.Wait()
	out.LoginsAnswered, out.LoginsRefused = int(answered.Load()), int(refused.Load())
	if out.Quiet.RPS > 0 {
		out.RPSRatio = out.Storm.RPS / out.Quiet.RPS
	}
	if out.Quiet.P99ms > 0 {
		out.P99Ratio = out.Storm.P99ms / out.Quiet.P99ms
	}
	return out, nil
}
