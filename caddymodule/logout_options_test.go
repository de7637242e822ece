package caddymodule

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// The logout options of a client reach the app's JSON and the core client.
func TestParseClientLogoutOptions(t *testing.T) {
	input := `gatehouse {
		client web {
			type third_party
			secret_hash ` + testHash + `
			redirect_uris https://app.example.com/cb
			post_logout_redirect_uris https://app.example.com/bye http://127.0.0.1/bye
			post_logout_redirect_uri https://app.example.com/later
			backchannel_logout_uri https://app.example.com/backchannel
		}
	}`
	v, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	c := app.Clients[0]
	if strings.Join(c.PostLogoutRedirectURIs, " ") != "https://app.example.com/bye http://127.0.0.1/bye https://app.example.com/later" ||
		c.BackchannelLogoutURI != "https://app.example.com/backchannel" {
		t.Errorf("client = %+v", c)
	}
	core := c.client()
	if len(core.PostLogoutRedirectURIs) != 3 || core.BackchannelLogoutURI != c.BackchannelLogoutURI {
		t.Errorf("core client = %+v", core)
	}
}

func TestParseClientLogoutOptionErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"post-logout URIs without a value", "post_logout_redirect_uris", "post_logout_redirect_uris: expected at least one value"},
		{"back-channel URI without a value", "backchannel_logout_uri", "backchannel_logout_uri: expected one value"},
		{"two back-channel URIs", "backchannel_logout_uri https://a.example/1 https://a.example/2", "expected one value, got more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n client c {\n "+tc.body+"\n }\n}"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// Bad logout URIs stop Caddy at provision, naming the field.
func TestProvisionLogoutOptionErrors(t *testing.T) {
	const site = "\n:0 {\n\tauthserver\n}\n"
	client := func(extra string) string {
		return "\t\tclient c {\n type third_party_public\n redirect_uris https://app.example/cb\n " + extra + "\n\t\t}\n"
	}
	tests := []struct{ name, extra, want string }{
		{"post-logout http off loopback", "post_logout_redirect_uris http://app.example/bye", `post_logout_redirect_uris: redirect URI "http://app.example/bye" uses plain http`},
		{"post-logout with fragment", "post_logout_redirect_uris https://app.example/bye#x", "post_logout_redirect_uris: redirect URI \"https://app.example/bye#x\" must not contain a fragment"},
		{"post-logout relative", "post_logout_redirect_uris /bye", "post_logout_redirect_uris: redirect URI \"/bye\" must be absolute"},
		{"back-channel over http off loopback", "backchannel_logout_uri http://app.example/bc", "backchannel_logout_uri: back-channel logout URI \"http://app.example/bc\" must use https"},
		{"back-channel with fragment", "backchannel_logout_uri https://app.example/bc#x", "backchannel_logout_uri: back-channel logout URI \"https://app.example/bc#x\" must not contain a fragment"},
		{"back-channel relative", "backchannel_logout_uri /bc", "must be an absolute URL"},
		{"back-channel with user info", "backchannel_logout_uri https://u:p@app.example/bc", "must not contain user information"},
		{"back-channel custom scheme", "backchannel_logout_uri com.example.app:/bc", "must be an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_DATA_HOME", dir)
			cf := "{\n\tadmin off\n\tgatehouse {\n\t\tstorage sqlite " + filepath.Join(dir, "g.db") + "\n issuer https://a.example\n" + client(tc.extra) + "\n\t}\n}\n" + site
			err := validateCaddyfile(cf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	// And good ones pass.
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	cf := "{\n\tadmin off\n\tgatehouse {\n\t\tstorage sqlite " + filepath.Join(dir, "g.db") + "\n issuer https://a.example\n" +
		client("post_logout_redirect_uris https://app.example/bye http://127.0.0.1:8080/bye com.example.app:/bye\n backchannel_logout_uri http://localhost:9000/bc?x=1") + "\n\t}\n}\n" + site
	if err := validateCaddyfile(cf); err != nil {
		t.Fatalf("valid logout options refused: %v", err)
	}
}
