package throttle

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var throttleT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func testGuard(t *testing.T, p Policy, def Policy) *Guard {
	t.Helper()
	p, err := p.WithDefaults(def)
	if err != nil {
		t.Fatal(err)
	}
	return NewGuard(p, nil, nil)
}

// fail runs one admitted, failed attempt, or reports that it was refused.
func fail(th *Guard, subject, ip string, now time.Time) (admitted bool, wait time.Duration) {
	ok, wait := th.Admit(subject, ip, now)
	if ok {
		th.Done(subject, ip, Failed, now)
	}
	return ok, wait
}

// TestThrottleAccountSchedule: the exact schedule of waits for one
// account: a free first failure, doubling back-off, a lock at
// MaxFailures, doubling locks after it, and the failures forgotten after
// a quiet period.
func TestThrottleAccountSchedule(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 5, MaxFailuresPerIP: 1000, Lockout: 10 * time.Minute, Backoff: time.Second}, DefaultLogin())
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
		if ok, wait := th.Admit("user:alice", "192.0.2.1", now.Add(w-time.Millisecond)); ok || wait != time.Millisecond {
			t.Fatalf("after failure %d: admitted %v with wait %v just before %v had passed", i+1, ok, wait, w)
		}
		now = now.Add(w)
	}
	// Another account from the same address is not affected.
	if ok, _ := th.Admit("user:bob", "192.0.2.1", now); !ok {
		t.Error("another account waits too")
	}
	th.Done("user:bob", "192.0.2.1", Abandoned, now)
	// After the lock and a quiet Lockout, everything is forgotten: the
	// next failure is free again.
	now = now.Add(40*time.Minute + 10*time.Minute)
	if ok, _ := fail(th, "user:alice", "192.0.2.1", now); !ok {
		t.Fatal("refused after the failures should have been forgotten")
	}
	if ok, _ := th.Admit("user:alice", "192.0.2.1", now); !ok {
		t.Error("the first failure after forgetting imposed a wait")
	}
}

// TestThrottleEscalationIsCapped: locks double up to a day, never
// overflow.
func TestThrottleEscalationIsCapped(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 1, Lockout: time.Hour}, DefaultLogin())
	now := throttleT0
	var last time.Duration
	for i := range 70 {
		ok, wait := th.Admit("user:x", "", now)
		if !ok {
			now = now.Add(wait)
			ok, _ = th.Admit("user:x", "", now)
		}
		if !ok {
			t.Fatalf("attempt %d refused after waiting", i)
		}
		th.Done("user:x", "", Failed, now)
		_, last = th.Admit("user:x", "", now)
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
	th := testGuard(t, Policy{MaxFailures: 3, MaxFailuresPerIP: 4, Lockout: time.Minute, Backoff: -1}, DefaultLogin())
	now := throttleT0
	for range 2 {
		fail(th, "user:a", "192.0.2.1", now)
	}
	if ok, _ := th.Admit("user:a", "192.0.2.1", now); !ok {
		t.Fatal("refused below the limit")
	}
	th.Done("user:a", "192.0.2.1", Succeeded, now)
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
	if ok, wait := th.Admit("user:fresh", "192.0.2.1", now); ok || wait != time.Minute {
		t.Errorf("address after 4 failures: admitted %v, wait %v; want locked for 1m", ok, wait)
	}
}

// TestThrottleAddressAcrossAccounts: spraying one password over many
// accounts from one address locks the address, and an IPv6 /64 counts as
// one address.
func TestThrottleAddressAcrossAccounts(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 5, MaxFailuresPerIP: 3, Lockout: time.Minute}, DefaultLogin())
	now := throttleT0
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if ok, _ := fail(th, fmt.Sprint("name:u", i), ip, now); !ok {
			t.Fatalf("spray %d refused early", i)
		}
	}
	if ok, _ := th.Admit("user:alice", "2001:db8:1:2::99", now); ok {
		t.Error("another address of the same /64 is not locked")
	}
	if ok, _ := th.Admit("user:alice", "2001:db8:1:3::1", now); !ok {
		t.Error("another /64 is locked too")
	}
}

