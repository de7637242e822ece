package identity

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy means every hashing slot stayed taken for longer than the
// Hasher's queue allows (HasherLimits.QueueWait): nothing was hashed, so nothing was learnt about
// the password, and the caller answers "busy, retry" (503 or 429 with
// Retry-After), which is far cheaper than the hash it refused.
var ErrBusy = errors.New("identity: password hashing is busy")

// HasherLimits bound the CPU and memory argon2id may take. Each hash
// takes tens of milliseconds of one core and tens of MiB; a login storm
// without bounds starves every other request of the process (the gate's
// among them) and grows memory by a hash's worth per core.
type HasherLimits struct {
	// Concurrency: hashes at once. Zero: max(1, GOMAXPROCS-1), so at
	// least one core is always left to everything else.
	Concurrency int
	// CPUShare, in (0, 1]: the share of its slot's time a hash may take.
	// After a hash that took d, its slot stays closed for
	// d·(1/CPUShare − 1). Zero: 1 when Concurrency < GOMAXPROCS (a core
	// is already left free), else 0.25, so that with one core (Caddy
	// pinned, GOMAXPROCS=1) hashing takes at most a quarter of it.
	CPUShare float64
	// QueueWait: how long a verification waits for a slot before it is
	// refused with ErrBusy. Zero: one second.
	QueueWait time.Duration
	// MaxQueue: verifications that may wait in line at once; more are
	// refused with ErrBusy after QueueWait, without a place in line.
	// Zero: 8 per slot.
	MaxQueue int
}

// withDefaults fills the zero fields.
func (l HasherLimits) withDefaults() HasherLimits {
	procs := runtime.GOMAXPROCS(0)
	if l.Concurrency <= 0 {
		l.Concurrency = max(1, procs-1)
	}
	if l.CPUShare <= 0 || l.CPUShare > 1 {
		l.CPUShare = 1
		if l.Concurrency >= procs {
			l.CPUShare = 0.25
		}
	}
	if l.QueueWait <= 0 {
		l.QueueWait = time.Second
	}
	if l.MaxQueue <= 0 {
		l.MaxQueue = 8 * l.Concurrency
	}
	return l
}

// Hasher verifies passwords and operator-chosen secrets with argon2id
// within HasherLimits. Waiting verifications are served in order, those
// marked urgent (a browser whose device cookie shows its user signed in
// there before) ahead of the rest, so a storm of guesses from elsewhere
// cannot keep a user's own browser out. Safe for concurrent use.
type Hasher struct {
	limits HasherLimits
	dummy  *PasswordHash

	mu      sync.Mutex
	free    int                          // slots open now
	cooling int                          // slots in their cool-down
	stolen  int                          // cool-downs an urgent verification cut short
	urgent  []chan struct{}              // waiting, served first
	waiting []chan struct{}              // waiting, in order of arrival
	after   func(time.Duration, func())  // time.AfterFunc; tests replace it
	waits   atomic.Pointer[WaitObserver] // hasher_observe.go

	// Returning argon2id's memory to the OS once hashing has been idle
	// for a while (see trim).
	lastHash    time.Time
	trimPending bool
	trimAfter   func(time.Duration, func())
}

// idleTrim is how long hashing must be idle before its memory is
// returned to the operating system.
const idleTrim = 5 * time.Second

// NewHasher returns a Hasher running at most concurrency hashes at once,
// the other limits at their defaults (concurrency <= 0: the default too).
func NewHasher(concurrency int) *Hasher {
	return NewHasherWithLimits(HasherLimits{Concurrency: concurrency})
}

// NewHasherWithLimits returns a Hasher within l (zero fields: defaults).
func NewHasherWithLimits(l HasherLimits) *Hasher {
	dummy, err := HashPassword("gatehouse-dummy-password", DefaultParams())
	if err != nil {
		panic(err) // only fails if the system random source fails
	}
	ph, _ := ParsePasswordHash(dummy)
	hs := newHasher(l, ph)
	// The dummy's own hash left its memory behind too.
	hs.mu.Lock()
	hs.lastHash, hs.trimPending = time.Now(), true
	hs.trimAfter(idleTrim, hs.trim)
	hs.mu.Unlock()
	return hs
}

func newHasher(l HasherLimits, dummy *PasswordHash) *Hasher {
	l = l.withDefaults()
	afterFunc := func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	return &Hasher{limits: l, dummy: dummy, free: l.Concurrency, after: afterFunc, trimAfter: afterFunc}
}

// Limits returns the limits in force, defaults filled in.
func (hs *Hasher) Limits() HasherLimits { return hs.limits }

// Verify checks password against h. A nil h (unknown user) still costs one
// hash against a dummy so that unknown users and wrong passwords take
// comparable time, and always returns ErrMismatch. It returns ErrBusy,
// having hashed nothing, when no slot opened within the limits, and the
// context's error when ctx ended first.
func (hs *Hasher) Verify(ctx context.Context, h *PasswordHash, password string) error {
	return hs.verify(ctx, h, password, false)
}

