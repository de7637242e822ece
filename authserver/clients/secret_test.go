package clients

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// TestCheckSecretSharesConcurrentHashes: concurrent first checks of the
// same operator-chosen secret share one argon2id hash. The hasher here
// allows exactly one hash (its slot then cools down for far longer than
// the test), so any second hash would come back ErrBusy; a wrong secret
// presented afterwards gets no free pass and is refused busy, not
// accepted.
func TestCheckSecretSharesConcurrentHashes(t *testing.T) {
	phc, err := identity.HashPassword("chosen-secret", identity.Argon2idParams{Memory: 4096, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{ID: "chosen", SecretHashes: []string{phc}, Metadata: Metadata{Type: FirstParty, RedirectURIs: []string{"https://chosen.example/cb"}}}
	if err := c.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	hasher := identity.NewHasherWithLimits(identity.HasherLimits{Concurrency: 1, CPUShare: 1e-9, QueueWait: time.Millisecond, MaxQueue: 64})
	start := make(chan struct{})
	errs := make(chan error, 20)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() {
			<-start
			errs <- c.CheckSecret(context.Background(), hasher, "chosen-secret")
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a concurrent check of the right secret = %v, want nil", err)
		}
	}
	if err := c.CheckSecret(context.Background(), hasher, "chosen-secret"); err != nil {
		t.Errorf("the right secret after the burst = %v, want nil (from its digest)", err)
	}
	if err := c.CheckSecret(context.Background(), hasher, "wrong"); !errors.Is(err, identity.ErrBusy) {
		t.Errorf("a wrong secret with hashing busy = %v, want ErrBusy", err)
	}
	if err := c.CheckSecret(context.Background(), hasher, ""); !errors.Is(err, identity.ErrMismatch) {
		t.Errorf("an empty secret = %v, want ErrMismatch", err)
	}
}
