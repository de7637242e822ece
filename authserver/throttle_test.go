package authserver

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

var throttleT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func testThrottle(t *testing.T, cfg Throttle, def Throttle) *throttle {
	t.Helper()
	c, err := cfg.withDefaults(def)
	if err != nil {
		t.Fatal(err)
	}
	return newThrottle(c, nil)
}

// fail runs one admitted, failed attempt, or reports that it was refused.
func fail(th *throttle, subject, ip string, now time.Time) (admitted bool, wait time.Duration) {
	ok, wait := th.admit(subject, ip, now)
	if ok {
		th.done(subject, ip, attemptFailed, now)
	}
	return ok, wait
}

// TestThrottleAccountSchedule: the exact schedule of waits for one
// account: a free first failure, doubling back-off, a lock at
// MaxFailures, doubling locks after it, and the failures forgotten after
// a quiet period.
func TestThrottleAccountSchedule(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 5, MaxFailuresPerIP: 1000, Lockout: 10 * time.Minute, Backoff: time.Second}, DefaultLoginThrottle)
	now := throttleT0
	// The wait each failure imposes on the next attempt.
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute}
	for i, w := range want {
		if ok, wait := fail(th, "user:alice", "192.0.2.1", now); !ok {
			t.Fatalf("failure %d: refused (wait %v) although its wait had passed", i+1, wait)
		}
		if w == 0 {
			continue
		}
		if ok, wait := th.admit("user:alice", "192.0.2.1", now.Add(w-time.Millisecond)); ok || wait != time.Millisecond {
			t.Fatalf("after failure %d: admitted %v with wait %v just before %v had passed", i+1, ok, wait, w)
		}
		now = now.Add(w)
	}
	// Another account from the same address is not affected.
	if ok, _ := th.admit("user:bob", "192.0.2.1", now); !ok {
		t.Error("another account waits too")
	}
	th.done("user:bob", "192.0.2.1", attemptAbandoned, now)
	// After the lock and a quiet Lockout, everything is forgotten: the
	// next failure is free again.
	now = now.Add(40*time.Minute + 10*time.Minute)
	if ok, _ := fail(th, "user:alice", "192.0.2.1", now); !ok {
		t.Fatal("refused after the failures should have been forgotten")
	}
	if ok, _ := th.admit("user:alice", "192.0.2.1", now); !ok {
		t.Error("the first failure after forgetting imposed a wait")
	}
}

// TestThrottleEscalationIsCapped: locks double up to a day, never
// overflow.
func TestThrottleEscalationIsCapped(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 1, Lockout: time.Hour}, DefaultLoginThrottle)
	now := throttleT0
	var last time.Duration
	for i := range 70 {
		ok, wait := th.admit("user:x", "", now)
		if !ok {
			now = now.Add(wait)
			ok, _ = th.admit("user:x", "", now)
		}
		if !ok {
			t.Fatalf("attempt %d refused after waiting", i)
		}
		th.done("user:x", "", attemptFailed, now)
		_, last = th.admit("user:x", "", now)
		if last <= 0 || last > 24*time.Hour {
			t.Fatalf("failure %d: lock %v outside (0, 24h]", i, last)
		}
	}
	if last != 24*time.Hour {
		t.Errorf("lock after many failures = %v, want the 24h cap", last)
	}
}

// TestThrottleSuccessResetsAccountOnly: a success clears its account's
// failures but not its address's.
func TestThrottleSuccessResetsAccountOnly(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 3, MaxFailuresPerIP: 4, Lockout: time.Minute, Backoff: -1}, DefaultLoginThrottle)
	now := throttleT0
	for range 2 {
		fail(th, "user:a", "192.0.2.1", now)
	}
	if ok, _ := th.admit("user:a", "192.0.2.1", now); !ok {
		t.Fatal("refused below the limit")
	}
	th.done("user:a", "192.0.2.1", attemptSucceeded, now)
	// The account starts over: two more failures do not lock it...
	for i := range 2 {
		if ok, _ := fail(th, "user:a", "192.0.2.2", now); !ok {
			t.Fatalf("failure %d after the success refused", i)
		}
	}
	// ...but 192.0.2.1 still has its 2 failures: 2 more lock it.
	for i := range 2 {
		if ok, _ := fail(th, fmt.Sprint("user:other", i), "192.0.2.1", now); !ok {
			t.Fatalf("address failure %d refused", i)
		}
	}
	if ok, wait := th.admit("user:fresh", "192.0.2.1", now); ok || wait != time.Minute {
		t.Errorf("address after 4 failures: admitted %v, wait %v; want locked for 1m", ok, wait)
	}
}