// TestThrottleParallelBurst: many simultaneous guesses cannot outrun the
// counter: at most MaxFailures are ever checked before the lock.
func TestThrottleParallelBurst(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 5, MaxFailuresPerIP: 1000, Lockout: time.Minute}, DefaultLogin())
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			if ok, _ := th.Admit("user:alice", "192.0.2.1", throttleT0); ok {
				mu.Lock()
				admitted++
				mu.Unlock()
				time.Sleep(time.Millisecond) // the hash
				th.Done("user:alice", "192.0.2.1", Failed, throttleT0)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted > 5 {
		t.Errorf("%d parallel guesses were checked, want at most 5", admitted)
	}
	if ok, _ := th.Admit("user:alice", "192.0.2.1", throttleT0); ok {
		t.Error("not locked after the burst")
	}
}

// TestThrottleAdmitWaitCorrectBurst: only failures refuse. Concurrent
// correct attempts beyond the in-flight bound wait for a slot instead of
// being refused, on the subject and on the address; at most MaxFailures
// are ever in flight.
func TestThrottleAdmitWaitCorrectBurst(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 3, MaxFailuresPerIP: 5, Lockout: time.Minute}, DefaultLogin())
	clock := func() time.Time { return throttleT0 }
	var mu sync.Mutex
	inflight, most, refused := 0, 0, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Go(func() {
			<-start
			subject := "client:c"
			if i%2 == 1 {
				subject = "" // counted on the address only
			}
			ok, _ := th.AdmitWait(context.Background(), subject, "192.0.2.1", clock)
			mu.Lock()
			if !ok {
				refused++
				mu.Unlock()
				return
			}
			inflight++
			most = max(most, inflight)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond) // the check
			mu.Lock()
			inflight--
			mu.Unlock()
			th.Done(subject, "192.0.2.1", Succeeded, throttleT0)
		})
	}
	close(start)
	wg.Wait()
	if refused > 0 {
		t.Errorf("%d of 50 correct attempts refused", refused)
	}
	if most > 5 {
		t.Errorf("%d attempts in flight from one address, want at most 5", most)
	}
	if len(th.c.subjects)+len(th.c.ips) != 0 {
		t.Errorf("successes left %d+%d counters", len(th.c.subjects), len(th.c.ips))
	}
}

// TestThrottleAdmitWaitGuessBurst: waiting does not let guesses outrun
// the counter: at most MaxFailures are checked, the rest are refused with
// the lock's wait once it is imposed, without waiting for MaxBusyWait.
// A locked subject is refused at once, and an ended context stops a wait.
func TestThrottleAdmitWaitGuessBurst(t *testing.T) {
	// No back-off, so every refusal is the lock's.
	th := testGuard(t, Policy{MaxFailures: 5, MaxFailuresPerIP: 1000, Lockout: time.Minute, Backoff: -1}, DefaultLogin())
	clock := func() time.Time { return throttleT0 }
	var mu sync.Mutex
	admitted, refusedLocked := 0, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			ok, wait := th.AdmitWait(context.Background(), "user:alice", "192.0.2.1", clock)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				if wait > time.Second {
					refusedLocked++
				}
				return
			}
			admitted++
			mu.Unlock()
			time.Sleep(100 * time.Microsecond) // the hash
			th.Done("user:alice", "192.0.2.1", Failed, throttleT0)
			mu.Lock()
		})
	}
	close(start)
	wg.Wait()
	if admitted != 5 {
		t.Errorf("%d parallel guesses were checked, want exactly 5", admitted)
	}
	if refusedLocked != 95 {
		t.Errorf("%d guesses refused with the lock's wait, want 95", refusedLocked)
	}
	// Busy, and the caller gives up: refused without waiting for a slot.
	busy := testGuard(t, Policy{MaxFailures: 1, MaxFailuresPerIP: 1000, Lockout: time.Minute}, DefaultLogin())
	if ok, _ := busy.Admit("user:bob", "192.0.2.1", throttleT0); !ok {
		t.Fatal("first attempt refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, wait := busy.AdmitWait(ctx, "user:bob", "192.0.2.1", clock); ok || wait != time.Second {
		t.Errorf("a busy attempt whose caller left: admitted %v, wait %v", ok, wait)
	}
	busy.Done("user:bob", "192.0.2.1", Succeeded, throttleT0)
	if ok, _ := busy.AdmitWait(ctx, "user:bob", "192.0.2.1", clock); !ok {
		t.Error("refused once the attempt in flight was done")
	}
}

// TestThrottleAbandonedAttempt: an attempt that ended without an answer
// counts neither way.
func TestThrottleAbandonedAttempt(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 1, Lockout: time.Minute}, DefaultLogin())
	for range 10 {
		if ok, _ := th.Admit("user:a", "192.0.2.1", throttleT0); !ok {
			t.Fatal("an abandoned attempt was counted as a failure")
		}
		th.Done("user:a", "192.0.2.1", Abandoned, throttleT0)
	}
	if len(th.c.subjects) != 0 || len(th.c.ips) != 0 {
		t.Errorf("abandoned attempts left %d+%d counters", len(th.c.subjects), len(th.c.ips))
	}
}

