package authserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// healthOf returns the report's checks as name -> detail ("" when OK).
func healthOf(t *testing.T, h authserver.Health) map[string]string {
	t.Helper()
	out := map[string]string{}
	ok := true
	for _, c := range h.Checks {
		if c.OK != (c.Detail == "") {
			t.Errorf("check %s: ok %v with detail %q", c.Name, c.OK, c.Detail)
		}
		out[c.Name] = c.Detail
		ok = ok && c.OK
	}
	if h.OK != ok {
		t.Errorf("report ok %v, checks say %v", h.OK, ok)
	}
	return out
}

// TestHealth: each check fails for its own reason: a revocation feed
// never read or read too long ago, and a store that does not answer.
func TestHealth(t *testing.T) {
	f := ast.New(t, ast.Options{})
	ctx := context.Background()

	got := healthOf(t, f.Server.Health(ctx))
	if got["revocation_feed"] != "never read" || got["store"] != "" || got["signing_keys"] != "" {
		t.Errorf("before the first poll: %v", got)
	}
	if err := f.Revocations.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if h := f.Server.Health(ctx); !h.OK {
		t.Errorf("after a poll: %+v", h)
	}
	if len(f.Server.Health(ctx).Checks) != 3 {
		t.Errorf("checks: %+v", f.Server.Health(ctx).Checks)
	}

	// The fixture polls every second: three seconds without a poll is
	// still fresh, more is not.
	f.Clock.Advance(3 * time.Second)
	if h := f.Server.Health(ctx); !h.OK {
		t.Errorf("3 s after a poll: %+v", h)
	}
	f.Clock.Advance(time.Second)
	if got := healthOf(t, f.Server.Health(ctx)); !strings.HasPrefix(got["revocation_feed"], "last read 4s ago") {
		t.Errorf("4 s after a poll: %v", got)
	}
	if err := f.Revocations.Poll(ctx); err != nil {
		t.Fatal(err)
	}

	// A closed store does not answer.
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	h := f.Server.Health(ctx)
	got = healthOf(t, h)
	if h.OK || got["store"] == "" || got["signing_keys"] != "" || got["revocation_feed"] != "" {
		t.Errorf("with the store closed: %+v", h)
	}
}

// TestHealthPath: the configured path answers 200 "ok" or, with the store
// closed, 503, with no detail either way; bad or taken paths are refused.
func TestHealthPath(t *testing.T) {
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.HealthPath = "/healthz" }})
	if err := f.Revocations.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := f.NewBrowser(t)
	res := b.Get("/healthz")
	if res.Code != http.StatusOK || res.Body != "ok\n" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("healthy: %s", res)
	}
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	res = b.Get("/healthz")
	if res.Code != http.StatusServiceUnavailable || res.Body != "unavailable\n" {
		t.Errorf("store closed: %s", res)
	}
	for _, p := range []string{"healthz", "/a?b", "/a/../b", "//x", "/token"} {
		cfg := f.Config
		cfg.HealthPath = p
		if _, err := authserver.New(cfg); err == nil {
			t.Errorf("HealthPath %q accepted", p)
		}
	}
}
