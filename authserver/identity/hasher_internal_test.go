package identity

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// These tests live inside the package so that most can use a Hasher with
// a cheap dummy: NewHasher's full-cost dummy takes ~0.3 s under -race.

// cheapHasher is what NewHasher builds, but with a cheap dummy whose
// password is "pw". It returns a hash of "pw" with the given cost.
func cheapHasher(t *testing.T, concurrency int, p Argon2idParams) (*Hasher, *PasswordHash) {
	t.Helper()
	phc, err := HashPassword("pw", p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParsePasswordHash(phc)
	if err != nil {
		t.Fatal(err)
	}
	return newHasher(HasherLimits{Concurrency: concurrency, CPUShare: 1, QueueWait: time.Hour}, h), h
}

// taken is how many slots are held (hashing or cooling down).
func (hs *Hasher) taken() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.limits.Concurrency - hs.free
}

// queued is how many verifications wait: urgent ones and the others.
func (hs *Hasher) queued() (urgent, others int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.urgent), len(hs.waiting)
}

// waitQueued waits (bounded) until the queue holds urgent+others.
func waitQueued(t *testing.T, hs *Hasher, urgent, others int) {
	t.Helper()
	for range 5000 {
		if u, o := hs.queued(); u == urgent && o == others {
			return
		}
		time.Sleep(time.Millisecond)
	}
	u, o := hs.queued()
	t.Fatalf("queue holds %d urgent + %d others, want %d + %d", u, o, urgent, others)
}

var cheapParams = Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHasherVerify(t *testing.T) {
	hs, h := cheapHasher(t, 2, cheapParams)
	tests := []struct {
		name     string
		hash     *PasswordHash
		password string
		want     error
	}{
		{"right password", h, "pw", nil},
		{"wrong password", h, "pW", ErrMismatch},
		{"empty password", h, "", ErrMismatch},
		{"prefix", h, "p", ErrMismatch},
		// An unknown user never verifies, not even with the dummy's password.
		{"unknown user, dummy's password", nil, "pw", ErrMismatch},
		{"unknown user", nil, "other", ErrMismatch},
		{"unknown user, empty password", nil, "", ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := hs.Verify(context.Background(), tc.hash, tc.password)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
			// Every outcome gives its slot back, or a few failed logins
			// would lock everyone out.
			if n := hs.taken(); n != 0 {
				t.Fatalf("Verify left %d slots taken", n)
			}
		})
	}
}

