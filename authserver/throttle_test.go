package authserver

import (
	"testing"
	"time"

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
		{[]string{HashClientSecret("generated")}, false},
		{[]string{argon}, true},
		{[]string{HashClientSecret("new"), argon}, true},
	} {
		c := &Client{ID: "c", Type: ThirdParty, SecretHashes: tc.hashes, RedirectURIs: []string{"https://app.example/cb"}}
		if err := c.Prepare(SupportedScopes); err != nil {
			t.Fatal(err)
		}
		if got := c.hasChosenSecret(); got != tc.want {
			t.Errorf("%d hashes: hasChosenSecret = %v, want %v", len(tc.hashes), got, tc.want)
		}
	}
}
