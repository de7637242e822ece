package caddymodule

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

func TestParseThrottle(t *testing.T) {
	tests := []struct {
		input   string
		login   *ThrottleConfig
		client  *ThrottleConfig
		wantErr string
	}{
		{input: "login_throttle off", login: &ThrottleConfig{Off: true}},
		{input: "client_auth_throttle off", client: &ThrottleConfig{Off: true}},
		{input: "login_throttle {\nmax_failures 3\nmax_failures_per_ip 40\nlockout 2s\nbackoff 500ms\n}",
			login: &ThrottleConfig{MaxFailures: 3, MaxFailuresPerIP: 40, Lockout: caddy.Duration(2 * time.Second), Backoff: caddy.Duration(500 * time.Millisecond)}},
		{input: "client_auth_throttle {\nmax_failures 2\nbackoff off\n}", client: &ThrottleConfig{MaxFailures: 2, Backoff: -1}},
		{input: "login_throttle {\n}", login: &ThrottleConfig{}},
		{input: "login_throttle on", wantErr: "expected off or a block"},
		{input: "login_throttle off now", wantErr: "expected off or a block"},
		{input: "login_throttle off {\nmax_failures 1\n}", wantErr: "takes no block"},
		{input: "login_throttle {\nmax_failures 0\n}", wantErr: "max_failures: expected a positive whole number"},
		{input: "login_throttle {\nmax_failures_per_ip lots\n}", wantErr: "max_failures_per_ip: expected a positive whole number"},
		{input: "login_throttle {\nlockout -1m\n}", wantErr: "lockout: must be positive"},
		{input: "login_throttle {\nbackoff never\n}", wantErr: "backoff: expected a positive duration or off"},
		{input: "client_auth_throttle {\nwindow 5m\n}", wantErr: `client_auth_throttle: unknown option "window"`},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			app, err := parseApp(t, tc.input)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameThrottle(app.LoginThrottle, tc.login) || !sameThrottle(app.ClientAuthThrottle, tc.client) {
				t.Fatalf("login %+v client %+v, want %+v and %+v", app.LoginThrottle, app.ClientAuthThrottle, tc.login, tc.client)
			}
		})
	}
}

func sameThrottle(a, b *ThrottleConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// TestThrottleProvision: the core gets the configured values, and values
// it refuses fail at provision naming the throttle.
func TestThrottleProvision(t *testing.T) {
	if got := (*ThrottleConfig)(nil).policy(); got != (throttle.Policy{}) {
		t.Errorf("unset throttle = %+v, want the zero value (core defaults)", got)
	}
	c := &ThrottleConfig{MaxFailures: 3, Lockout: caddy.Duration(time.Minute), Backoff: -1}
	if got := c.policy(); got != (throttle.Policy{MaxFailures: 3, Lockout: time.Minute, Backoff: -1}) {
		t.Errorf("throttle = %+v", got)
	}
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	err := validateCaddyfile("{\n\tadmin off\n\tgatehouse {\n\t\tissuer https://a.example\n\t\tstorage sqlite " + filepath.Join(dir, "g.db") +
		"\n\t\tlogin_throttle {\n\t\t\tlockout 1m\n\t\t\tbackoff 2m\n\t\t}\n\t}\n}\n:0 {\n\tauthserver\n}\n")
	if err == nil || !strings.Contains(err.Error(), "login throttle: backoff 2m0s is longer than the lockout 1m0s") {
		t.Errorf("provision error = %v", err)
	}
}

// TestThrottleStateShared: the configurations of one issuer (the running
// one and the one a reload loads) share one throttle state for as long as
// one of them is loaded; another issuer has its own.
func TestThrottleStateShared(t *testing.T) {
	const iss = "https://throttle-state.example"
	running, reloaded, other := new(App), new(App), new(App)
	s := running.throttleState(iss)
	if reloaded.throttleState(iss) != s {
		t.Fatal("a reloaded configuration of the same issuer got a state of its own")
	}
	if other.throttleState(iss+"/other") == s {
		t.Fatal("another issuer shares the state")
	}
	running.releaseThrottleState()
	running.releaseThrottleState() // a second Cleanup lets go of nothing more
	if n, ok := throttleStates.References(iss); !ok || n != 1 {
		t.Fatalf("after the old configuration stopped: %d references (kept %v), want the reloaded one's", n, ok)
	}
	reloaded.releaseThrottleState()
	other.releaseThrottleState()
	if _, ok := throttleStates.References(iss); ok {
		t.Error("the state is kept after its last configuration stopped")
	}
	later := new(App)
	if later.throttleState(iss) == s {
		t.Error("a new start finds the old state")
	}
	later.releaseThrottleState()
}
