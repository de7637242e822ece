package clients

import (
	"strings"
	"testing"
	"time"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		public  bool
		wantErr string
	}{
		{"https://app.example.com/cb", false, ""},
		{"https://app.example.com/cb?x=1", false, ""},
		{"http://127.0.0.1/callback", false, ""},
		{"http://127.0.0.1:8080/callback", false, ""},
		{"http://[::1]/callback", true, ""},
		{"http://localhost:3000/cb", true, ""},
		{"com.example.app:/oauth2redirect", true, ""},
		{"com.example.app:/oauth2redirect", false, "not allowed"},
		{"myapp:/cb", true, "not allowed"},
		{"http://app.example.com/cb", false, "plain http"},
		{"https://app.example.com/cb#frag", false, "fragment"},
		{"https://app.example.com/cb#", false, "fragment"},
		{"/relative", false, "absolute"},
		{"https://user:pw@app.example.com/cb", false, "user information"},
		{"javascript:alert(1)", true, "not allowed"},
		{"https:///nohost", false, "no host"},
		{"ht tp://x", false, "not a valid URI"},
		// A port is 1-65535 written plainly (RFC 3986 §3.2.3 permits any
		// digits, but 0, overflowing and zero-padded ports name no port,
		// or name one ambiguously).
		{"http://127.0.0.1:1/callback", true, ""},
		{"http://127.0.0.1:65535/callback", true, ""},
		{"https://app.example.com:8443/cb", false, ""},
		{"http://127.0.0.1:0/callback", true, "port"},
		{"http://127.0.0.1:99999/callback", true, "port"},
		{"http://127.0.0.1:65536/callback", true, "port"},
		{"http://127.0.0.1:00080/callback", true, "port"},
		{"http://127.0.0.1:080/callback", true, "port"},
		{"http://127.0.0.1:/callback", true, "port"},
		{"http://[::1]:0/callback", true, "port"},
		{"http://[::1]:00443/callback", true, "port"},
		{"http://localhost:0/cb", true, "port"},
		{"https://app.example.com:0/cb", false, "port"},
		{"https://app.example.com:099999/cb", false, "port"},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			err := ValidateRedirectURI(tc.uri, tc.public)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMatchRedirectURI(t *testing.T) {
	c := &Client{Metadata: Metadata{RedirectURIs: []string{
		"https://app.example.com/cb",
		"http://127.0.0.1/callback",
		"http://[::1]:9000/native?x=1",
		"http://localhost:3000/cb",
	}}}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb/", false},
		{"https://APP.example.com/cb", false},
		{"https://app.example.com/cb?x=1", false},
		{"https://app.example.com:443/cb", false},
		{"https://app.example.com/CB", false},
		// RFC 8252 §7.3: any port on a loopback IP literal.
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:1/callback", true},
		{"http://127.0.0.1:65535/callback", true},
		{"http://127.0.0.1:5000/callback?extra=1", false},
		{"http://127.0.0.1:5000/callback/", false},
		{"http://127.0.0.1:5000/%63allback", false},
		{"http://127.0.0.1:/callback", false},
		{"http://127.0.0.1:abc/callback", false},
		{"http://127.0.0.1:123456/callback", false},
		// Only real ports match "any port": 1-65535, no leading zeros.
		{"http://127.0.0.1:0/callback", false},
		{"http://127.0.0.1:99999/callback", false},
		{"http://127.0.0.1:65536/callback", false},
		{"http://127.0.0.1:00080/callback", false},
		{"http://127.0.0.1:080/callback", false},
		{"http://127.0.0.1:00000/callback", false},
		{"http://[::1]:0/native?x=1", false},
		{"http://[::1]:01234/native?x=1", false},
		{"http://[::1]:99999/native?x=1", false},
		{"http://127.0.0.1:5000/callback#x", false},
		{"http://127.0.0.2:5000/callback", false},
		{"https://127.0.0.1:5000/callback", false},
		{"http://evil@127.0.0.1:5000/callback", false},
		{"http://[::1]/native?x=1", true},
		{"http://[::1]:1234/native?x=1", true},
		{"http://[::1]:1234/native", false},
		{"http://::1:1234/native?x=1", false},
		// localhost is not an IP literal: exact match only.
		{"http://localhost:3000/cb", true},
		{"http://localhost:3001/cb", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			if got := c.MatchRedirectURI(tc.uri); got != tc.want {
				t.Fatalf("MatchRedirectURI(%q) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}

// TestMatchRedirectURIBadRegisteredPort: a registered loopback URI with a
// port that is no port (say, stored before registration refused it)
// matches only itself, never "any port".
func TestMatchRedirectURIBadRegisteredPort(t *testing.T) {
	for _, reg := range []string{"http://127.0.0.1:0/cb", "http://127.0.0.1:99999/cb", "http://127.0.0.1:00080/cb", "http://[::1]:0/cb"} {
		c := &Client{Metadata: Metadata{RedirectURIs: []string{reg}}}
		for _, req := range []string{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb", "http://127.0.0.1:80/cb", "http://[::1]:8080/cb"} {
			if c.MatchRedirectURI(req) {
				t.Errorf("registered %q matched %q", reg, req)
			}
		}
	}
}

func TestClientPrepare(t *testing.T) {
	const hash = "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"
	base := func() *Client {
		return &Client{ID: "c", SecretHashes: []string{hash},
			Metadata: Metadata{Type: ThirdParty, RedirectURIs: []string{"https://a.example/cb"}}}
	}
	tests := []struct {
		name    string
		change  func(c *Client)
		wantErr string
	}{
		{"valid", func(c *Client) {}, ""},
		{"name defaults to id", func(c *Client) { c.Name = "" }, ""},
		{"empty id", func(c *Client) { c.ID = "" }, "id is required"},
		{"id with colon", func(c *Client) { c.ID = "a:b" }, "id: must be"},
		{"unknown type", func(c *Client) { c.Type = "robot" }, `unknown client type "robot"`},
		{"public with secret", func(c *Client) { c.Type = FirstPartyPublic }, "must not have a secret"},
		{"confidential without secret", func(c *Client) { c.SecretHashes = nil }, "requires a secret hash"},
		{"bad sha256 secret", func(c *Client) { c.SecretHashes = []string{"sha256:xyz"} }, "64 hex digits"},
		{"no redirect", func(c *Client) { c.RedirectURIs = nil }, "at least one redirect URI"},
		{"redirect with port 0", func(c *Client) { c.RedirectURIs = []string{"http://127.0.0.1:0/cb"} }, "redirect_uris: redirect URI \"http://127.0.0.1:0/cb\": port"},
		{"post-logout redirect with a padded port", func(c *Client) { c.PostLogoutRedirectURIs = []string{"http://127.0.0.1:00080/bye"} }, "post_logout_redirect_uris:"},
		{"unknown scope", func(c *Client) { c.Scopes = []string{"root"} }, `unsupported scope "root"`},
		{"bad grant type", func(c *Client) { c.GrantTypes = []string{"password"} }, `unsupported grant type "password"`},
		{"bad alg", func(c *Client) { c.IDTokenSigningAlg = "none" }, "id_token_signed_response_alg"},
		{"negative lifetime", func(c *Client) { c.AccessTokenLifetime = -1 }, "access_token_lifetime: must not be negative"},
		{"grant types without a code", func(c *Client) { c.GrantTypes = []string{"refresh_token"} }, "grant_types: refresh_token needs authorization_code"},
		{"grant type listed twice", func(c *Client) { c.GrantTypes = []string{"client_credentials", "client_credentials"} }, "listed twice"},
		{"client credentials alone needs no redirect", func(c *Client) { c.GrantTypes, c.RedirectURIs = []string{"client_credentials"}, nil }, ""},
		{"device code with refresh needs no redirect", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []string{GrantDeviceCode, "refresh_token"}, nil
		}, ""},
		{"code flow still needs a redirect", func(c *Client) {
			c.GrantTypes, c.RedirectURIs = []string{"client_credentials", "authorization_code"}, nil
		}, "at least one redirect URI"},
		{"client credentials for a public client", func(c *Client) {
			c.Type, c.SecretHashes, c.GrantTypes = ThirdPartyPublic, nil, []string{"client_credentials"}
		}, "client_credentials is only for confidential client types"},
		{"none for a confidential client", func(c *Client) { c.TokenEndpointAuthMethod = "none" }, "token_endpoint_auth_method:"},
		{"auth method defaults from the type", func(c *Client) { c.TokenEndpointAuthMethod = "" }, ""},
		{"scope named as the configuration does", func(c *Client) { c.Scopes = []string{"openid", "root"} }, `client "c": scopes: unsupported scope "root"`},
		// Limits of clients created at run time do not apply to the
		// configuration's: the operator wrote it.
		{"long lifetime", func(c *Client) { c.AccessTokenLifetime = 48 * time.Hour }, ""},
		{"long name", func(c *Client) { c.Name = strings.Repeat("n", 300) }, ""},
		{"logo with a fragment", func(c *Client) { c.LogoURI = "https://a.example/logo.png#x" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(c)
			err := c.Prepare(testScopes)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
