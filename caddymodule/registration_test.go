package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// parseApp parses a gatehouse global option block into the app.
func parseApp(t *testing.T, body string) (*App, error) {
	t.Helper()
	v, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+body+"\n}"), nil)
	if err != nil {
		return nil, err
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	return &app, nil
}

func TestParseRegistration(t *testing.T) {
	tests := []struct {
		input   string
		want    *RegistrationConfig
		wantErr string
	}{
		{"registration off", &RegistrationConfig{Policy: "off"}, ""},
		{"registration open", &RegistrationConfig{Policy: "open"}, ""},
		{"registration token {env.IAT} second-token-0123456789", &RegistrationConfig{Policy: "token",
			InitialAccessTokens: []string{"{env.IAT}", "second-token-0123456789"}}, ""},
		{"registration", nil, "expected off, open or token"},
		{"registration token", nil, "at least one initial access token"},
		{"registration open sesame", nil, "takes no further values"},
		{"registration closed", nil, `unknown policy "closed"`},
		{"registration open {\nrate 1\n}", nil, "takes no block"},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			app, err := parseApp(t, tc.input)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case app.Registration == nil || app.Registration.Policy != tc.want.Policy ||
				strings.Join(app.Registration.InitialAccessTokens, " ") != strings.Join(tc.want.InitialAccessTokens, " "):
				t.Fatalf("got %+v, want %+v", app.Registration, tc.want)
			}
		})
	}
}

// TestRegistrationConfig: the JSON configuration is checked at provision
// time, with placeholders in initial access tokens resolved.
func TestRegistrationConfig(t *testing.T) {
	t.Setenv("GH_TEST_IAT", "from-the-environment-0123")
	repl := caddy.NewReplacer()
	tests := []struct {
		name    string
		cfg     *RegistrationConfig
		want    authserver.RegistrationPolicy
		tokens  []string
		wantErr string
	}{
		{"absent", nil, "", nil, ""},
		{"off", &RegistrationConfig{Policy: "off"}, "", nil, ""},
		{"open", &RegistrationConfig{Policy: "open"}, authserver.RegistrationOpen, nil, ""},
		{"token from env", &RegistrationConfig{Policy: "token", InitialAccessTokens: []string{"{env.GH_TEST_IAT}"}},
			authserver.RegistrationToken, []string{"from-the-environment-0123"}, ""},
		{"token too short", &RegistrationConfig{Policy: "token", InitialAccessTokens: []string{"short"}}, "", nil, "initial access token 1: must be at least 16"},
		{"unset env", &RegistrationConfig{Policy: "token", InitialAccessTokens: []string{"{env.GH_TEST_UNSET}"}}, "", nil, "initial access token 1"},
		{"token without tokens", &RegistrationConfig{Policy: "token"}, "", nil, "needs at least one initial access token"},
		{"open with tokens", &RegistrationConfig{Policy: "open", InitialAccessTokens: []string{"0123456789abcdef0"}}, "", nil, "only with the token policy"},
		{"unknown", &RegistrationConfig{Policy: "public"}, "", nil, `unknown policy "public"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &App{Registration: tc.cfg}
			reg, err := a.registration(repl)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "gatehouse: registration: ") {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case reg.Policy != tc.want || strings.Join(reg.InitialAccessTokens, " ") != strings.Join(tc.tokens, " "):
				t.Fatalf("got %+v", reg)
			}
		})
	}
}

func TestParseBypassConsentForOfflineAccess(t *testing.T) {
	app, err := parseApp(t, `client cli {
		type first_party_public
		redirect_uris http://127.0.0.1/cb
		bypass_consent_for_offline_access
	}
	client other {
		type first_party
		bypass_consent_for_offline_access false
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if !app.Clients[0].BypassConsentForOfflineAccess || app.Clients[1].BypassConsentForOfflineAccess {
		t.Errorf("parsed %+v %+v", app.Clients[0], app.Clients[1])
	}
	if !app.Clients[0].client().BypassConsentForOfflineAccess {
		t.Error("the flag does not reach the core client")
	}
	if _, err := parseApp(t, "client x {\nbypass_consent_for_offline_access maybe\n}"); err == nil {
		t.Error("a non-boolean value was accepted")
	}
	// A third-party client cannot have it.
	c := (&ClientConfig{ID: "web", Metadata: clients.Metadata{Type: clients.ThirdPartyPublic,
		RedirectURIs: []string{"http://127.0.0.1/cb"}, BypassConsentForOfflineAccess: true}}).client()
	if err := c.Prepare(authserver.SupportedScopes()); err == nil || !strings.Contains(err.Error(), "bypass_consent_for_offline_access") {
		t.Errorf("third-party client with the bypass: %v", err)
	}
}
