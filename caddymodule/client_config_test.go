package caddymodule

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// TestClientConfigJSON: the JSON configuration of a static client reads
// the admin API's names and RFC 7591's, durations as strings or
// nanoseconds (like caddy.Duration), and refuses unknown members.
func TestClientConfigJSON(t *testing.T) {
	var c ClientConfig
	err := json.Unmarshal([]byte(`{"id":"web","secret_hashes":["`+testHash+`"],"client_name":"Web","type":"third_party",
		"redirect_uris":["https://a.example/cb"],"scope":"openid email","access_token_lifetime":"15m",
		"refresh_token_lifetime":7200000000000,"grant_types":["authorization_code"]}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "web" || len(c.SecretHashes) != 1 || c.Name != "Web" || c.Type != clients.ThirdParty ||
		!slices.Equal(c.Scopes, []string{"openid", "email"}) || c.AccessTokenLifetime != 15*time.Minute ||
		c.RefreshTokenLifetime != 2*time.Hour || !slices.Equal(c.GrantTypes, []string{"authorization_code"}) {
		t.Fatalf("decoded %+v", c)
	}
	// Written with the names and units it has always had, and read back
	// the same.
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"web","secret_hashes":["` + testHash + `"],"name":"Web","type":"third_party",` +
		`"redirect_uris":["https://a.example/cb"],"scopes":["openid","email"],"grant_types":["authorization_code"],` +
		`"access_token_lifetime":900000000000,"refresh_token_lifetime":7200000000000}`
	if string(out) != want {
		t.Errorf("written as\n%s\nwant\n%s", out, want)
	}
	var again ClientConfig
	if err := json.Unmarshal(out, &again); err != nil || !slices.Equal(again.Scopes, c.Scopes) || again.Name != c.Name {
		t.Errorf("read back %+v (%v)", again, err)
	}

	for body, want := range map[string]string{
		`{"id":"c","colour":"red"}`:               `client "c": colour: unknown field`,
		`{"id":"c","scopes":"openid"}`:            `client "c": scopes: must be an array of strings`,
		`{"id":"c","secret_hashes":"x"}`:          `client "c": secret_hashes: must be an array of strings`,
		`{"id":7}`:                                `client: id: must be a string`,
		`{"id":"c","name":"a","client_name":"b"}`: `client "c": name: is the same field as client_name`,
	} {
		var c ClientConfig
		if err := json.Unmarshal([]byte(body), &c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestParseClientFields: every metadata field is a Caddyfile option, under
// either name and, for a list, in the singular too; list options add up.
func TestParseClientFields(t *testing.T) {
	v, err := parseGlobalOption(caddyfile.NewTestDispenser(`gatehouse {
		client tool {
			client_name "Tool"
			type third_party
			secret_hash `+testHash+`
			redirect_uri https://a.example/cb
			redirect_uris https://a.example/cb2 http://127.0.0.1/cb
			scope openid
			scopes email
			grant_type authorization_code
			token_endpoint_auth_method client_secret_post
			contact ops@a.example
			software_id tool-sw
			software_version 1.2
			refresh_token_lifetime 30d
			bypass_consent_for_offline_access false
		}
	}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	c := app.Clients[0]
	if c.Name != "Tool" || !slices.Equal(c.RedirectURIs, []string{"https://a.example/cb", "https://a.example/cb2", "http://127.0.0.1/cb"}) ||
		!slices.Equal(c.Scopes, []string{"openid", "email"}) || !slices.Equal(c.GrantTypes, []string{"authorization_code"}) ||
		c.TokenEndpointAuthMethod != "client_secret_post" || !slices.Equal(c.Contacts, []string{"ops@a.example"}) ||
		c.SoftwareID != "tool-sw" || c.SoftwareVersion != "1.2" || c.RefreshTokenLifetime != 720*time.Hour {
		t.Errorf("client = %+v", c)
	}
	for input, want := range map[string]string{
		"client c {\n name a b\n}":                                "name: expected one value, got more",
		"client c {\n refresh_token_lifetime 0s\n}":               "refresh_token_lifetime: must be positive",
		"client c {\n grant_type\n}":                              "grant_type: expected at least one value",
		"client c {\n bypass_consent_for_offline_access maybe\n}": "expected no value, true or false",
	} {
		if _, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+input+"\n}"), nil); err == nil ||
			!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%q: %v, want %q", input, err, want)
		}
	}
}
