package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator: a fixed number of workers, each sending its next
// request as soon as the last is answered (closed loop, as wrk does),
// for a fixed time.

// figures are one measurement: requests per second and latency
// percentiles of the requests that got the expected answer.
type figures struct {
	RPS    float64 `json:"rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	OK     int     `json:"ok"`
	Errors int     `json:"errors"`
}

// request builds the i-th request of a worker; check says whether its
// answer is the expected one (the body has been read).
type request struct {
	build func(worker, i int) *http.Request
	want  int
	// seen, if set, gets each expected answer with its body.
	seen func(resp *http.Response, body []byte)
}

// newClient is an HTTP/1.1 keep-alive client for loopback load:
// redirects are not followed, connections are kept for every worker,
// and "localhost" is always 127.0.0.1 (Caddy binds only that).
func newClient(workers int, local net.Addr) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// run drives req with workers for d and measures.
func run(client *http.Client, workers int, d time.Duration, req request) figures {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for i := 0; time.Now().Before(deadline); i++ {
				r := req.build(w, i)
				if r == nil {
					break // nothing left to send (a finite work list)
				}
				t0 := time.Now()
				resp, err := client.Do(r)
				if err != nil {
					errs.Add(1)
					continue
				}
				var body []byte
				if req.seen != nil {
					body, err = io.ReadAll(resp.Body)
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
				if err != nil || resp.StatusCode != req.want {
					errs.Add(1)
					continue
				}
				if req.seen != nil {
					req.seen(resp, body)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarize(latencies, int(errs.Load()), elapsed)
}

func summarize(latencies []time.Duration, errs int, elapsed time.Duration) figures {
	f := figures{OK: len(latencies), Errors: errs}
	if len(latencies) == 0 || elapsed <= 0 {
		return f
	}
	slices.Sort(latencies)
	f.RPS = float64(len(latencies)) / elapsed.Seconds()
	f.P50ms = ms(latencies[len(latencies)/2])
	f.P99ms = ms(latencies[min(len(latencies)-1, len(latencies)*99/100)])
	return f
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// series are the rounds of one configuration.
type series struct {
	Rounds []figures `json:"rounds"`
}

// Median figures over the rounds.
func (s series) Median() figures {
	var rps, p50, p99 []float64
	for _, r := range s.Rounds {
		rps, p50, p99 = append(rps, r.RPS), append(p50, r.P50ms), append(p99, r.P99ms)
	}
	return figures{RPS: median(rps), P50ms: median(p50), P99ms: median(p99)}
}

// ratio is the median over rounds of a.RPS / b.RPS, round by round (the
// rounds of both were interleaved, so each pair saw the same machine).
func ratio(a, b series) float64 {
	var rs []float64
	for i := range min(len(a.Rounds), len(b.Rounds)) {
		if b.Rounds[i].RPS > 0 {
			rs = append(rs, a.Rounds[i].RPS/b.Rounds[i].RPS)
		}
	}
	return median(rs)
}

// p99Ratio is the median over rounds of a's p99 over b's.
func p99Ratio(a, b series) float64 {
	var rs []float64
	for i := range min(len(a.Rounds), len(b.Rounds)) {
		if b.Rounds[i].P99ms > 0 {
			rs = append(rs, a.Rounds[i].P99ms/b.Rounds[i].P99ms)
		}
	}
	return median(rs)
}