// TestThrottleOffAndEmptyKeys: Off admits everything; an empty key is not
// counted.
func TestThrottleOffAndEmptyKeys(t *testing.T) {
	off := testGuard(t, Policy{Off: true, MaxFailures: 1}, DefaultLogin())
	for range 5 {
		if ok, _ := fail(off, "user:a", "192.0.2.1", throttleT0); !ok {
			t.Fatal("Off throttle refused")
		}
	}
	var nilGuard *Guard
	if ok, _ := nilGuard.Admit("a", "b", throttleT0); !ok {
		t.Fatal("a nil Guard refused")
	}
	th := testGuard(t, Policy{MaxFailures: 1, MaxFailuresPerIP: 1}, DefaultLogin())
	for range 5 {
		if ok, _ := fail(th, "", "", throttleT0); !ok {
			t.Fatal("empty keys were counted")
		}
	}
}

// TestThrottleTableBound: the tables never grow past maxEntries;
// forgotten entries make room again.
func TestThrottleTableBound(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 5, MaxFailuresPerIP: 5, Lockout: time.Minute}, DefaultLogin())
	var warned []string
	th.onFull = func(table string) { warned = append(warned, table) }
	for i := range maxEntries {
		fail(th, fmt.Sprint("name:", i), "", throttleT0)
	}
	if ok, _ := fail(th, "name:new", "", throttleT0); !ok {
		t.Fatal("a new key was refused instead of going uncounted")
	}
	if len(th.c.subjects) != maxEntries || th.c.subjects["name:new"] != nil || len(warned) != 1 {
		t.Fatalf("full table: %d entries, new key counted %v, %d warnings", len(th.c.subjects), th.c.subjects["name:new"] != nil, len(warned))
	}
	later := throttleT0.Add(2 * time.Minute)
	fail(th, "name:new", "", later)
	if len(th.c.subjects) != 1 || th.c.subjects["name:new"] == nil {
		t.Errorf("after the old failures were forgotten: %d entries", len(th.c.subjects))
	}
}

func TestPolicyWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in      Policy
		want    Policy
		wantErr bool
	}{
		{"defaults", Policy{}, DefaultLogin(), false},
		{"overrides", Policy{MaxFailures: 3, Lockout: time.Minute, Backoff: -1}, Policy{MaxFailures: 3, MaxFailuresPerIP: DefaultLogin().MaxFailuresPerIP, Lockout: time.Minute, Backoff: -1}, false},
		{"negative", Policy{MaxFailures: -1}, Policy{}, true},
		{"sub-second lockout", Policy{Lockout: time.Millisecond}, Policy{}, true},
		{"backoff over lockout", Policy{Lockout: time.Minute, Backoff: time.Hour}, Policy{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.WithDefaults(DefaultLogin())
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestThrottleTrustedDevice: the counters as authserver's login form uses
// them for a browser with a device cookie. The device is counted alone,
// with the normal back-off and lock, never on the account or address;
// while its own lock lasts it earns no exemption; a success clears the
// device, not the account an attacker locked.
func TestThrottleTrustedDevice(t *testing.T) {
	th := testGuard(t, Policy{MaxFailures: 3, MaxFailuresPerIP: 2, Lockout: time.Minute, Backoff: time.Second}, DefaultLogin())
	const account, ip, device = "user:alice", "192.0.2.1", "device:abc"
	now := throttleT0
	// attempt picks the counters as the login form does.
	attempt := func(dev string, o Outcome) (trusted, admitted bool, wait time.Duration) {
		subject, addr := account, ip
		if th.Exempts(dev, now) {
			subject, addr, trusted = dev, "", true
		}
		admitted, wait = th.Admit(subject, addr, now)
		if admitted {
			th.Done(subject, addr, o, now)
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
	if trusted, ok, _ := attempt("", Succeeded); trusted || ok {
		t.Fatalf("no device: trusted %v, admitted %v; want the account's lock", trusted, ok)
	}
	steps := []struct {
		name        string
		advance     time.Duration
		outcome     Outcome
		wantTrusted bool
		wantOK      bool
		wantWait    time.Duration
	}{
		{"first device failure: free", 0, Failed, true, true, 0},
		{"second: free, then a 1s back-off", 0, Failed, true, true, 0},
		{"during the device's back-off: its own wait", 500 * time.Millisecond, Failed, true, false, 500 * time.Millisecond},
		{"third: locks the device", 500 * time.Millisecond, Failed, true, true, 0},
		{"device locked: no exemption, the account's lock applies", 0, Succeeded, false, false, 0},
		{"device lock over: exempt again", time.Minute, Failed, true, true, 0},
		{"fourth failure doubled the device's lock", time.Minute, Succeeded, false, false, 0},
		{"after the doubled lock, a success", time.Minute, Succeeded, true, true, 0},
		{"the success reset the device", 0, Failed, true, true, 0},
		{"and the next failure is free again", 0, Failed, true, true, 0},
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
	if ok, wait := th.Admit("user:bob", ip, now); !ok {
		t.Errorf("the address is locked (%v) by a device's failures", wait)
	} else {
		th.Done("user:bob", ip, Abandoned, now)
	}
	if f := th.c.subjects[account]; f == nil || f.n != 5 || !now.Before(f.until) {
		t.Errorf("account failures = %+v; want the attacker's 5 and the lock, untouched", f)
	}
	// With the defence off, or no device at all.
	if (*Guard)(nil).Exempts("", now) || !(*Guard)(nil).Exempts(device, now) {
		t.Error("a nil Guard: want a device exempt, no device not")
	}
}

// TestSharedCounters: Guards over the same Counters (the old and the new
// configuration of a reloaded server) see the same failures, each with
// its own policy: a lock imposed under the old settings lasts under the
// new ones, and the new ones decide from the next failure on.
func TestSharedCounters(t *testing.T) {
	c := NewCounters()
	old := NewGuard(Policy{MaxFailures: 3, MaxFailuresPerIP: 100, Lockout: time.Minute, Backoff: -1}, c, nil)
	now := throttleT0
	for range 3 {
		fail(old, "user:alice", "192.0.2.1", now)
	}
	// Same settings, new Guard: still locked, for the same time.
	same := NewGuard(old.Policy(), c, nil)
	if ok, wait := same.Admit("user:alice", "192.0.2.1", now.Add(10*time.Second)); ok || wait != 50*time.Second {
		t.Fatalf("a new Guard over the same counters: admitted %v wait %v; want the lock's 50s", ok, wait)
	}
	// Other settings: the lock runs its course, the next failure counts
	// as the fourth, which the new settings lock for 2×10m.
	stricter := NewGuard(Policy{MaxFailures: 2, MaxFailuresPerIP: 100, Lockout: 10 * time.Minute, Backoff: -1}, c, nil)
	if ok, _ := stricter.Admit("user:alice", "192.0.2.1", now.Add(30*time.Second)); ok {
		t.Fatal("new settings lifted the lock")
	}
	now = now.Add(time.Minute)
	if ok, wait := fail(stricter, "user:alice", "192.0.2.1", now); !ok {
		t.Fatalf("refused (%v) after the old lock ended", wait)
	}
	if ok, wait := stricter.Admit("user:alice", "192.0.2.1", now); ok || wait != 40*time.Minute {
		t.Errorf("after a fourth failure under max_failures 2, lockout 10m: admitted %v wait %v; want 40m", ok, wait)
	}
	// Separate counters share nothing.
	if ok, _ := NewGuard(old.Policy(), nil, nil).Admit("user:alice", "192.0.2.1", now); !ok {
		t.Error("fresh counters remember alice")
	}
}

// TestState: a State hands out the same counters and buckets every time,
// and a new State shares none of them.
func TestState(t *testing.T) {
	s, other := NewState(), NewState()
	logins, again := s.Logins(), s.Logins()
	if logins == nil || logins != again || logins == s.ClientAuths() {
		t.Error("Logins: want one table of its own")
	}
	if regs := s.Registrations(); regs == nil || regs != s.Registrations() {
		t.Error("Registrations: want one table")
	}
	if s.Logins() == other.Logins() || s.ClientAuths() == other.ClientAuths() || s.Registrations() == other.Registrations() {
		t.Error("two States share a table")
	}
}

// TestRateLimiter: burst at once, then one per interval, per address (an
// IPv6 /64 is one), within a bounded table.
func TestRateLimiter(t *testing.T) {
	l := NewRateLimiter(3, time.Minute, nil)
	t0 := throttleT0
	for i := range 3 {
		if ok, _ := l.Allow("192.0.2.1", t0); !ok {
			t.Fatalf("take %d within the burst refused", i)
		}
	}
	ok, retry := l.Allow("192.0.2.1", t0)
	if ok || retry != time.Minute {
		t.Fatalf("over the burst: ok %v retry %v", ok, retry)
	}
	if ok, _ := l.Allow("192.0.2.2", t0); !ok {
		t.Error("another address is limited too")
	}
	if ok, retry := l.Allow("192.0.2.1", t0.Add(30*time.Second)); ok || retry != 30*time.Second {
		t.Errorf("half a token: ok %v retry %v; want refused, 30s", ok, retry)
	}
	if ok, _ := l.Allow("192.0.2.1", t0.Add(61*time.Second)); !ok {
		t.Error("a refilled token was refused")
	}
	// An IPv6 /64 is one address.
	v6 := NewRateLimiter(1, time.Minute, nil)
	if ok, _ := v6.Allow("2001:db8:1:2::1", t0); !ok {
		t.Fatal("first IPv6 request refused")
	}
	if ok, _ := v6.Allow("2001:db8:1:2:ffff::9", t0); ok {
		t.Error("another address of the same /64 has a bucket of its own")
	}
	if ok, _ := v6.Allow("2001:db8:1:3::1", t0); !ok {
		t.Error("another /64 is limited too")
	}
	// Full of active keys, new keys are refused; once they refill, the
	// table is pruned and new keys are served again.
	l = NewRateLimiter(1, time.Minute, nil)
	for i := range maxBuckets {
		l.Allow(fmt.Sprint("key-", i), t0)
	}
	if ok, retry := l.Allow("new", t0); ok || retry != time.Minute {
		t.Errorf("a new key while the table is full of active keys: ok %v retry %v", ok, retry)
	}
	if ok, _ := l.Allow("new", t0.Add(2*time.Minute)); !ok || len(l.b.m) > 1 {
		t.Errorf("after refill: ok %v, %d buckets kept", ok, len(l.b.m))
	}
}

// TestRateLimiterSharedBuckets: a RateLimiter over the same Buckets (a
// reloaded server's) finds them as spent as they were; with another
// rate, what was spent stays spent and the new rate refills it.
func TestRateLimiterSharedBuckets(t *testing.T) {
	b := NewBuckets()
	t0 := throttleT0
	old := NewRateLimiter(2, time.Minute, b)
	old.Allow("192.0.2.1", t0)
	old.Allow("192.0.2.1", t0)
	if ok, _ := NewRateLimiter(2, time.Minute, b).Allow("192.0.2.1", t0); ok {
		t.Fatal("a new limiter over the same buckets has a full bucket")
	}
	faster := NewRateLimiter(2, time.Second, b)
	if ok, retry := faster.Allow("192.0.2.1", t0); ok || retry != time.Second {
		t.Fatalf("with a faster rate: ok %v retry %v; want refused, 1s", ok, retry)
	}
	if ok, _ := faster.Allow("192.0.2.1", t0.Add(time.Second)); !ok {
		t.Error("the faster rate did not refill the bucket")
	}
	if ok, _ := NewRateLimiter(2, time.Minute, nil).Allow("192.0.2.1", t0); !ok {
		t.Error("fresh buckets are spent")
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"192.0.2.7":               "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":    "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":        "::ffff:192.0.2.7",
		"not an address":          "not an address",
		"2001:db8:1:3:3:4:5:6":    "2001:db8:1:3::/64",
		"[2001:db8::1]:443 bogus": "[2001:db8::1]:443 bogus",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSubjectKeys: keys of different kinds never collide, names are
// folded as usernames are, and a device key shows nothing of its nonce.
func TestSubjectKeys(t *testing.T) {
	const nonce = "AAAAAAAAAAAAAAAAAAAAAA"
	keys := []string{AccountKey("alice"), UsernameKey("alice"), DeviceKey("alice"), ClientKey("alice")}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("key %q of two kinds", k)
		}
		seen[k] = true
	}
	if UsernameKey(" ALICE ") != UsernameKey("alice") {
		t.Error("UsernameKey does not fold case and spaces")
	}
	if d := DeviceKey(nonce); d == DeviceKey(nonce+"x") || len(d) != len("device:")+22 || strings.Contains(d, nonce) {
		t.Errorf("DeviceKey(%q) = %q", nonce, d)
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Millisecond:       "1",
		1500 * time.Millisecond:      "2",
		time.Minute:                  "60",
		14*time.Minute + time.Second: "841",
		24 * time.Hour:               "86400",
	} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
