package authserver

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(3, time.Minute)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.take("a", t0); !ok {
			t.Fatalf("take %d within the burst refused", i)
		}
	}
	ok, retry := l.take("a", t0)
	if ok || retry != time.Minute {
		t.Fatalf("over the burst: ok %v retry %v", ok, retry)
	}
	if ok, _ := l.take("b", t0); !ok {
		t.Error("another key is limited too")
	}
	if ok, _ := l.take("a", t0.Add(30*time.Second)); ok {
		t.Error("half a token is enough")
	}
	if ok, _ := l.take("a", t0.Add(61*time.Second)); !ok {
		t.Error("a refilled token was refused")
	}
	// Full of active keys, new keys are refused; once they refill, the
	// map is pruned and new keys are served again.
	l = newRateLimiter(1, time.Minute)
	for i := range maxBuckets {
		l.take(string(rune(i+0x1000)), t0)
	}
	if ok, _ := l.take("new", t0); ok {
		t.Error("a new key was let in while the limiter is full of active keys")
	}
	if ok, _ := l.take("new", t0.Add(2*time.Minute)); !ok || len(l.buckets) > 1 {
		t.Errorf("after refill: ok %v, %d buckets kept", ok, len(l.buckets))
	}
}

func TestRateLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":    "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":        "::ffff:192.0.2.7",
		"not an address":          "not an address",
		"2001:db8:1:3:3:4:5:6":    "2001:db8:1:3::/64",
		"[2001:db8::1]:443 bogus": "[2001:db8::1]:443 bogus",
	} {
		if got := rateLimitKey(in); got != want {
			t.Errorf("rateLimitKey(%q) = %q, want %q", in, got, want)
		}
	}
}