// VerifyUrgent is Verify served ahead of every waiting Verify, and not
// held back by the CPU share (it may cut a slot's cool-down short): for
// a browser whose device cookie shows that its user signed in there
// before. Such attempts are few (throttled per device cookie), so they
// cannot take the CPU, and a storm of guesses cannot keep the user out.
func (hs *Hasher) VerifyUrgent(ctx context.Context, h *PasswordHash, password string) error {
	return hs.verify(ctx, h, password, true)
}

func (hs *Hasher) verify(ctx context.Context, h *PasswordHash, password string, urgent bool) error {
	if err := hs.acquireObserved(ctx, urgent); err != nil {
		return err
	}
	start := time.Now()
	defer func() { hs.release(time.Since(start)) }()
	if h == nil {
		hs.dummy.Matches(password)
		return ErrMismatch
	}
	if !h.Matches(password) {
		return ErrMismatch
	}
	return nil
}

// Hash hashes password with p (see HashPassword) in one of the slots that
// bound Verify, so setting passwords (admin API, invitations, account
// page) shares the same CPU budget as checking them.
func (hs *Hasher) Hash(ctx context.Context, password string, p Argon2idParams) (string, error) {
	if err := hs.acquireObserved(ctx, false); err != nil {
		return "", err
	}
	start := time.Now()
	defer func() { hs.release(time.Since(start)) }()
	return HashPassword(password, p)
}

// acquire takes a slot, waiting in line within the limits.
func (hs *Hasher) acquire(ctx context.Context, urgent bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	hs.mu.Lock()
	if hs.free > 0 && len(hs.urgent) == 0 && (urgent || len(hs.waiting) == 0) {
		hs.free--
		hs.mu.Unlock()
		return nil
	}
	if urgent && len(hs.urgent) == 0 && hs.cooling > 0 {
		hs.cooling--
		hs.stolen++
		hs.mu.Unlock()
		return nil
	}
	if len(hs.urgent)+len(hs.waiting) >= hs.limits.MaxQueue {
		hs.mu.Unlock()
		// The line is longer than the wait allows: refuse without hashing,
		// but only after QueueWait, as a verification that waited in line
		// would be. A storm's workers that were answered at once would
		// come straight back, and a flood of cheap refusals starves the
		// process as surely as the hashes did; waiting costs nothing.
		return hs.tarpit(ctx)
	}
	granted := make(chan struct{})
	if urgent {
		hs.urgent = append(hs.urgent, granted)
	} else {
		hs.waiting = append(hs.waiting, granted)
	}
	hs.mu.Unlock()

	timer := time.NewTimer(hs.limits.QueueWait)
	defer timer.Stop()
	var err error
	select {
	case <-granted:
		return nil
	case <-timer.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if !hs.dequeue(granted) {
		// Granted while giving up: pass the slot on.
		hs.handOnLocked()
	}
	return err
}

// tarpit waits QueueWait (or until ctx ends) and refuses.
func (hs *Hasher) tarpit(ctx context.Context) error {
	t := time.NewTimer(hs.limits.QueueWait)
	defer t.Stop()
	select {
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dequeue removes a waiter; false if it is no longer waiting (granted).
func (hs *Hasher) dequeue(w chan struct{}) bool {
	for _, q := range []*[]chan struct{}{&hs.urgent, &hs.waiting} {
		for i, c := range *q {
			if c == w {
				*q = append((*q)[:i], (*q)[i+1:]...)
				return true
			}
		}
	}
	return false
}

// release gives a slot back after a hash that took d, after its
// cool-down when hashing may take only a share of the CPU.
func (hs *Hasher) release(d time.Duration) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.lastHash = time.Now()
	if !hs.trimPending {
		hs.trimPending = true
		hs.trimAfter(idleTrim, hs.trim)
	}
	if share := hs.limits.CPUShare; share < 1 && len(hs.urgent) == 0 {
		cool := time.Duration(float64(d) * (1/share - 1))
		hs.cooling++
		hs.after(cool, func() {
			hs.mu.Lock()
			defer hs.mu.Unlock()
			if hs.stolen > 0 { // an urgent verification took this slot already
				hs.stolen--
				return
			}
			hs.cooling--
			hs.handOnLocked()
		})
		return
	}
	hs.handOnLocked()
}

// trim returns argon2id's memory (tens of MiB a hash, garbage once it
// is done) to the operating system once hashing has been idle for
// idleTrim, so a burst of logins does not leave the process that much
// bigger for good. The Go runtime would return it too, but only slowly.
func (hs *Hasher) trim() {
	hs.mu.Lock()
	if wait := idleTrim - time.Since(hs.lastHash); wait > 0 || hs.free+hs.cooling < hs.limits.Concurrency {
		hs.trimAfter(max(wait, idleTrim/5), hs.trim)
		hs.mu.Unlock()
		return
	}
	hs.trimPending = false
	hs.mu.Unlock()
	debug.FreeOSMemory()
}

// handOnLocked gives a freed slot to the first in line, urgent first.
func (hs *Hasher) handOnLocked() {
	for _, q := range []*[]chan struct{}{&hs.urgent, &hs.waiting} {
		if len(*q) > 0 {
			next := (*q)[0]
			*q = (*q)[1:]
			close(next)
			return
		}
	}
	hs.free++
}
