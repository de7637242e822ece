package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/factor"
)

// TestParseMFA: mfa in the gatehouse block and in a client block, kept
// through JSON; anything but off, optional or required is refused with
// the line.
func TestParseMFA(t *testing.T) {
	v, err := parseGlobalOption(caddyfile.NewTestDispenser(`gatehouse {
		mfa optional
		client strict {
			type first_party_public
			redirect_uri https://a.example/cb
			mfa required
		}
		client plain {
			type first_party_public
			redirect_uri https://b.example/cb
		}
	}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := v.(httpcaddyfile.App).Value
	var app App
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	if app.MFA != "optional" || app.Clients[0].MFA != "required" || app.Clients[1].MFA != "" {
		t.Fatalf("mfa = %q, clients %q %q", app.MFA, app.Clients[0].MFA, app.Clients[1].MFA)
	}
	if !strings.Contains(string(raw), `"mfa":"required"`) || strings.Count(string(raw), `"mfa"`) != 2 {
		t.Errorf("JSON: %s", raw)
	}
	if got := app.Clients[0].client().MFA; got != factor.Required {
		t.Errorf("client().MFA = %q", got)
	}
	for input, want := range map[string]string{
		"mfa":                           "mfa: expected one of off, optional, required",
		"mfa on":                        `not "on"`,
		"mfa optional required":         "mfa: expected one of",
		"client c {\n mfa sometimes\n}": `not "sometimes"`,
		"client c {\n mfa\n}":           "mfa: expected one of",
	} {
		if _, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+input+"\n}"), nil); err == nil ||
			!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%q: %v, want %q", input, err, want)
		}
	}
	// JSON configuration is checked as strictly.
	var c ClientConfig
	if err := json.Unmarshal([]byte(`{"id":"c","type":"first_party_public","redirect_uris":["https://a/cb"],"mfa":"always"}`), &c); err == nil {
		t.Error("a client's JSON mfa \"always\" was accepted")
	}
	if _, err := parseMFA("always"); err == nil {
		t.Error(`parseMFA("always") accepted`)
	}
}
