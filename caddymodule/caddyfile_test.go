package caddymodule

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// A cheap argon2id hash of "x" so these tests stay fast.
const testHash = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$8Jz1ElyHYMk0h9Nf8tTfFUDDgNtA5dbF5oZLtHBBYSs"

func TestParseGlobalOption(t *testing.T) {
	input := `gatehouse {
		issuer https://auth.example.com
		storage sqlite /var/lib/gatehouse.db
		access_token_lifetime 5m
		session_lifetime 8h
		cookie_secret {env.COOKIE_SECRET}
		ui {
			product_name "Example Login"
			primary_color "#0f766e"
		}
		user alice {
			email alice@example.com
			email_verified
			name "Alice Example"
			groups staff admins
			password_hash ` + testHash + `
		}
		client web {
			name "Web App"
			type third_party
			secret_hash ` + testHash + `
			redirect_uris https://app.example.com/cb http://127.0.0.1/cb
			scopes openid email
		}
	}`
	d := caddyfile.NewTestDispenser(input)
	v, err := parseGlobalOption(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	hApp, ok := v.(httpcaddyfile.App)
	if !ok || hApp.Name != "gatehouse" {
		t.Fatalf("parsed value = %#v, want the gatehouse app", v)
	}
	var app App
	if err := json.Unmarshal(hApp.Value, &app); err != nil {
		t.Fatal(err)
	}
	if app.Issuer != "https://auth.example.com" || time.Duration(app.AccessTokenLifetime) != 5*time.Minute ||
		time.Duration(app.SessionLifetime) != 8*time.Hour || len(app.CookieSecrets) != 1 {
		t.Errorf("app = %+v", app)
	}
	if !strings.Contains(string(app.StorageRaw), `"backend":"sqlite"`) || !strings.Contains(string(app.StorageRaw), "/var/lib/gatehouse.db") {
		t.Errorf("storage = %s", app.StorageRaw)
	}
	if app.UI == nil || app.UI.ProductName != "Example Login" || app.UI.PrimaryColor != "#0f766e" {
		t.Errorf("ui = %+v", app.UI)
	}
	if len(app.Users) != 1 {
		t.Fatalf("users = %+v", app.Users)
	}
	u := app.Users[0]
	if u.Username != "alice" || u.Email != "alice@example.com" || !u.EmailVerified || u.Name != "Alice Example" ||
		strings.Join(u.Groups, ",") != "staff,admins" || u.PasswordHash != testHash {
		t.Errorf("user = %+v", u)
	}
	if len(app.Clients) != 1 {
		t.Fatalf("clients = %+v", app.Clients)
	}
	c := app.Clients[0]
	if c.ID != "web" || c.Name != "Web App" || c.Type != "third_party" || len(c.SecretHashes) != 1 ||
		len(c.RedirectURIs) != 2 || strings.Join(c.Scopes, " ") != "openid email" {
		t.Errorf("client = %+v", c)
	}
}

// TestParseGlobalOptionErrors: syntax errors name the offending option.
func TestParseGlobalOptionErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"unknown option", "gatehouse {\n colour blue\n}", `unknown option "colour"`},
		{"issuer without value", "gatehouse {\n issuer\n}", "issuer: expected one value"},
		{"issuer with two values", "gatehouse {\n issuer a b\n}", "issuer: expected one value, got more"},
		{"bad duration", "gatehouse {\n access_token_lifetime soon\n}", "access_token_lifetime"},
		{"negative duration", "gatehouse {\n session_lifetime -5m\n}", "must be positive"},
		{"audit_retention zero", "gatehouse {\n audit_retention 0s\n}", "must be positive"},
		{"audit_retention not a duration", "gatehouse {\n audit_retention forever\n}", "audit_retention"},
		{"audit_retention twice the values", "gatehouse {\n audit_retention 1h 2h\n}", "audit_retention"},
		{"unknown storage", "gatehouse {\n storage redis\n}", `unknown backend "redis"`},
		{"unknown sqlite option", "gatehouse {\n storage sqlite {\n path x\n }\n}", `storage sqlite: unknown option "path" (known: timeout)`},
		{"sqlite timeout not a duration", "gatehouse {\n storage sqlite {\n timeout soon\n }\n}", "timeout"},
		{"sqlite timeout negative", "gatehouse {\n storage sqlite {\n timeout -1s\n }\n}", "must be positive"},
		{"postgres timeout negative", "gatehouse {\n storage postgres {\n dsn x\n timeout -1s\n }\n}", "must be positive"},
		{"unknown user option", "gatehouse {\n user bob {\n shoe_size 42\n }\n}", `user bob: unknown option "shoe_size"`},
		{"user without name", "gatehouse {\n user {\n }\n}", "user: expected exactly one username"},
		{"unknown client option", "gatehouse {\n client c {\n colour red\n }\n}", `client c: unknown option "colour"`},
		{"short password min_length", "gatehouse {\n password_policy {\n min_length 6\n }\n}", `min_length: expected a number from 8 to 256`},
		{"smtp without from", "gatehouse {\n smtp {\n host mail.example\n }\n}", `smtp: host and from are required`},
		{"smtp bad port", "gatehouse {\n smtp {\n host mail.example\n port 0\n from a@example.com\n }\n}", `smtp: port: expected a number`},
		{"unknown smtp option", "gatehouse {\n smtp {\n tls on\n }\n}", `smtp: unknown option "tls"`},
		{"unknown password_policy option", "gatehouse {\n password_policy {\n digits 2\n }\n}", `password_policy: unknown option "digits"`},
		{"client without redirect values", "gatehouse {\n client c {\n redirect_uris\n }\n}", "redirect_uris: expected at least one value"},
		{"bad flag", "gatehouse {\n user bob {\n email_verified maybe\n }\n}", "email_verified: expected no value, true or false"},
		{"arguments on the option", `gatehouse extra { }`, "wrong argument count"},
		{"password_hashing unknown option", "gatehouse {\n password_hashing {\n threads 2\n }\n}", `password_hashing: unknown option "threads"`},
		{"password_hashing zero concurrency", "gatehouse {\n password_hashing {\n concurrency 0\n }\n}", "concurrency: expected a positive whole number"},
		{"password_hashing huge concurrency", "gatehouse {\n password_hashing {\n concurrency 1000\n }\n}", "concurrency must be from 1 to 256"},
		{"password_hashing cpu_share above 1", "gatehouse {\n password_hashing {\n cpu_share 1.5\n }\n}", "cpu_share: expected a fraction"},
		{"password_hashing cpu_share zero", "gatehouse {\n password_hashing {\n cpu_share 0\n }\n}", "cpu_share: expected a fraction"},
		{"password_hashing cpu_share NaN", "gatehouse {\n password_hashing {\n cpu_share NaN\n }\n}", "cpu_share: expected a fraction"},
		{"password_hashing long queue_wait", "gatehouse {\n password_hashing {\n queue_wait 5m\n }\n}", "queue_wait must be positive and at most 30s"},
		{"password_hashing negative queue_wait", "gatehouse {\n password_hashing {\n queue_wait -1s\n }\n}", "must be positive"},
		{"password_hashing arguments", "gatehouse {\n password_hashing 4\n}", "wrong argument count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGlobalOption(caddyfile.NewTestDispenser(tc.input), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestProvisionErrors: configuration mistakes fail at provision with a
// message naming the field.
func TestProvisionErrors(t *testing.T) {
	const site = "\n:0 {\n\tauthserver\n}\n"
	client := func(body string) string {
		return "\t\tclient c {\n" + body + "\n\t\t}\n"
	}
	confidential := "type third_party\n secret_hash " + testHash + "\n redirect_uris https://app.example/cb"
	tests := []struct {
		name, gatehouse, want string
	}{
		{"missing issuer", "", "issuer is required"},
		{"http issuer off loopback", "issuer http://auth.example.com", "must use https"},
		{"issuer with query", "issuer https://auth.example.com/?x=1", "must not have a query"},
		{"unknown client type", "issuer https://a.example\n" + client("type fourth_party\n redirect_uris https://a.example/cb"), `type: unknown client type "fourth_party"`},
		{"confidential without secret", "issuer https://a.example\n" + client("type first_party\n redirect_uris https://a.example/cb"), "secret_hash: confidential client type first_party requires a secret hash"},
		{"public with secret", "issuer https://a.example\n" + client("type third_party_public\n secret_hash "+testHash+"\n redirect_uris https://a.example/cb"), "secret_hash: public client type third_party_public must not have a secret"},
		{"bad secret hash", "issuer https://a.example\n" + client("type first_party\n secret_hash plaintext\n redirect_uris https://a.example/cb"), "secret_hash: not an argon2id PHC string"},
		{"http redirect off loopback", "issuer https://a.example\n" + client("type first_party_public\n redirect_uris http://app.example/cb"), "redirect_uris: redirect URI \"http://app.example/cb\" uses plain http"},
		{"redirect with fragment", "issuer https://a.example\n" + client("type first_party_public\n redirect_uris https://app.example/cb#x"), "must not contain a fragment"},
		{"relative redirect", "issuer https://a.example\n" + client("type first_party_public\n redirect_uris /cb"), "must be absolute"},
		{"no redirect", "issuer https://a.example\n" + client("type first_party_public"), "redirect_uris: at least one redirect URI is required"},
		{"unknown scope", "issuer https://a.example\n" + client(confidential+"\n scopes openid admin"), `scopes: unsupported scope "admin"`},
		{"http logo", "issuer https://a.example\n" + client(confidential+"\n logo_uri http://a.example/logo.png"), "logo_uri: must be an absolute https URL"},
		{"bad id token alg", "issuer https://a.example\n" + client(confidential+"\n id_token_signed_response_alg HS256"), "id_token_signed_response_alg"},
		{"duplicate client", "issuer https://a.example\n" + client(confidential) + client(confidential), `duplicate client id "c"`},
		{"ID token alg without its key", "issuer https://a.example\n" + client(confidential+"\n id_token_signed_response_alg EdDSA"), `client "c": id_token_signed_response_alg: there is no EdDSA signing key`},
		{"unsupported signing algorithm", "issuer https://a.example\n signing_algorithms EdDSA HS256", `signing_algorithms: unsupported algorithm "HS256"`},
		{"signing algorithms without any", "issuer https://a.example\n signing_algorithms", "signing_algorithms"},
		{"user without hash", "issuer https://a.example\n user bob {\n email b@example.com\n }", "users: bob: password_hash is required"},
		{"user with bad hash", "issuer https://a.example\n user bob {\n password_hash $2a$10$abc\n }", "users: bob: password_hash"},
		{"duplicate user email", "issuer https://a.example\n user bob {\n email x@example.com\n password_hash " + testHash + "\n }\n user ann {\n email x@example.com\n password_hash " + testHash + "\n }", `already used by user "bob"`},
		{"bad key encryption key", "issuer https://a.example\n key_encryption_key short", "key_encryption_key 1"},
		{"short cookie secret", "issuer https://a.example\n cookie_secret tooshort", "cookie_secret 1: must be at least 32 characters"},
		{"bad primary color", "issuer https://a.example\n ui {\n primary_color red\n }", "ui:"},
		{"pre-publication not shorter than rotation", "issuer https://a.example\n key_rotation_interval 1h\n key_prepublication 1h", "key_prepublication (1h0m0s) must be shorter than key_rotation_interval"},
		{"pre-publication within a reload", "issuer https://a.example\n key_prepublication 1m\n key_reload_interval 1m", "key_prepublication (1m0s) must be longer than key_reload_interval"},
		{"provider bad name", "issuer https://a.example\n provider Corp {\n type oidc\n issuer https://x.example\n client_id a\n client_secret b\n }", `provider name "Corp"`},
		{"provider http issuer", "issuer https://a.example\n provider corp {\n type oidc\n issuer http://x.example\n client_id a\n client_secret b\n }", "must use https"},
		{"provider without secret", "issuer https://a.example\n provider corp {\n type oidc\n issuer https://x.example\n client_id a\n }", "provider corp: client_secret is required"},
		{"provider http icon", "issuer https://a.example\n provider corp {\n type github\n client_id a\n client_secret b\n icon http://x.example/i.png\n }", "icon must be an https URL"},
		{"provider twice", "issuer https://a.example\n provider corp {\n type github\n client_id a\n client_secret b\n }\n provider corp {\n type github\n client_id a\n client_secret b\n }", `provider "corp" is configured twice`},
		{"password off without providers", "issuer https://a.example\n password off", "password sign-in is off and no provider is configured"},
		{"default pre-publication within a reload", "issuer https://a.example\n key_rotation_interval 2m\n key_reload_interval 1m", "must be longer than key_reload_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_DATA_HOME", dir)
			cf := "{\n\tadmin off\n\tgatehouse {\n\t\tstorage sqlite " + filepath.Join(dir, "g.db") + "\n" + tc.gatehouse + "\n\t}\n}\n" + site
			err := validateCaddyfile(cf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// validateCaddyfile adapts and provisions a Caddyfile without serving it.
func validateCaddyfile(cf string) error {
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return err
	}
	return caddy.Validate(&cfg)
}
