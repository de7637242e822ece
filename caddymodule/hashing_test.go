package caddymodule

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// TestPasswordHashingOption: the Caddyfile block becomes the hasher's
// limits, and its JSON form round-trips.
func TestPasswordHashingOption(t *testing.T) {
	got, err := parseGlobalOption(caddyfile.NewTestDispenser(`gatehouse {
		issuer https://auth.example.com
		password_hashing {
			concurrency 3
			cpu_share 0.5
			queue_wait 2s
			max_queue 40
		}
	}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	hApp, ok := got.(httpcaddyfile.App)
	if !ok {
		t.Fatalf("parsed value = %#v", got)
	}
	app := new(App)
	if err := json.Unmarshal(hApp.Value, app); err != nil {
		t.Fatal(err)
	}
	limits, err := app.PasswordHashing.limits()
	if err != nil {
		t.Fatal(err)
	}
	want := identity.HasherLimits{Concurrency: 3, CPUShare: 0.5, QueueWait: 2 * time.Second, MaxQueue: 40}
	if limits != want {
		t.Errorf("limits = %+v, want %+v", limits, want)
	}
	raw, err := json.Marshal(app.PasswordHashing)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"concurrency":3`) || !strings.Contains(string(raw), `"queue_wait":2000000000`) {
		t.Errorf("JSON form %s", raw)
	}

	// Without the block: the defaults (zero limits).
	if l, err := (*PasswordHashingConfig)(nil).limits(); err != nil || l != (identity.HasherLimits{}) {
		t.Errorf("no block: %+v, %v", l, err)
	}
	// JSON configs bypass the Caddyfile's checks; provision checks again.
	for _, bad := range []*PasswordHashingConfig{
		{Concurrency: -1}, {Concurrency: 257}, {CPUShare: 2}, {CPUShare: -0.1},
		{QueueWait: caddy.Duration(time.Minute)}, {QueueWait: -1}, {MaxQueue: -5}, {MaxQueue: 1 << 20},
	} {
		if _, err := bad.limits(); err == nil || !strings.Contains(err.Error(), "password_hashing") {
			t.Errorf("%+v: error %v", *bad, err)
		}
	}
}

// TestProcessHasherSharing: configurations with the same limits share one
// hasher, so a reload keeps the queue and the bound holds for the
// process; new limits get a hasher of their own.
func TestProcessHasherSharing(t *testing.T) {
	defaults := hasherFor(identity.HasherLimits{})
	if again := hasherFor(identity.HasherLimits{}); again != defaults {
		t.Error("the same limits gave a second hasher")
	}
	two := identity.HasherLimits{Concurrency: 2, QueueWait: time.Second}
	h := hasherFor(two)
	if h == defaults {
		t.Fatal("new limits kept the old hasher")
	}
	if got := h.Limits(); got.Concurrency != 2 || got.QueueWait != time.Second {
		t.Errorf("limits in force = %+v", got)
	}
	if hasherFor(two) != h {
		t.Error("the same new limits gave a third hasher")
	}
}

// TestPasswordHashingProvisions: a configuration with the block
// provisions (the limits reach the process hasher).
func TestPasswordHashingProvisions(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	cf := "{\n\tadmin off\n\tgatehouse {\n\t\tissuer https://a.example\n\t\tstorage sqlite " + filepath.Join(dir, "g.db") +
		"\n\t\tpassword_hashing {\n\t\t\tconcurrency 1\n\t\t\tcpu_share 0.3\n\t\t}\n\t}\n}\n:0 {\n\tauthserver\n}\n"
	if err := validateCaddyfile(cf); err != nil {
		t.Fatal(err)
	}
	processHasher.Lock()
	got := processHasher.limits
	processHasher.Unlock()
	if want := (identity.HasherLimits{Concurrency: 1, CPUShare: 0.3}); got != want {
		t.Errorf("the process hasher's limits are %+v, want %+v", got, want)
	}
}
