package federation

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestOIDC(t *testing.T, m ClaimMapping) *oidcProvider {
	t.Helper()
	cfg := &Config{Name: "corp", Issuer: "https://login.corp.example", ClientID: "c", ClientSecret: "s", Claims: m}
	o, err := newOIDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestClaimMapping: the ID token's claims become an Identity: mapped
// names, lists or single strings, email_verified as a boolean or the
// string "true", RFC 8176 amr values only, auth_time.
func TestClaimMapping(t *testing.T) {
	tests := []struct {
		name   string
		m      ClaimMapping
		claims map[string]any
		want   Identity
	}{
		{"standard", ClaimMapping{}, map[string]any{"preferred_username": "dana", "email": "d@corp.example", "email_verified": true,
			"name": "Dana", "groups": []any{"eng", "oncall"}, "amr": []any{"pwd", "mfa", "custom-thing", "pwd"}, "auth_time": float64(1700000000)},
			Identity{Subject: "s", Username: "dana", Email: "d@corp.example", EmailVerified: true, Name: "Dana",
				Groups: []string{"eng", "oncall"}, AMR: []string{"pwd", "mfa"}, AuthTime: time.Unix(1700000000, 0).UTC()}},
		{"verified as a string", ClaimMapping{}, map[string]any{"email": "d@corp.example", "email_verified": "true"},
			Identity{Subject: "s", Email: "d@corp.example", EmailVerified: true}},
		{"unverified", ClaimMapping{}, map[string]any{"email": "d@corp.example", "email_verified": "yes"},
			Identity{Subject: "s", Email: "d@corp.example"}},
		{"mapped names, one group as a string", ClaimMapping{Username: "upn", Groups: "roles", Email: "mail"},
			map[string]any{"upn": "dana@corp", "roles": "Admin", "mail": "d@corp.example", "email_verified": true, "groups": []any{"ignored"}},
			// A mapped email claim carries no verification: only the
			// standard claim has email_verified.
			Identity{Subject: "s", Username: "dana@corp", Email: "d@corp.example", Groups: []string{"Admin"}}},
		{"wrong types ignored", ClaimMapping{}, map[string]any{"preferred_username": 7, "groups": []any{"a", 3}, "amr": "pwd", "auth_time": "soon"},
			Identity{Subject: "s", Groups: []string{"a"}, AMR: []string{"pwd"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := newTestOIDC(t, tc.m).identity("s", tc.claims)
			if got.Username != tc.want.Username || got.Email != tc.want.Email || got.EmailVerified != tc.want.EmailVerified ||
				got.Name != tc.want.Name || !slices.Equal(got.Groups, tc.want.Groups) || !slices.Equal(got.AMR, tc.want.AMR) ||
				!got.AuthTime.Equal(tc.want.AuthTime) {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// TestNewRefusals: configuration mistakes are refused naming the provider.
func TestNewRefusals(t *testing.T) {
	ok := Config{Name: "corp", Type: TypeOIDC, Issuer: "https://login.corp.example", ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad name", func(c *Config) { c.Name = "Corp SSO" }, "provider name"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("a", 33) }, "provider name"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "client_id is required"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "client_secret is required"},
		{"http issuer", func(c *Config) { c.Issuer = "http://login.corp.example" }, "must use https"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://login.corp.example/?a=b" }, "not an absolute URL"},
		{"unknown type", func(c *Config) { c.Type = "saml" }, "type must be oidc or github"},
		{"http icon", func(c *Config) { c.IconURL = "http://corp.example/i.png" }, "icon must be an https URL"},
		{"data icon", func(c *Config) { c.IconURL = "data:image/png;base64,AAAA" }, "icon must be an https URL"},
		{"bad domain", func(c *Config) { c.AllowedDomains = []string{"a@b.example"} }, "not a domain name"},
		{"github http api", func(c *Config) { c.Type = TypeGitHub; c.GitHubAPIURL = "http://api.ghe.example" }, "must be an https URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("a good configuration is refused: %v", err)
	}
}

// TestAllowedDomains: allowed_domains admits verified emails at exactly
// those domains.
func TestAllowedDomains(t *testing.T) {
	p, err := New(Config{Name: "corp", Type: TypeOIDC, Issuer: "https://login.corp.example", ClientID: "c", ClientSecret: "s",
		AllowedDomains: []string{"Corp.Example"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id Identity
		ok bool
	}{
		{Identity{Email: "d@corp.example", EmailVerified: true}, true},
		{Identity{Email: "d@CORP.example", EmailVerified: true}, true},
		{Identity{Email: "d@corp.example"}, false},                           // unverified
		{Identity{Email: "d@corp.example.evil", EmailVerified: true}, false}, // suffix trick
		{Identity{Email: "d@evil.example", EmailVerified: true}, false},
		{Identity{}, false},
	}
	for _, tc := range tests {
		if err := p.checkDomain(&tc.id); (err == nil) != tc.ok {
			t.Errorf("%+v: error %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

// TestStateCheckedFirst: an answer without this browser's state is
// refused before anything else, even before the provider is asked.
func TestStateCheckedFirst(t *testing.T) {
	p, err := New(Config{Name: "corp", Type: TypeOIDC, Issuer: "https://login.corp.example", ClientID: "c", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFlow("corp")
	for _, q := range []url.Values{{}, {"state": {"other"}}, {"state": {f.State + "x"}}} {
		_, err := p.Callback(t.Context(), "https://x/cb", f, q)
		if fe, ok := err.(*Error); !ok || fe.Cause != CauseState {
			t.Errorf("state %q: %v", q.Get("state"), err)
		}
	}
	other := f
	other.Provider = "github"
	if _, err := p.Callback(t.Context(), "https://x/cb", other, url.Values{"state": {f.State}}); err.(*Error).Cause != CauseState {
		t.Errorf("another provider's flow: %v", err)
	}
}
