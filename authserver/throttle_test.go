package authserver

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// The counters themselves are tested in package throttle; here, what the
// server adds: the wait in words and which clients are counted.

func TestHumanWaitAndRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration][2]string{
		300 * time.Millisecond:           {"a second", "1"},
		1500 * time.Millisecond:          {"2 seconds", "2"},
		time.Minute:                      {"60 seconds", "60"},
		14*time.Minute + time.Second:     {"15 minutes", "841"},
		3*time.Hour + 10*time.Minute:     {"4 hours", "11400"},
		24 * time.Hour:                   {"24 hours", "86400"},
		90*time.Second + time.Nanosecond: {"2 minutes", "91"},
	} {
		if got := humanWait(d); got != want[0] {
			t.Errorf("humanWait(%v) = %q, want %q", d, got, want[0])
		}
		if got := throttle.RetryAfter(d); got != want[1] {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want[1])
		}
	}
}

// TestHasChosenSecret: only clients with an operator-chosen (argon2id)
// secret are throttled per client; generated secrets cannot be guessed.
func TestHasChosenSecret(t *testing.T) {
	const argon = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$8Jz1ElyHYMk0h9Nf8tTfFUDDgNtA5dbF5oZLtHBBYSs"
	for _, tc := range []struct {
		hashes []string
		want   bool
	}{
		{[]string{clients.HashSecret("generated")}, false},
		{[]string{argon}, true},
		{[]string{clients.HashSecret("new"), argon}, true},
	} {
		c := &clients.Client{ID: "c", SecretHashes: tc.hashes,
			Metadata: clients.Metadata{Type: clients.ThirdParty, RedirectURIs: []string{"https://app.example/cb"}}}
		if err := c.Prepare(supportedScopes); err != nil {
			t.Fatal(err)
		}
		if got := c.HasChosenSecret(); got != tc.want {
			t.Errorf("%d hashes: hasChosenSecret = %v, want %v", len(tc.hashes), got, tc.want)
		}
	}
}

// TestThrottleStateOutlivesServer: a Server built with the ThrottleState
// of an earlier one (as Caddy does on a config reload) finds its locks
// and its spent registrations; a Server with a State of its own starts
// afresh.
func TestThrottleStateOutlivesServer(t *testing.T) {
	cfg := newTestServer(t, fuzzIssuer, RegistrationOpen).cfg
	cfg.LoginThrottle = throttle.Policy{MaxFailures: 1, Lockout: time.Minute}
	cfg.Registration.RateBurst = 1
	cfg.ThrottleState = throttle.NewState()
	build := func() *Server {
		t.Helper()
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	first := build()
	if ok, _ := first.logins.Admit("user:alice", "192.0.2.1", now); !ok {
		t.Fatal("first attempt refused")
	}
	first.logins.Done("user:alice", "192.0.2.1", throttle.Failed, now)
	if ok, _ := first.registrar.limiter.Allow("192.0.2.1", now); !ok {
		t.Fatal("first registration refused")
	}

	reloaded := build()
	if ok, _ := reloaded.logins.Admit("user:alice", "192.0.2.9", now); ok {
		t.Error("a Server with the same state admits the locked account")
	}
	if ok, _ := reloaded.registrar.limiter.Allow("192.0.2.1", now); ok {
		t.Error("a Server with the same state has a fresh registration allowance")
	}
	cfg.ThrottleState = nil
	fresh := build()
	if ok, _ := fresh.logins.Admit("user:alice", "192.0.2.9", now); !ok {
		t.Error("a Server with a state of its own finds the lock")
	}
}
