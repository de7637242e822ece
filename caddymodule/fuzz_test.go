package caddymodule

// Fuzz targets of the Caddyfile syntax: the gatehouse global option (with
// storage sqlite and postgres, key rotation, registration, throttles, ui,
// user and client blocks) and the
// authserver and authgate directives. Run one for longer with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzParseGlobalOption$' -fuzztime 10m ./caddymodule

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// fuzzDispenser tokenizes like Caddy does; false when the input is not
// even lexically a Caddyfile (Caddy stops there, before any directive).
func fuzzDispenser(input string) (*caddyfile.Dispenser, bool) {
	tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
	if err != nil || len(tokens) == 0 {
		return nil, false
	}
	return caddyfile.NewDispenser(tokens), true
}

// checkParseError: every syntax error says where it is.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	if !strings.Contains(err.Error(), "Caddyfile:") {
		t.Fatalf("error without a file and line: %v", err)
	}
}

// decodeStrict unmarshals JSON into v refusing unknown fields: what the
// parser emits must be exactly what the module reads.
func decodeStrict(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("the parser emitted JSON the module does not read: %v\n%s", err, raw)
	}
}

// FuzzParseGlobalOption: any text after `gatehouse` either fails with an
// error that names the file and line, or yields the gatehouse app's JSON,
// every field of which the app reads, and the same JSON every time.
func FuzzParseGlobalOption(f *testing.F) {
	for _, s := range []string{
		"{\n issuer https://auth.example.com\n storage sqlite /var/lib/g.db\n access_token_lifetime 5m\n}",
		"{\n registration token {env.IAT} another-initial-token\n revocation_poll_interval 2s\n}",
		"{\n login_throttle {\n max_failures 3\n max_failures_per_ip 9\n lockout 1m\n backoff off\n }\n client_auth_throttle off\n}",
		"{\n ui {\n product_name \"Example\"\n primary_color \"#0f766e\"\n logo_url https://a/l.png\n templates /t\n }\n}",
		"{\n user alice {\n email a@example.com\n email_verified false\n groups a b\n password_hash " + testHash + "\n phone_verified\n }\n}",
		"{\n client web {\n type third_party\n secret_hash " + testHash + "\n redirect_uris https://a/cb http://127.0.0.1/cb\n scopes openid\n bypass_consent_for_offline_access\n post_logout_redirect_uri https://a/\n backchannel_logout_uri https://a/bc\n refresh_token_lifetime 1h\n }\n}",
		"{\n key_encryption_key a b\n cookie_secret c\n}",
		"{\n storage postgres {\n dsn {env.DB}\n schema gh\n max_conns 8\n max_idle_conns 2\n conn_max_lifetime 1h\n conn_max_idle_time 5m\n statement_timeout 5s\n }\n}",
		"{\n storage postgres dsn\n}", "{\n storage postgres {\n schema x\n }\n}",
		"{\n key_rotation_interval 720h\n key_prepublication 24h\n key_reload_interval 1m\n}",
		"extra { }", "{\n storage\n}", "{\n storage sqlite a b\n}", "{\n storage sqlite {\n x\n }\n}",
		"{\n user {\n }\n}", "{\n client c {\n redirect_uris\n }\n}", "{\n session_lifetime 0s\n}",
		"{\n login_throttle on\n}", "{\n registration open {\n }\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		parse := func() (any, error) {
			d, ok := fuzzDispenser("gatehouse " + body)
			if !ok {
				return nil, nil
			}
			return parseGlobalOption(d, nil)
		}
		v, err := parse()
		if err != nil {
			checkParseError(t, err)
			return
		}
		if v == nil {
			return
		}
		app, ok := v.(httpcaddyfile.App)
		if !ok || app.Name != "gatehouse" {
			t.Fatalf("parsed into %#v", v)
		}
		var a App
		decodeStrict(t, app.Value, &a)
		if a.StorageRaw != nil {
			var s struct {
				Backend string `json:"backend"`
			}
			if json.Unmarshal(a.StorageRaw, &s) != nil || s.Backend == "" {
				t.Fatalf("storage without a backend: %s", a.StorageRaw)
			}
		}
		if again, _ := parse(); string(again.(httpcaddyfile.App).Value) != string(app.Value) {
			t.Fatal("the same Caddyfile parsed into different JSON")
		}
		// Existing configuration is never silently merged.
		if d, ok := fuzzDispenser("gatehouse " + body); ok {
			if _, err := parseGlobalOption(d, app); err == nil {
				t.Fatal("a second gatehouse option was accepted")
			}
		}
	})
}

// FuzzParseAuthGate: the authgate directive either fails naming file and
// line, or yields a handler whose JSON the module reads back unchanged.
func FuzzParseAuthGate(f *testing.F) {
	for _, s := range []string{
		"{\n issuer https://idp.example\n client_id gate\n client_secret {env.S}\n resource https://api.example\n scopes openid email\n}",
		"{\n origin https://app.example\n callback_path /cb\n logout_path /bye\n session_lifetime 1h\n session_idle 5m\n cookie_name g\n cookie_secret a b\n}",
		"{\n allow user alice\n allow email_domain example.com\n allow group admins staff\n allow scope api\n header email X-Email\n header groups -\n forward_authorization\n}",
		"extra", "{\n allow\n}", "{\n allow planet mars\n}", "{\n header\n}", "{\n session_idle soon\n}", "{\n forward_authorization maybe\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d, ok := fuzzDispenser("authgate " + body)
		if !ok {
			return
		}
		h, err := parseAuthGate(httpcaddyfile.Helper{Dispenser: d})
		if err != nil {
			checkParseError(t, err)
			return
		}
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back AuthGate
		decodeStrict(t, raw, &back)
		if again, _ := json.Marshal(&back); string(again) != string(raw) {
			t.Fatalf("JSON round trip changed %s into %s", raw, again)
		}
	})
}

// FuzzParseAuthServer: the authserver directive takes nothing at all.
func FuzzParseAuthServer(f *testing.F) {
	for _, s := range []string{"", "x", "{\n}", "{\n issuer x\n}", "\n other", "{ }"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d, ok := fuzzDispenser("authserver " + body)
		if !ok {
			return
		}
		tokens, _ := caddyfile.Tokenize([]byte("authserver "+body), "Caddyfile")
		// Nothing may follow the name but an empty block.
		empty := len(tokens) == 1 || tokens[1].Line != tokens[0].Line ||
			(tokens[1].Text == "{" && len(tokens) > 2 && tokens[2].Text == "}")
		_, err := parseAuthServer(httpcaddyfile.Helper{Dispenser: d})
		if err != nil {
			checkParseError(t, err)
		}
		if (err == nil) != empty {
			t.Fatalf("%q: error %v, but empty = %v", body, err, empty)
		}
	})
}

var _ caddy.Module = (*AuthGate)(nil)
