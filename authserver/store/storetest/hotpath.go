package storetest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

// HotPath makes, once each, the store calls of the requests a busy server
// answers most: a login's user lookups, /authorize with a session and a
// consent, the code exchange, both kinds of refresh, and the revocation
// feed's poll. It sets up what they need first, then calls record(true)
// before the hot calls and record(false) after, so a backend's test can
// look at exactly those statements (their plans: no table scans).
func HotPath(t *testing.T, s store.Store, record func(on bool)) {
	t.Helper()
	ctx := t.Context()
	sess := newSession("hot")
	c := newCode("hot")
	g := grantFor(c)
	first := newToken(g, "hot/1", redeemAt)
	consent := store.Consent{Subject: g.Subject, ClientID: g.ClientID, Scopes: g.Scopes, CreatedAt: t0, UpdatedAt: t0}
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	must(t, "SaveConsent", s.SaveConsent(ctx, consent))
	us, hasUsers := s.(store.UserStore)
	u := newUser("hot")
	if hasUsers {
		must(t, "CreateUser", us.CreateUser(ctx, u))
	}

	record(true)
	defer record(false)
	if hasUsers {
		hot(t, "GetUserByUsername", func(ctx context.Context) error { _, err := us.GetUserByUsername(ctx, u.Username); return err })
		hot(t, "GetUserByEmail", func(ctx context.Context) error { _, err := us.GetUserByEmail(ctx, u.Email); return err })
		hot(t, "GetUser", func(ctx context.Context) error { _, err := us.GetUser(ctx, u.ID); return err })
	}
	hot(t, "GetSession", func(ctx context.Context) error { _, err := s.GetSession(ctx, sess.IDHash); return err })
	hot(t, "GetConsent", func(ctx context.Context) error { _, err := s.GetConsent(ctx, g.Subject, g.ClientID); return err })
	hot(t, "CreateAuthCode", func(ctx context.Context) error { return s.CreateAuthCode(ctx, c) })
	hot(t, "GetAuthCode", func(ctx context.Context) error { _, err := s.GetAuthCode(ctx, c.Hash); return err })
	hot(t, "RedeemAuthCode", func(ctx context.Context) error { return s.RedeemAuthCode(ctx, c.Hash, redeemAt, g, &first) })
	hot(t, "GetRefreshToken", func(ctx context.Context) error { _, _, err := s.GetRefreshToken(ctx, first.Hash); return err })
	second := newToken(g, "hot/2", redeemAt.Add(time.Minute))
	hot(t, "RotateRefreshToken", func(ctx context.Context) error {
		_, err := s.RotateRefreshToken(ctx, first.Hash, redeemAt.Add(time.Minute), second)
		return err
	})
	hot(t, "ExtendRefreshToken", func(ctx context.Context) error {
		_, err := s.ExtendRefreshToken(ctx, second.Hash, redeemAt.Add(2*time.Minute), redeemAt.Add(time.Hour))
		return err
	})
	hot(t, "RevokedSince", func(ctx context.Context) error {
		_, err := s.RevokedSince(ctx, t0, redeemAt.Add(2*time.Minute), 100)
		return err
	})
}

func hot(t *testing.T, name string, call func(context.Context) error) {
	t.Helper()
	must(t, name, call(t.Context()))
}

// HotStatements records, for sqlstore.WithRoundTrips, the distinct reads and writes (not BEGIN/COMMIT)
// made while on, with the arguments of their first run.
type HotStatements struct {
	mu   sync.Mutex
	on   bool
	args map[string][]any
}

func (h *HotStatements) Record(rt sqlstore.RoundTrip) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch rt.Op {
	case "begin", "commit", "rollback":
		return
	}
	if h.on && h.args[rt.Query] == nil {
		h.args[rt.Query] = append([]any{}, rt.Args...)
	}
}

func (h *HotStatements) Set(on bool) {
	h.mu.Lock()
	h.on = on
	h.mu.Unlock()
}

func (h *HotStatements) Queries() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	qs := make([]string, 0, len(h.args))
	for q := range h.args {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return qs
}

// NewHotStatements returns an empty recorder, off.
func NewHotStatements() *HotStatements { return &HotStatements{args: map[string][]any{}} }

// Args returns the arguments query first ran with.
func (h *HotStatements) Args(query string) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.args[query]
}

// OneLine is query with its whitespace collapsed, for reports.
func OneLine(query string) string { return strings.Join(strings.Fields(query), " ") }
