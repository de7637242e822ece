package authserver_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

// opCounter records the database calls the store makes while on.
type opCounter struct {
	mu  sync.Mutex
	on  bool
	ops []string
}

func (c *opCounter) count(rt sqlstore.RoundTrip) {
	c.mu.Lock()
	if c.on {
		c.ops = append(c.ops, rt.Op)
	}
	c.mu.Unlock()
}

// during returns the round trips fn makes.
func (c *opCounter) during(fn func()) (ops []string, roundTrips int) {
	c.mu.Lock()
	c.on, c.ops = true, nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return slices.Clone(c.ops), len(c.ops)
}

// TestStoreRoundTrips counts the database round trips of the hot
// operations, the figure that sets PostgreSQL's throughput against
// SQLite's (docs/storage.md lists them). The limits are today's counts:
// a change that adds a round trip to a hot path fails here and must
// update the documented figure on purpose.
func TestStoreRoundTrips(t *testing.T) {
	var c opCounter
	f := ast.New(t, ast.Options{StoreOptions: []sqlstore.Option{sqlstore.WithRoundTrips(c.count)}})
	b := f.NewBrowser(t)
	public := f.AuthorizeQuery(ast.ThirdPartyPublic, "openid offline_access")
	confidential := f.AuthorizeQuery(ast.FirstParty, "openid offline_access")
	consented := f.AuthorizeQuery(ast.ThirdPartyPublic, "openid")
	// Sign in and consent once; what follows is the steady state.
	f.Exchange(t, ast.ThirdPartyPublic, b.Code(public))
	f.Exchange(t, ast.FirstParty, b.Code(confidential))
	f.Exchange(t, ast.ThirdPartyPublic, b.Code(consented))

	var code string
	var publicRT, confidentialRT string
	tests := []struct {
		name  string
		limit int
		run   func()
	}{
		{"authorize (signed in, consented)", 3, func() { b.Code(consented) }},
		{"setup: offline code", -1, func() { code = b.Code(public) }},
		{"code exchange", 7, func() { publicRT = f.Exchange(t, ast.ThirdPartyPublic, code).RefreshToken }},
		{"refresh, rotating (public client)", 7, func() { publicRT = f.Refresh(t, ast.ThirdPartyPublic, publicRT).RefreshToken }},
		{"setup: confidential code", -1, func() {
			confidentialRT = f.Exchange(t, ast.FirstParty, b.Code(confidential)).RefreshToken
		}},
		{"refresh, sliding (confidential client)", 6, func() { f.Refresh(t, ast.FirstParty, confidentialRT) }},
	}
	var report strings.Builder
	for _, tt := range tests {
		ops, n := c.during(tt.run)
		if tt.limit < 0 {
			continue
		}
		fmt.Fprintf(&report, "%-40s %2d round trips: %s\n", tt.name, n, strings.Join(ops, ", "))
		if n > tt.limit {
			t.Errorf("%s: %d round trips, documented limit %d: %s", tt.name, n, tt.limit, strings.Join(ops, ", "))
		}
	}
	t.Logf("database round trips per operation:\n%s", report.String())
}
