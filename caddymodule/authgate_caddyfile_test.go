package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func TestParseAuthGate(t *testing.T) {
	input := `authgate {
		issuer https://idp.example
		client_id gate
		client_secret {env.GATE_SECRET}
		resource https://api.example
		scopes openid email
		session_idle 30m
		allow group admins staff
		allow email_domain example.com
		allow scope api.read
		allow client agent-1 agent-2
		deny client rogue
		name "Reports API"
		header email X-User-Email
		header groups -
		forward_authorization
	}`
	h, err := parseAuthGate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(input)})
	if err != nil {
		t.Fatal(err)
	}
	g := h.(*AuthGate)
	if g.Issuer != "https://idp.example" || g.ClientID != "gate" || g.ClientSecret != "{env.GATE_SECRET}" ||
		g.Resource != "https://api.example" || strings.Join(g.Scopes, " ") != "openid email" || !g.ForwardAuthorization {
		t.Errorf("gate = %+v", g)
	}
	if g.Allow == nil || strings.Join(g.Allow.Groups, ",") != "admins,staff" || g.Allow.EmailDomains[0] != "example.com" || g.Allow.Scopes[0] != "api.read" {
		t.Errorf("allow = %+v", g.Allow)
	}
	if strings.Join(g.Allow.Clients, ",") != "agent-1,agent-2" || g.Deny == nil || strings.Join(g.Deny.Clients, ",") != "rogue" || g.Name != "Reports API" {
		t.Errorf("client rules or name: allow %+v, deny %+v, name %q", g.Allow, g.Deny, g.Name)
	}
	if g.Headers["email"] != "X-User-Email" || g.Headers["groups"] != "" {
		t.Errorf("headers = %v", g.Headers)
	}
	merged, err := mergeHeaders(g.Headers)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range merged {
		if m.Claim == "groups" {
			t.Error("header groups - did not remove the groups header")
		}
		if m.Claim == "email" && m.Header != "X-User-Email" {
			t.Errorf("email header = %q", m.Header)
		}
	}
}

func TestParseAuthGateErrors(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"argument", "authgate extra", `unexpected argument "extra"`},
		{"unknown option", "authgate {\n colour red\n}", `unknown option "colour"`},
		{"allow without kind", "authgate {\n allow\n}", "allow: expected a rule kind"},
		{"allow unknown kind", "authgate {\n allow planet mars\n}", `allow: unknown rule kind "planet"`},
		{"allow without values", "authgate {\n allow group\n}", "allow group: expected at least one value"},
		{"deny without kind", "authgate {\n deny\n}", "deny: expected client"},
		{"deny other kind", "authgate {\n deny group staff\n}", "deny: expected client"},
		{"deny client without values", "authgate {\n deny client\n}", "deny client: expected at least one client_id"},
		{"name arity", "authgate {\n name\n}", "name"},
		{"header arity", "authgate {\n header email\n}", "header: expected <claim> <Header-Name>"},
		{"bad duration", "authgate {\n session_idle forever\n}", "session_idle"},
		{"require nothing", "authgate {\n require\n}", "require: expected mfa, acr <value> or max_age <duration>"},
		{"require unknown", "authgate {\n require otp\n}", "require: expected mfa, acr <value> or max_age <duration>"},
		{"require acr without value", "authgate {\n require acr\n}", "require: expected mfa, acr <value> or max_age <duration>"},
		{"require mfa extra", "authgate {\n require mfa now\n}", "require: expected mfa, acr <value> or max_age <duration>"},
		{"require max_age bad", "authgate {\n require max_age soon\n}", `require max_age: want a duration of at least 1s, not "soon"`},
		{"require max_age too short", "authgate {\n require max_age 10ms\n}", "require max_age: want a duration of at least 1s"},
		{"require acr twice", "authgate {\n require acr a\n require acr b\n}", `require acr: given twice ("a" and "b")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAuthGate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(tc.input)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := mergeHeaders(map[string]string{"shoe_size": "X-Shoe"}); err == nil || !strings.Contains(err.Error(), `unknown claim "shoe_size"`) {
		t.Errorf("mergeHeaders with an unknown claim: %v", err)
	}
}

// TestAuthGateProvisionErrors: gate configuration mistakes stop Caddy at
// start with a clear message.
func TestAuthGateProvisionErrors(t *testing.T) {
	tests := []struct{ name, global, gate, want string }{
		{"no issuer anywhere", "", "authgate", "authgate: no issuer"},
		{"client_id with the local issuer", "gatehouse {\n\t\tissuer https://a.example\n\t}", "authgate {\n\t\tclient_id x\n\t}", "only for an external issuer"},
		{"external without client_id", "", "authgate {\n\t\tissuer https://idp.example\n\t}", "client_id is required"},
		{"short cookie secret", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\tcookie_secret short\n\t}", "cookie_secret 1: must be at least 32 characters"},
		{"scopes without openid", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\tscopes email\n\t\torigin https://app.example\n\t}", "scopes must include openid"},
		// The gate's audience and callback URL come from the site's
		// address; where it has none, the operator must name the origin.
		{"catch-all site without origin", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t}", "matches every host (a catch-all site); set origin"},
		{"origin with a path", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\torigin https://app.example/app\n\t}", "nothing after the host"},
		{"origin with another scheme", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\torigin ftp://app.example\n\t}", "want scheme://host[:port]"},
		{"origin with a wildcard", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\torigin https://*.app.example\n\t}", "plain host name"},
		{"origin with a zero port", "", "authgate {\n\t\tissuer https://idp.example\n\t\tclient_id x\n\t\torigin https://app.example:0\n\t}", "invalid port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_DATA_HOME", dir)
			global := strings.Replace(tc.global, "gatehouse {", "gatehouse {\n\t\tstorage sqlite "+dir+"/g.db", 1)
			cf := "{\n\tadmin off\n\t" + global + "\n}\n:0 {\n\t" + tc.gate + "\n\trespond ok\n}\n"
			err := validateCaddyfile(cf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestParseAuthGateRequire: require mfa and require acr <value> set the
// gate's authentication requirement; they survive the JSON round trip.
func TestParseAuthGateRequire(t *testing.T) {
	h, err := parseAuthGate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(`authgate {
		require mfa
		require acr urn:gatehouse:acr:mfa
		require max_age 15m
	}`)})
	if err != nil {
		t.Fatal(err)
	}
	g := h.(*AuthGate)
	if g.Require == nil || !g.Require.MFA || g.Require.ACR != "urn:gatehouse:acr:mfa" || time.Duration(g.Require.MaxAge) != 15*time.Minute {
		t.Fatalf("require = %+v", g.Require)
	}
	raw, err := json.Marshal(g)
	if err != nil || !strings.Contains(string(raw), `"require":{"mfa":true,"acr":"urn:gatehouse:acr:mfa","max_age":900000000000}`) {
		t.Errorf("JSON %s (%v)", raw, err)
	}
	plain, err := parseAuthGate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("authgate")})
	if err != nil || plain.(*AuthGate).Require != nil {
		t.Errorf("a gate without require: %+v, %v", plain, err)
	}
}
