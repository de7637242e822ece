package authserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// HealthCheck is one check of a Health report.
type HealthCheck struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says what is wrong, for the operator; never a secret.
	Detail string `json:"detail,omitempty"`
}

// Health is the server's readiness: it can serve only when every check is
// OK.
type Health struct {
	OK     bool          `json:"ok"`
	Checks []HealthCheck `json:"checks"`
}

// healthTimeout bounds the store check: a load balancer's probe wants an
// answer quickly, and a store slower than this is as good as down.
const healthTimeout = 2 * time.Second

// Health checks that the store answers, that every signing algorithm has
// a key that signs now, and that the revocation feed (when configured)
// was read recently: within three poll intervals.
func (s *Server) Health(ctx context.Context) Health {
	var h Health
	add := func(name string, err error) {
		c := HealthCheck{Name: name, OK: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		h.Checks = append(h.Checks, c)
	}
	add("store", s.pingStore(ctx))
	add("signing_keys", s.cfg.Keys.Ready())
	if w := s.cfg.Revocations; w != nil {
		var err error
		last, max := w.LastSync(), 3*w.Interval()
		switch age := s.now().Sub(last); {
		case last.IsZero():
			err = errors.New("never read")
		case age > max:
			err = fmt.Errorf("last read %s ago (more than %s)", age.Round(time.Second), max)
		}
		add("revocation_feed", err)
	}
	h.OK = true
	for _, c := range h.Checks {
		h.OK = h.OK && c.OK
	}
	return h
}

func (s *Server) pingStore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if p, ok := s.cfg.Store.(store.Pinger); ok {
		return p.Ping(ctx)
	}
	// Any read that reaches the database will do; not found is an answer.
	if _, err := s.cfg.Store.GetSession(ctx, "health-check"); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// checkHealthPath accepts an absolute path of plain segments.
func checkHealthPath(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{}% ") || strings.Contains(p, "//") || strings.Contains(p, "/.") {
		return fmt.Errorf("authserver: HealthPath %q must be an absolute path such as /healthz", p)
	}
	return nil
}

// handleHealthz answers a load balancer's probe: 200 when the server can
// serve, 503 when not, and nothing more (the checks' details are for
// operators, on the admin endpoint).
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if !s.Health(r.Context()).OK {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "unavailable\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
