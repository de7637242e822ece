package clients

import (
	"strings"
	"testing"
	"time"
)

// TestMetadataValidate covers the boundaries of each rule; the
// integration tests cover each rule through the APIs.
func TestMetadataValidate(t *testing.T) {
	base := func(edit func(m *Metadata)) Metadata {
		m := Metadata{Name: "App", Type: FirstParty, RedirectURIs: []string{"https://app.example/cb"}}
		edit(&m)
		m.normalize()
		return m
	}
	tests := []struct {
		name      string
		md        Metadata
		wantField string // "" for valid
	}{
		{"minimal", base(func(m *Metadata) {}), ""},
		{"name of 200 characters", base(func(m *Metadata) { m.Name = strings.Repeat("é", 200) }), ""},
		{"name of 201 characters", base(func(m *Metadata) { m.Name = strings.Repeat("é", 201) }), "client_name"},
		{"tab in a name", base(func(m *Metadata) { m.Name = "a\tb" }), "client_name"},
		{"newline in a description", base(func(m *Metadata) { m.Description = "a\nb\tc" }), ""},
		{"NUL in a description", base(func(m *Metadata) { m.Description = "a\x00b" }), "description"},
		{"invalid UTF-8", base(func(m *Metadata) { m.Name = "a\xffb" }), "client_name"},
		{"shortest access token lifetime", base(func(m *Metadata) { m.AccessTokenLifetime = time.Minute }), ""},
		{"access token lifetime below", base(func(m *Metadata) { m.AccessTokenLifetime = time.Minute - time.Millisecond }), "access_token_lifetime"},
		{"longest access token lifetime", base(func(m *Metadata) { m.AccessTokenLifetime = 24 * time.Hour }), ""},
		{"access token lifetime above", base(func(m *Metadata) { m.AccessTokenLifetime = 24*time.Hour + time.Second }), "access_token_lifetime"},
		{"longest refresh token lifetime", base(func(m *Metadata) { m.RefreshTokenLifetime = 365 * 24 * time.Hour }), ""},
		{"refresh token lifetime above", base(func(m *Metadata) { m.RefreshTokenLifetime = 366 * 24 * time.Hour }), "refresh_token_lifetime"},
		{"bypass on first party", base(func(m *Metadata) { m.BypassConsentForOfflineAccess = true }), ""},
		{"bypass on first-party public", base(func(m *Metadata) {
			m.Type, m.TokenEndpointAuthMethod, m.BypassConsentForOfflineAccess = FirstPartyPublic, "", true
		}), ""},
		{"bypass on third party", base(func(m *Metadata) { m.Type, m.BypassConsentForOfflineAccess = ThirdParty, true }), "bypass_consent_for_offline_access"},
		{"20 redirect URIs", base(func(m *Metadata) {
			m.RedirectURIs = nil
			for i := range 20 {
				m.RedirectURIs = append(m.RedirectURIs, "https://app.example/"+strings.Repeat("x", i))
			}
		}), ""},
		{"empty contact", base(func(m *Metadata) { m.Contacts = []string{""} }), "contacts"},
		{"both grant types", base(func(m *Metadata) { m.GrantTypes = []string{"refresh_token", "authorization_code"} }), ""},
		{"grant type twice", base(func(m *Metadata) { m.GrantTypes = []string{"authorization_code", "authorization_code"} }), "grant_types"},
		{"client_secret_post", base(func(m *Metadata) { m.TokenEndpointAuthMethod = "client_secret_post" }), ""},
		{"loopback back-channel URI", base(func(m *Metadata) { m.BackchannelLogoutURI = "http://127.0.0.1:9/bc" }), ""},
		{"back-channel URI with fragment", base(func(m *Metadata) { m.BackchannelLogoutURI = "https://app.example/bc#x" }), "backchannel_logout_uri"},
		{"logo with user info", base(func(m *Metadata) { m.LogoURI = "https://u@app.example/l.png" }), "logo_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.md.Validate(testScopes)
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.wantField != "" && (err == nil || err.(*MetadataError).Field != tc.wantField):
				t.Fatalf("got %v, want an error about %s", err, tc.wantField)
			}
		})
	}
}

func TestNormalizeDefaultsAuthMethod(t *testing.T) {
	for typ, want := range map[Type]string{FirstParty: "client_secret_basic", ThirdParty: "client_secret_basic",
		FirstPartyPublic: "none", ThirdPartyPublic: "none", "bogus": ""} {
		m := Metadata{Type: typ}
		m.normalize()
		if m.TokenEndpointAuthMethod != want {
			t.Errorf("%s: %q, want %q", typ, m.TokenEndpointAuthMethod, want)
		}
	}
}

// testScopes are the scopes the server supports.
var testScopes = []string{"openid", "profile", "email", "phone", "groups", "offline_access"}
