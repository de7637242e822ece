package caddymodule

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

// metricsNamespace prefixes every metric: gatehouse_...
const metricsNamespace = "gatehouse"

// gatehouseMetrics are Gatehouse's Prometheus metrics (docs/operations.md).
// They are created once per process and registered in the metrics
// registry of every configuration Caddy loads (the one its admin endpoint
// serves at /metrics), so counters keep counting across config reloads,
// as the stores, throttle state and password hasher they describe do.
//
// No label takes a value a request chooses: results, grant types, client
// types and throttle kinds are fixed sets in the core; sites are those
// configured. Never user ids, client ids or paths.
type gatehouseMetrics struct {
	logins         *prometheus.CounterVec
	authorizations *prometheus.CounterVec
	tokens         *prometheus.CounterVec
	revocations    *prometheus.CounterVec
	refreshReuse   prometheus.Counter
	codeReplays    prometheus.Counter
	consents       *prometheus.CounterVec
	registrations  *prometheus.CounterVec
	throttled      *prometheus.CounterVec
	gateDecisions  *prometheus.CounterVec
	storeOps       *prometheus.HistogramVec
	hashWait       *prometheus.HistogramVec
}

var metrics = sync.OnceValue(newGatehouseMetrics)

func newGatehouseMetrics() *gatehouseMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	}
	m := &gatehouseMetrics{
		logins:         counter("logins_total", "Sign-in attempts by method and result (success, failure, throttled, busy).", "method", "result"),
		authorizations: counter("authorization_requests_total", "Decisions of the authorization endpoint by outcome (code_issued, login_page, consent_page, error).", "outcome"),
		tokens:         counter("tokens_issued_total", "Successful token requests by grant type and client type.", "grant_type", "client_type"),
		revocations:    counter("tokens_revoked_total", "Tokens revoked at the revocation endpoint, by token type.", "token_type"),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "refresh_token_reuse_total",
			Help: "Rotated refresh tokens presented again; each revokes its grant."}),
		codeReplays: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "code_replays_total",
			Help: "Authorization codes redeemed more than once; each revokes what the code issued."}),
		consents:      counter("consents_total", "Users' consent decisions by action (granted, denied, revoked).", "action"),
		registrations: counter("client_registrations_total", "Dynamic client registration changes by action (created, updated, deleted).", "action"),
		throttled:     counter("throttle_refusals_total", "Requests refused by a brute-force or rate defence, by kind (login, client_auth, registration).", "kind"),
		gateDecisions: counter("gate_decisions_total", "authgate answers by site and outcome (allowed, redirected, unauthorized, forbidden, misdirected, unavailable, own_endpoint, other).", "site", "outcome"),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "store_operation_duration_seconds",
			Help:    "Database calls by operation: a statement as verb and table (\"select auth_codes\"), or a whole transaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"operation"}),
		hashWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "password_hash_queue_wait_seconds",
			Help:    "How long password hashes waited for a slot, by result (granted, refused).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"result"}),
	}
	return m
}

func (m *gatehouseMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.logins, m.authorizations, m.tokens, m.revocations, m.refreshReuse, m.codeReplays,
		m.consents, m.registrations, m.throttled, m.gateDecisions, m.storeOps, m.hashWait}
}

// registerMetrics puts Gatehouse's metrics in the registry of the
// configuration being loaded. Both the app and each gate call it (a gate
// may run without the app); a second registration in one registry is not
// an error.
func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range metrics().collectors() {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return errorf("metrics: %v", err)
			}
		}
	}
	return nil
}

// Observe counts a core event (authserver.Observer).
func (m *gatehouseMetrics) Observe(_ context.Context, e authserver.Event) {
	switch e.Type {
	case authserver.EventLogin:
		m.logins.WithLabelValues(e.Method, e.Result).Inc()
	case authserver.EventAuthorization:
		m.authorizations.WithLabelValues(e.Result).Inc()
	case authserver.EventTokenIssued:
		m.tokens.WithLabelValues(e.GrantType, e.ClientType).Inc()
	case authserver.EventTokenRevoked:
		m.revocations.WithLabelValues(e.Result).Inc()
	case authserver.EventRefreshReuse:
		m.refreshReuse.Inc()
	case authserver.EventCodeReplay:
		m.codeReplays.Inc()
	case authserver.EventConsent:
		m.consents.WithLabelValues(e.Result).Inc()
	case authserver.EventRegistration:
		m.registrations.WithLabelValues(e.Result).Inc()
	case authserver.EventThrottled:
		m.throttled.WithLabelValues(e.Kind).Inc()
	}
}

// timeStoreOp is the stores' sqlstore.OpTimer.
func (m *gatehouseMetrics) timeStoreOp(op string) func() {
	start := time.Now()
	return func() { m.storeOps.WithLabelValues(op).Observe(time.Since(start).Seconds()) }
}

// observeHashWait is the password hasher's identity.WaitObserver.
func (m *gatehouseMetrics) observeHashWait(wait time.Duration, granted bool) {
	result := "granted"
	if !granted {
		result = "refused"
	}
	m.hashWait.WithLabelValues(result).Observe(wait.Seconds())
}

// Interface guards
var _ authserver.Observer = (*gatehouseMetrics)(nil)

// registerRevocationFeedAge exports how long ago this configuration's
// revocation feed was last read: the lag with which gates and caches here
// see revocations made on other instances. Registered per configuration
// (the watcher is the app's).
func (a *App) registerRevocationFeedAge(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil || a.revocations == nil {
		return nil
	}
	w := a.revocations
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "revocation_feed_age_seconds",
		Help: "Seconds since the revocation feed was last read successfully (its poll interval is revocation_poll_interval)."},
		func() float64 {
			last := w.LastSync()
			if last.IsZero() {
				return 0
			}
			return time.Since(last).Seconds()
		})
	if err := reg.Register(age); err != nil {
		return errorf("metrics: %v", err)
	}
	return nil
}
