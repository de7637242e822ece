package identity

import (
	"context"
	"errors"
	"runtime"
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
	return &Hasher{slots: make(chan struct{}, concurrency), dummy: h}, h
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
			if len(hs.slots) != 0 {
				t.Fatalf("Verify left %d slots taken", len(hs.slots))
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
	hs.slots <- struct{}{} // another verification holds the only slot

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
	if len(hs.slots) != 1 {
		t.Fatalf("a refused Verify changed the slot count to %d", len(hs.slots))
	}

	done := make(chan error, 1)
	go func() { done <- hs.Verify(context.Background(), h, "pw") }()
	select {
	case err := <-done:
		t.Fatalf("Verify returned %v while the only slot was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-hs.slots // the other verification finishes
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Verify after the slot freed = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Verify still blocked after the slot freed")
	}
}

// TestNewHasher uses one real NewHasher. Its bound defaults to GOMAXPROCS,
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
	if want := runtime.GOMAXPROCS(0); cap(hs.slots) != want {
		t.Errorf("NewHasher(0) allows %d at once, want GOMAXPROCS = %d", cap(hs.slots), want)
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
