package gate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// introspectingProvider is a provider whose tokens are opaque: the gate
// asks it about each one (RFC 7662).
type introspectingProvider struct {
	fakeProvider
	mu      sync.Mutex
	answers map[string]*Introspection
	calls   map[string]int
}

func (p *introspectingProvider) Introspect(_ context.Context, raw string) (*Introspection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[raw]++
	if raw == "provider-down" {
		return nil, errors.New("introspection endpoint unreachable")
	}
	if a, ok := p.answers[raw]; ok {
		return a, nil
	}
	return &Introspection{Active: false}, nil
}

func (p *introspectingProvider) callsFor(raw string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[raw]
}

// TestIntrospectedBearer: with Introspect, the provider's answer decides,
// and the gate still checks what RFC 7662 §4 leaves to the resource
// server: audience, validity period, token type, subject. Answers are
// cached, refusals briefly. A provider that does not answer gets the
// caller a 503, not a refusal.
func TestIntrospectedBearer(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := now
	good := &Introspection{Active: true, Subject: "alice", Username: "alice", Scope: "read write", ClientID: "app",
		Audience: token.Audience{testOrigin}, Expiry: now.Add(time.Hour).Unix(), TokenType: "Bearer", Issuer: "https://idp.example"}
	with := func(edit func(*Introspection)) *Introspection { c := *good; edit(&c); return &c }
	p := &introspectingProvider{calls: map[string]int{}, answers: map[string]*Introspection{
		"good":          good,
		"no-audience":   with(func(i *Introspection) { i.Audience = nil }),
		"other-aud":     with(func(i *Introspection) { i.Audience = token.Audience{"https://other.example"} }),
		"expired":       with(func(i *Introspection) { i.Expiry = now.Unix() }),
		"not-yet":       with(func(i *Introspection) { i.NotBefore = now.Add(time.Minute).Unix() }),
		"refresh-token": with(func(i *Introspection) { i.TokenType = "refresh_token" }),
		"no-subject":    with(func(i *Introspection) { i.Subject = "" }),
	}}
	g := newTestGate(t, p, Config{Introspect: true, Now: func() time.Time { return clock }})
	call := func(raw string) (*http.Response, *Identity) {
		r := httptest.NewRequest(http.MethodGet, testOrigin+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+raw)
		return serve(g, new(jar), r)
	}
	tests := []struct {
		raw  string
		pass bool
	}{
		{"good", true}, {"no-audience", true}, {"other-aud", false}, {"expired", false}, {"not-yet", false},
		{"refresh-token", false}, {"no-subject", false}, {"inactive", false}, {"provider-down", false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			resp, id := call(tc.raw)
			if (id != nil) != tc.pass {
				t.Fatalf("passed %v, want %v (%d)", id != nil, tc.pass, resp.StatusCode)
			}
			switch {
			case tc.raw == "provider-down":
				// Not refused, only not checkable now: 503 and try again,
				// never a 401 that makes the client drop a good token.
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
					resp.Header.Get("WWW-Authenticate") != "" || !strings.Contains(readAll(t, resp), "temporarily_unavailable") {
					t.Errorf("provider down: %d, Retry-After %q, WWW-Authenticate %q", resp.StatusCode,
						resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"))
				}
			case !tc.pass && (resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token")):
				t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if tc.pass && (id.Subject != "alice" || !id.HasScope("write") || id.Source != SourceBearer) {
				t.Errorf("identity %+v", id)
			}
		})
	}

	// Cached: a positive answer for up to 30 s, a refusal for 10 s.
	call("good")
	call("inactive")
	if p.callsFor("good") != 1 || p.callsFor("inactive") != 1 {
		t.Errorf("answers not cached: %d and %d calls", p.callsFor("good"), p.callsFor("inactive"))
	}
	clock = clock.Add(11 * time.Second)
	call("inactive")
	if p.callsFor("inactive") != 2 {
		t.Errorf("a refusal cached for more than 10 s")
	}
	clock = clock.Add(20 * time.Second)
	call("good")
	if p.callsFor("good") != 2 {
		t.Errorf("an answer cached for more than 30 s")
	}
}