// TestThrottleAddressAcrossAccounts: spraying one password over many
// accounts from one address locks the address, and an IPv6 /64 counts as
// one address.
func TestThrottleAddressAcrossAccounts(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 5, MaxFailuresPerIP: 3, Lockout: time.Minute}, DefaultLoginThrottle)
	now := throttleT0
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if ok, _ := fail(th, fmt.Sprint("name:u", i), ip, now); !ok {
			t.Fatalf("spray %d refused early", i)
		}
	}
	if ok, _ := th.admit("user:alice", "2001:db8:1:2::99", now); ok {
		t.Error("another address of the same /64 is not locked")
	}
	if ok, _ := th.admit("user:alice", "2001:db8:1:3::1", now); !ok {
		t.Error("another /64 is locked too")
	}
}

// TestThrottleParallelBurst: many simultaneous guesses cannot outrun the
// counter: at most MaxFailures are ever checked before the lock.
func TestThrottleParallelBurst(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 5, MaxFailuresPerIP: 1000, Lockout: time.Minute}, DefaultLoginThrottle)
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			if ok, _ := th.admit("user:alice", "192.0.2.1", throttleT0); ok {
				mu.Lock()
				admitted++
				mu.Unlock()
				time.Sleep(time.Millisecond) // the hash
				th.done("user:alice", "192.0.2.1", attemptFailed, throttleT0)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted > 5 {
		t.Errorf("%d parallel guesses were checked, want at most 5", admitted)
	}
	if ok, _ := th.admit("user:alice", "192.0.2.1", throttleT0); ok {
		t.Error("not locked after the burst")
	}
}

// TestThrottleAbandonedAttempt: an attempt that ended without an answer
// counts neither way.
func TestThrottleAbandonedAttempt(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 1, Lockout: time.Minute}, DefaultLoginThrottle)
	for range 10 {
		if ok, _ := th.admit("user:a", "192.0.2.1", throttleT0); !ok {
			t.Fatal("an abandoned attempt was counted as a failure")
		}
		th.done("user:a", "192.0.2.1", attemptAbandoned, throttleT0)
	}
	if len(th.subjects) != 0 || len(th.ips) != 0 {
		t.Errorf("abandoned attempts left %d+%d counters", len(th.subjects), len(th.ips))
	}
}

// TestThrottleOffAndEmptyKeys: Off admits everything; an empty key is not
// counted.
func TestThrottleOffAndEmptyKeys(t *testing.T) {
	off := testThrottle(t, Throttle{Off: true, MaxFailures: 1}, DefaultLoginThrottle)
	for range 5 {
		if ok, _ := fail(off, "user:a", "192.0.2.1", throttleT0); !ok {
			t.Fatal("Off throttle refused")
		}
	}
	var nilThrottle *throttle
	if ok, _ := nilThrottle.admit("a", "b", throttleT0); !ok {
		t.Fatal("nil throttle refused")
	}
	th := testThrottle(t, Throttle{MaxFailures: 1, MaxFailuresPerIP: 1}, DefaultLoginThrottle)
	for range 5 {
		if ok, _ := fail(th, "", "", throttleT0); !ok {
			t.Fatal("empty keys were counted")
		}
	}
}

// TestThrottleTableBound: the tables never grow past maxThrottleEntries;
// forgotten entries make room again.
func TestThrottleTableBound(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 5, MaxFailuresPerIP: 5, Lockout: time.Minute}, DefaultLoginThrottle)
	var warned []string
	th.full = func(table string) { warned = append(warned, table) }
	for i := range maxThrottleEntries {
		fail(th, fmt.Sprint("name:", i), "", throttleT0)
	}
	if ok, _ := fail(th, "name:new", "", throttleT0); !ok {
		t.Fatal("a new key was refused instead of going uncounted")
	}
	if len(th.subjects) != maxThrottleEntries || th.subjects["name:new"] != nil || len(warned) != 1 {
		t.Fatalf("full table: %d entries, new key counted %v, %d warnings", len(th.subjects), th.subjects["name:new"] != nil, len(warned))
	}
	later := throttleT0.Add(2 * time.Minute)
	fail(th, "name:new", "", later)
	if len(th.subjects) != 1 || th.subjects["name:new"] == nil {
		t.Errorf("after the old failures were forgotten: %d entries", len(th.subjects))
	}
}

func TestThrottleConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      Throttle
		want    Throttle
		wantErr bool
	}{
		{"defaults", Throttle{}, DefaultLoginThrottle, false},
		{"overrides", Throttle{MaxFailures: 3, Lockout: time.Minute, Backoff: -1}, Throttle{MaxFailures: 3, MaxFailuresPerIP: DefaultLoginThrottle.MaxFailuresPerIP, Lockout: time.Minute, Backoff: -1}, false},
		{"negative", Throttle{MaxFailures: -1}, Throttle{}, true},
		{"sub-second lockout", Throttle{Lockout: time.Millisecond}, Throttle{}, true},
		{"backoff over lockout", Throttle{Lockout: time.Minute, Backoff: time.Hour}, Throttle{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.withDefaults(DefaultLoginThrottle)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

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
		if got := retryAfter(d); got != want[1] {
			t.Errorf("retryAfter(%v) = %q, want %q", d, got, want[1])
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

// TestThrottleTrustedDevice: the counters as login.go uses them for a
// browser with a device cookie (device.go). The device is counted alone,
// with the normal back-off and lock, never on the account or address;
// while its own lock lasts it earns no exemption; a success clears the
// device, not the account an attacker locked.
func TestThrottleTrustedDevice(t *testing.T) {
	th := testThrottle(t, Throttle{MaxFailures: 3, MaxFailuresPerIP: 2, Lockout: time.Minute, Backoff: time.Second}, DefaultLoginThrottle)
	const account, ip, device = "user:alice", "192.0.2.1", "device:abc"
	now := throttleT0
	// attempt picks the counters as login.go does.
	attempt := func(dev string, o outcome) (trusted, admitted bool, wait time.Duration) {
		subject, addr := account, ip
		if th.exempts(dev, now) {
			subject, addr, trusted = dev, "", true
		}
		admitted, wait = th.admit(subject, addr, now)
		if admitted {
			th.done(subject, addr, o, now)
		}
		return trusted, admitted, wait
	}
	// An attacker locks the account, and keeps at it until the lock is
	// 4 minutes long (1m, 2m, then 4m), so it outlasts what follows.
	for i := range 5 {
		ok, wait := fail(th, account, "", now) // from addresses not counted
		if !ok {
			now = now.Add(wait)
			ok, _ = fail(th, account, "", now)
		}
		if !ok {
			t.Fatalf("attacker's guess %d refused after waiting", i+1)
		}
	}
	now = now.Add(time.Second)
	if trusted, ok, _ := attempt("", attemptSucceeded); trusted || ok {
		t.Fatalf("no device: trusted %v, admitted %v; want the account's lock", trusted, ok)
	}
	steps := []struct {
		name        string
		advance     time.Duration
		outcome     outcome
		wantTrusted bool
		wantOK      bool
		wantWait    time.Duration
	}{
		{"first device failure: free", 0, attemptFailed, true, true, 0},
		{"second: free, then a 1s back-off", 0, attemptFailed, true, true, 0},
		{"during the device's back-off: its own wait", 500 * time.Millisecond, attemptFailed, true, false, 500 * time.Millisecond},
		{"third: locks the device", 500 * time.Millisecond, attemptFailed, true, true, 0},
		{"device locked: no exemption, the account's lock applies", 0, attemptSucceeded, false, false, 0},
		{"device lock over: exempt again", time.Minute, attemptFailed, true, true, 0},
		{"fourth failure doubled the device's lock", time.Minute, attemptSucceeded, false, false, 0},
		{"after the doubled lock, a success", time.Minute, attemptSucceeded, true, true, 0},
		{"the success reset the device", 0, attemptFailed, true, true, 0},
		{"and the next failure is free again", 0, attemptFailed, true, true, 0},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		trusted, ok, wait := attempt(device, st.outcome)
		if trusted != st.wantTrusted || ok != st.wantOK || (st.wantWait != 0 && wait != st.wantWait) {
			t.Fatalf("%s: trusted %v admitted %v wait %v; want %v %v %v", st.name, trusted, ok, wait, st.wantTrusted, st.wantOK, st.wantWait)
		}
	}
	// The device's many failures never touched the address (2 would lock
	// it) and the device's success did not clear the attacker's lock.
	if ok, wait := th.admit("user:bob", ip, now); !ok {
		t.Errorf("the address is locked (%v) by a device's failures", wait)
	} else {
		th.done("user:bob", ip, attemptAbandoned, now)
	}
	if f := th.subjects[account]; f == nil || f.n != 5 || !now.Before(f.until) {
		t.Errorf("account failures = %+v; want the attacker's 5 and the lock, untouched", f)
	}
	// With the defence off, or no device at all.
	if (*throttle)(nil).exempts("", now) || !(*throttle)(nil).exempts(device, now) {
		t.Error("a nil throttle: want a device exempt, no device not")
	}
}
