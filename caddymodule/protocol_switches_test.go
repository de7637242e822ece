package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// TestParseProtocolSwitches: each switch is a bare option that turns its
// part of OAuth on; all are off by default.
func TestParseProtocolSwitches(t *testing.T) {
	parse := func(t *testing.T, body string) ProtocolSwitches {
		t.Helper()
		v, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+body+"\n issuer https://auth.example.com\n}"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var app App
		if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
			t.Fatal(err)
		}
		if app.Issuer != "https://auth.example.com" {
			t.Errorf("the option after the switch was lost: issuer %q", app.Issuer)
		}
		return app.ProtocolSwitches
	}
	if got := parse(t, ""); got != (ProtocolSwitches{}) {
		t.Errorf("defaults %+v, want all off", got)
	}
	if got := parse(t, " client_credentials"); got != (ProtocolSwitches{ClientCredentials: true}) {
		t.Errorf("client_credentials: %+v", got)
	}
	if got := parse(t, " device_authorization"); got != (ProtocolSwitches{DeviceAuthorization: true}) {
		t.Errorf("device_authorization: %+v", got)
	}
	if got := parse(t, " pushed_authorization_requests"); got != (ProtocolSwitches{PushedAuthorizationRequests: true}) {
		t.Errorf("pushed_authorization_requests: %+v", got)
	}
}

// TestParseProtocolSwitchErrors: a switch takes no value and no block.
func TestParseProtocolSwitchErrors(t *testing.T) {
	for _, input := range []string{
		"gatehouse {\n client_credentials on\n}",
		"gatehouse {\n client_credentials {\n  scope x\n }\n}",
	} {
		_, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil)
		if err == nil || !strings.Contains(err.Error(), "client_credentials takes no argument or block") {
			t.Errorf("%q: error %v", input, err)
		}
	}
}
