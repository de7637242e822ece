package caddymodule

import (
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/authserver/gate"
)

// Gate decision outcomes (gatehouse_gate_decisions_total).
const (
	gateAllowed     = "allowed"
	gateRedirected  = "redirected"
	gateUnauth      = "unauthorized"
	gateForbidden   = "forbidden"
	gateMisdirected = "misdirected"
	gateUnavailable = "unavailable"
	gateOwnEndpoint = "own_endpoint"
	gateOther       = "other"
)

// gateOutcome names what the gate answered when it did not let the
// request through.
func gateOutcome(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return gateUnauth
	case status == http.StatusForbidden:
		return gateForbidden
	case status == http.StatusMisdirectedRequest:
		return gateMisdirected
	case status == http.StatusServiceUnavailable:
		return gateUnavailable
	case status == http.StatusFound || status == http.StatusSeeOther:
		return gateRedirected
	case status >= 200 && status < 300:
		// The callback page, the metadata document, the stylesheet.
		return gateOwnEndpoint
	default:
		return gateOther
	}
}

// statusRecorder remembers the status the gate wrote. Only the gate's own
// answers go through it; the handlers after the gate get the original
// writer, with all its interfaces (flushing, hijacking).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// recorders recycles statusRecorders: the gate holds one only while it
// decides, so a request let through allocates none.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

func getRecorder(w http.ResponseWriter) *statusRecorder {
	rec := recorders.Get().(*statusRecorder)
	rec.ResponseWriter, rec.status = w, 0
	return rec
}

func putRecorder(rec *statusRecorder) {
	rec.ResponseWriter = nil
	recorders.Put(rec)
}

// countGateDecision counts one decision of the gate of site.
func countGateDecision(site, outcome string) {
	metrics().gateDecisions.WithLabelValues(site, outcome).Inc()
}

// gateCaches exports the sizes and hit counts of the caches of every gate
// of one configuration, labelled by site and cache (token, session).
// Gates of the same site are summed.
type gateCaches struct {
	mu    sync.Mutex
	gates map[*gate.Gate]string // gate -> site
}

var (
	gateCacheHitsDesc = prometheus.NewDesc(metricsNamespace+"_gate_cache_hits_total",
		"Lookups answered from a gate's cache of verified credentials.", []string{"site", "cache"}, nil)
	gateCacheMissesDesc = prometheus.NewDesc(metricsNamespace+"_gate_cache_misses_total",
		"Lookups a gate's cache could not answer (the credential was verified afresh).", []string{"site", "cache"}, nil)
	gateCacheEntriesDesc = prometheus.NewDesc(metricsNamespace+"_gate_cache_entries",
		"Credentials a gate's cache holds now.", []string{"site", "cache"}, nil)
	gateCacheCapacityDesc = prometheus.NewDesc(metricsNamespace+"_gate_cache_capacity",
		"The bound of a gate's cache (token_cache_size, session_cache_size).", []string{"site", "cache"}, nil)
)

// gateCachesByRegistry holds the collector registered in each loaded
// configuration's registry; a gate's Cleanup takes it out again.
var (
	gateCachesMu         sync.Mutex
	gateCachesByRegistry = map[*prometheus.Registry]*gateCaches{}
)

// addGateCaches adds g's caches to the metrics of the configuration
// being loaded.
func addGateCaches(ctx caddy.Context, g *gate.Gate, site string) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	gateCachesMu.Lock()
	defer gateCachesMu.Unlock()
	c := gateCachesByRegistry[reg]
	if c == nil {
		c = &gateCaches{gates: map[*gate.Gate]string{}}
		if err := reg.Register(c); err != nil {
			return errorf("metrics: %v", err)
		}
		gateCachesByRegistry[reg] = c
	}
	c.mu.Lock()
	c.gates[g] = site
	c.mu.Unlock()
	return nil
}

// removeGateCaches forgets g (its configuration is unloaded).
func removeGateCaches(g *gate.Gate) {
	gateCachesMu.Lock()
	defer gateCachesMu.Unlock()
	for reg, c := range gateCachesByRegistry {
		c.mu.Lock()
		delete(c.gates, g)
		empty := len(c.gates) == 0
		c.mu.Unlock()
		if empty {
			delete(gateCachesByRegistry, reg)
		}
	}
}

// Describe implements prometheus.Collector.
func (c *gateCaches) Describe(ch chan<- *prometheus.Desc) {
	ch <- gateCacheHitsDesc
	ch <- gateCacheMissesDesc
	ch <- gateCacheEntriesDesc
	ch <- gateCacheCapacityDesc
}

// Collect implements prometheus.Collector.
func (c *gateCaches) Collect(ch chan<- prometheus.Metric) {
	type key struct{ site, cache string }
	sums := map[key]gate.CacheStats{}
	c.mu.Lock()
	for g, site := range c.gates {
		for cache, st := range map[string]gate.CacheStats{"token": g.TokenCacheStats(), "session": g.SessionCacheStats()} {
			k := key{site, cache}
			sum := sums[k]
			sum.Hits += st.Hits
			sum.Misses += st.Misses
			sum.Entries += st.Entries
			sum.Capacity += st.Capacity
			sums[k] = sum
		}
	}
	c.mu.Unlock()
	for k, st := range sums {
		ch <- prometheus.MustNewConstMetric(gateCacheHitsDesc, prometheus.CounterValue, float64(st.Hits), k.site, k.cache)
		ch <- prometheus.MustNewConstMetric(gateCacheMissesDesc, prometheus.CounterValue, float64(st.Misses), k.site, k.cache)
		ch <- prometheus.MustNewConstMetric(gateCacheEntriesDesc, prometheus.GaugeValue, float64(st.Entries), k.site, k.cache)
		ch <- prometheus.MustNewConstMetric(gateCacheCapacityDesc, prometheus.GaugeValue, float64(st.Capacity), k.site, k.cache)
	}
}

// provisionMetrics registers the gate's metrics; site labels them.
func (h *AuthGate) provisionMetrics(ctx caddy.Context) error {
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	h.site = h.origins.list[0]
	// The allowed path is the hot one: its counter is found once here,
	// not by label lookup per request.
	h.allowedCount = metrics().gateDecisions.WithLabelValues(h.site, gateAllowed)
	return addGateCaches(ctx, h.gate, h.site)
}

// Cleanup takes the gate's caches out of the metrics.
func (h *AuthGate) Cleanup() error {
	if h.gate != nil {
		removeGateCaches(h.gate)
	}
	return nil
}

// Interface guards
var (
	_ prometheus.Collector = (*gateCaches)(nil)
	_ caddy.CleanerUpper   = (*AuthGate)(nil)
)