// TestHasherWaitsForSlot: with every slot taken, Verify neither hashes nor
// returns until a slot frees or its context ends. (A timing test of the
// bound cannot fail here: on this machine unbounded parallel argon2 is
// slower than serialised because of memory bandwidth, so the bound is
// checked by holding the slot instead.)
func TestHasherWaitsForSlot(t *testing.T) {
	hs, h := cheapHasher(t, 1, cheapParams)
	if err := hs.acquire(context.Background(), false); err != nil { // another verification holds the only slot
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, hash := range []*PasswordHash{h, nil} {
		if err := hs.Verify(cancelled, hash, "pw"); !errors.Is(err, context.Canceled) {
			t.Errorf("Verify(cancelled, hash=%v) while the slot is held = %v, want context.Canceled", hash != nil, err)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := hs.Verify(short, h, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify(deadline) while the slot is held = %v, want DeadlineExceeded", err)
	}
	if n := hs.taken(); n != 1 {
		t.Fatalf("a refused Verify changed the slots taken to %d", n)
	}
	if u, o := hs.queued(); u+o != 0 {
		t.Fatalf("refused verifications left %d waiting", u+o)
	}

	done := make(chan error, 1)
	go func() { done <- hs.Verify(context.Background(), h, "pw") }()
	select {
	case err := <-done:
		t.Fatalf("Verify returned %v while the only slot was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	hs.release(0) // the other verification finishes
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Verify after the slot freed = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Verify still blocked after the slot freed")
	}
}

// TestNewHasher uses one real NewHasher. Its bound defaults to GOMAXPROCS-1 (at least 1),
// and an unknown user must cost about as much as a wrong password for a
// user hashed with DefaultParams, or response times reveal which usernames
// exist. The reference time is NewHasher's own DefaultParams hash of the
// dummy (the same argon2id call a verification makes), which keeps this
// test to two full-cost hashes. The bound is loose (25%) to stay robust on
// a loaded machine; a dummy path that skipped hashing would be near 0%.
func TestNewHasher(t *testing.T) {
	start := time.Now()
	hs := NewHasher(0)
	realD := time.Since(start)
	if want := max(1, runtime.GOMAXPROCS(0)-1); hs.limits.Concurrency != want || hs.free != want {
		t.Errorf("NewHasher(0) allows %d at once, want max(1, GOMAXPROCS-1) = %d", hs.limits.Concurrency, want)
	}
	if hs.dummy == nil || hs.dummy.Params != DefaultParams() {
		t.Fatalf("NewHasher(0) dummy %+v, want one with DefaultParams()", hs.dummy)
	}
	var dummyD time.Duration
	for range 3 {
		start := time.Now()
		if err := hs.Verify(context.Background(), nil, "gatehouse-dummy-password"); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify(nil) = %v, want ErrMismatch", err)
		}
		dummyD = time.Since(start)
		if dummyD*4 >= realD {
			t.Logf("DefaultParams() hash %v, unknown-user verify %v", realD, dummyD)
			return
		}
	}
	t.Errorf("unknown-user verify took %v, a DefaultParams() hash %v: want at least 25%%", dummyD, realD)
}

// TestHasherLimitsDefaults: never all cores; with one core, a quarter of
// it; a queue of 8 per slot and a second's wait.
func TestHasherLimitsDefaults(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		in   HasherLimits
		want HasherLimits
	}{
		{HasherLimits{}, HasherLimits{Concurrency: max(1, procs-1), CPUShare: map[bool]float64{true: 0.25, false: 1}[procs == 1], QueueWait: time.Second, MaxQueue: 8 * max(1, procs-1)}},
		{HasherLimits{Concurrency: procs}, HasherLimits{Concurrency: procs, CPUShare: 0.25, QueueWait: time.Second, MaxQueue: 8 * procs}},
		{HasherLimits{Concurrency: procs + 1, CPUShare: 0.5, QueueWait: time.Minute, MaxQueue: 3}, HasherLimits{Concurrency: procs + 1, CPUShare: 0.5, QueueWait: time.Minute, MaxQueue: 3}},
		{HasherLimits{Concurrency: procs, CPUShare: 7}, HasherLimits{Concurrency: procs, CPUShare: 0.25, QueueWait: time.Second, MaxQueue: 8 * procs}},
	}
	for _, tc := range tests {
		if got := tc.in.withDefaults(); got != tc.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestHasherRefusesBeyondQueue: with every slot taken and the line full,
// a verification gets no place in line and is refused with ErrBusy,
// unhashed, after QueueWait (or when its caller leaves); one in line
// that waits longer than QueueWait is refused too. Refusals leave the
// line as it was, and the verifications in line still complete.
func TestHasherRefusesBeyondQueue(t *testing.T) {
	_, h := cheapHasher(t, 1, cheapParams)
	hs := newHasher(HasherLimits{Concurrency: 1, CPUShare: 1, QueueWait: time.Hour, MaxQueue: 2}, h)
	if err := hs.acquire(context.Background(), false); err != nil { // a storm's hash holds the slot
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- hs.Verify(context.Background(), h, "pw") }()
	}
	waitQueued(t, hs, 0, 2)
	// Beyond the line: no place in it, and no answer before QueueWait
	// (here an hour) unless the caller leaves.
	for _, hash := range []*PasswordHash{h, nil} {
		ctx, cancel := context.WithCancel(context.Background())
		refused := make(chan error, 1)
		go func() { refused <- hs.Verify(ctx, hash, "pw") }()
		select {
		case err := <-refused:
			t.Fatalf("Verify beyond the line answered %v before QueueWait", err)
		case <-time.After(20 * time.Millisecond):
		}
		waitQueued(t, hs, 0, 2)
		cancel()
		if err := <-refused; !errors.Is(err, context.Canceled) {
			t.Errorf("Verify beyond the line, caller gone = %v, want context.Canceled", err)
		}
	}
	tarpit := newHasher(HasherLimits{Concurrency: 1, CPUShare: 1, QueueWait: time.Millisecond, MaxQueue: 1}, h)
	if err := tarpit.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	inLine := make(chan error, 1)
	go func() { inLine <- tarpit.Verify(context.Background(), h, "pw") }()
	if err := tarpit.Verify(context.Background(), h, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify beyond the line after QueueWait = %v, want ErrBusy", err)
	}
	if err := <-inLine; !errors.Is(err, ErrBusy) {
		t.Errorf("Verify in line after QueueWait = %v, want ErrBusy", err)
	}
	hs.release(0)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("a verification in line = %v, want nil", err)
		}
	}
	if n := hs.taken(); n != 0 {
		t.Errorf("%d slots still taken", n)
	}

	short := newHasher(HasherLimits{Concurrency: 1, CPUShare: 1, QueueWait: time.Millisecond, MaxQueue: 2}, h)
	if err := short.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := short.Verify(context.Background(), h, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify past QueueWait = %v, want ErrBusy", err)
	}
	if u, o := short.queued(); u+o != 0 || short.taken() != 1 {
		t.Errorf("after giving up: %d waiting, %d taken; want 0 and 1", u+o, short.taken())
	}
}

// TestHasherUrgentFirst: an urgent verification (a trusted device) that
// arrives behind others is served first, and is not held back by the
// CPU share: it gets a freed slot without its cool-down, and takes a
// cooling slot at once; the cool-down it cut short opens nothing later.
func TestHasherUrgentFirst(t *testing.T) {
	_, h := cheapHasher(t, 1, cheapParams)
	var coolMu sync.Mutex
	var cool []func()
	hs := newHasher(HasherLimits{Concurrency: 1, CPUShare: 0.5, QueueWait: time.Hour, MaxQueue: 8}, h)
	hs.after = func(_ time.Duration, f func()) { coolMu.Lock(); cool = append(cool, f); coolMu.Unlock() }
	cooldown := func(i int) func() {
		coolMu.Lock()
		defer coolMu.Unlock()
		if len(cool) <= i {
			t.Fatalf("%d cool-downs, want at least %d", len(cool), i+1)
		}
		return cool[i]
	}
	if err := hs.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	storm, urgent := make(chan error, 1), make(chan error, 1)
	go func() { storm <- hs.Verify(context.Background(), nil, "guess") }()
	waitQueued(t, hs, 0, 1)
	go func() { urgent <- hs.VerifyUrgent(context.Background(), h, "pw") }()
	waitQueued(t, hs, 1, 1)
	hs.release(0) // straight to the urgent one: no cool-down
	if err := <-urgent; err != nil {
		t.Fatalf("urgent verification = %v", err)
	}
	// The urgent hash is done and its slot cooling; the other still waits.
	waitQueued(t, hs, 0, 1)
	// A second urgent verification takes the cooling slot at once.
	if err := hs.VerifyUrgent(context.Background(), h, "pw"); err != nil {
		t.Fatalf("urgent verification while the slot cools = %v", err)
	}
	waitQueued(t, hs, 0, 1)
	cooldown(0)() // the cut-short cool-down ends: nothing to open
	if u, o := hs.queued(); u+o != 1 {
		t.Fatalf("a cut-short cool-down let a verification through")
	}
	cooldown(1)() // the second urgent hash's cool-down ends
	if err := <-storm; !errors.Is(err, ErrMismatch) {
		t.Fatalf("the other verification = %v, want ErrMismatch", err)
	}
	cooldown(2)()
	if n := hs.taken(); n != 0 {
		t.Fatalf("%d slots taken at the end, want 0", n)
	}
}

// TestHasherReturnsMemoryWhenIdle: after hashing, a trim is scheduled
// once; it waits while hashing goes on and then runs.
func TestHasherReturnsMemoryWhenIdle(t *testing.T) {
	_, h := cheapHasher(t, 1, cheapParams)
	hs := newHasher(HasherLimits{Concurrency: 1, CPUShare: 1, QueueWait: time.Hour, MaxQueue: 8}, h)
	var trims []time.Duration
	var next func()
	hs.trimAfter = func(d time.Duration, f func()) { trims, next = append(trims, d), f }
	for range 3 {
		if err := hs.Verify(context.Background(), h, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if len(trims) != 1 || trims[0] != idleTrim {
		t.Fatalf("trims scheduled %v, want one after %v", trims, idleTrim)
	}
	next() // too soon after the last hash: rescheduled
	if len(trims) != 2 || !hs.trimPending {
		t.Fatalf("a trim right after hashing ran; scheduled %v", trims)
	}
	hs.mu.Lock()
	hs.lastHash = time.Now().Add(-idleTrim)
	hs.mu.Unlock()
	next() // idle long enough: frees memory, nothing more scheduled
	if len(trims) != 2 || hs.trimPending {
		t.Fatalf("after an idle trim: scheduled %v, pending %v", trims, hs.trimPending)
	}
}

// TestHasherCoolDown: with a CPU share below 1, a slot stays closed
// after its hash for d·(1/share − 1), and opens after.
func TestHasherCoolDown(t *testing.T) {
	_, h := cheapHasher(t, 1, cheapParams)
	hs := newHasher(HasherLimits{Concurrency: 1, CPUShare: 0.25, QueueWait: time.Hour, MaxQueue: 8}, h)
	var cools []time.Duration
	var open func()
	hs.after = func(d time.Duration, f func()) { cools, open = append(cools, d), f }
	start := time.Now()
	if err := hs.Verify(context.Background(), h, "pw"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if len(cools) != 1 || cools[0] <= 0 || cools[0] > 3*took {
		t.Fatalf("cool-downs %v after a hash of at most %v, want one of at most 3×", cools, took)
	}
	if n := hs.taken(); n != 1 {
		t.Fatalf("%d slots taken while cooling, want 1", n)
	}
	open()
	if n := hs.taken(); n != 0 {
		t.Fatalf("%d slots taken after the cool-down, want 0", n)
	}
}
