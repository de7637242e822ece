package integration

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	serviceID     = "svc-reports"
	serviceSecret = "svc-reports-secret-0123456789"
)

// startClientCredentials runs the example with the client_credentials
// grant on, a service client that may use it, and a gated site with two
// areas: /api admits that client (allow client), /staff only users
// (allow group).
func startClientCredentials(t *testing.T, echo *echoUpstream) *instance {
	t.Helper()
	service := "client " + serviceID + " {\n\t\t\ttype first_party\n\t\t\tsecret_hash " + sha256Secret(serviceSecret) +
		"\n\t\t\tgrant_types client_credentials\n\t\t\tscopes email groups\n\t\t}"
	return startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(),
		extraGatehouse: []string{"client_credentials", service},
		edit: func(cf string) string {
			areas := "\thandle /staff/* {\n\t\tauthgate {\n\t\t\tallow group staff\n\t\t}\n\t\treverse_proxy " + echo.addr() + "\n\t}\n" +
				"\thandle {\n\t\tauthgate {\n\t\t\tallow client " + serviceID + "\n\t\t\tallow group staff\n\t\t}\n\t\treverse_proxy " + echo.addr() + "\n\t}\n}\n"
			site := regexp.MustCompile(`(?s)\tauthgate\n\treverse_proxy ` + regexp.QuoteMeta(echo.addr()) + ` \{.*?\n\t\}\n\}\n`)
			if !site.MatchString(cf) {
				t.Fatal("the gated site of Caddyfile.example changed")
			}
			return site.ReplaceAllLiteralString(cf, areas)
		}})
}

// TestClientCredentialsThroughGate (issue 17 item 1): a service gets a
// token for itself with golang.org/x/oauth2/clientcredentials (RFC 6749
// §4.4), aimed at the gated site (RFC 8707). The gate lets it into the
// area whose policy names it, as a client and no user; a user-only area
// refuses it.
func TestClientCredentialsThroughGate(t *testing.T) {
	echo := newEcho(t)
	in := startClientCredentials(t, echo)
	cfg := clientcredentials.Config{
		ClientID: serviceID, ClientSecret: serviceSecret, TokenURL: in.issuer + "/token",
		Scopes: []string{"email"}, EndpointParams: url.Values{"resource": {in.gate}}, AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cfg.Token(in.ctx())
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.RefreshToken != "" || tok.Extra("id_token") != nil || tok.TokenType != "Bearer" || tok.Extra("scope") != "email" {
		t.Errorf("token response: type %q refresh %q id_token %v scope %v", tok.TokenType, tok.RefreshToken, tok.Extra("id_token"), tok.Extra("scope"))
	}
	claims := jwtClaims(t, tok.AccessToken)
	if claims["sub"] != serviceID || claims["client_id"] != serviceID || claims["aud"] != in.gate {
		t.Errorf("access token claims %v", claims)
	}

	api := cfg.Client(in.ctx())
	get := func(path string) (int, echoed) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, in.gate+path, nil)
		req.Header.Set("X-Gatehouse-User-Id", "spoofed")
		resp, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var got echoed
		if resp.StatusCode == http.StatusOK {
			got = decodeEcho(t, &page{status: resp.StatusCode, body: string(body), url: req.URL})
		}
		return resp.StatusCode, got
	}
	status, got := get("/api/report")
	if status != http.StatusOK {
		t.Fatalf("the area allowing the client answered %d", status)
	}
	for h, want := range map[string]string{
		"X-Gatehouse-Auth-Source": "client", "X-Gatehouse-Client-Id": serviceID, "X-Gatehouse-Scopes": "email",
		"X-Gatehouse-User-Id": "", "X-Gatehouse-User": "", "X-Gatehouse-Email": "", "X-Gatehouse-Groups": "",
	} {
		if v := got.Headers.Get(h); v != want {
			t.Errorf("upstream %s = %q, want %q", h, v, want)
		}
	}
	hits := echo.count()
	if status, _ := get("/staff/report"); status != http.StatusForbidden {
		t.Errorf("the user-only area answered %d, want 403", status)
	}
	if echo.count() != hits {
		t.Error("the user-only area passed the client's request upstream")
	}

	var meta struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal([]byte(in.fetch(t, in.issuer+"/.well-known/openid-configuration")), &meta); err != nil || !slices.Contains(meta.GrantTypes, "client_credentials") {
		t.Errorf("discovery grant_types_supported %v (%v)", meta.GrantTypes, err)
	}
}

// TestClientCredentialsRefusals: what the grant refuses, as x/oauth2
// reports it (RFC 6749 §5.2 codes).
func TestClientCredentialsRefusals(t *testing.T) {
	in := startClientCredentials(t, newEcho(t))
	tests := []struct {
		name   string
		id     string
		secret string
		scopes []string
		code   string
	}{
		{"openid needs a user", serviceID, serviceSecret, []string{"openid"}, "invalid_scope"},
		{"offline_access needs a user", serviceID, serviceSecret, []string{"offline_access"}, "invalid_scope"},
		{"scope not registered", serviceID, serviceSecret, []string{"phone"}, "invalid_scope"},
		{"wrong secret", serviceID, "wrong", nil, "invalid_client"},
		{"client without the grant", "demo-internal", "demo-internal-secret", nil, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: tc.id, ClientSecret: tc.secret, TokenURL: in.issuer + "/token", Scopes: tc.scopes, AuthStyle: oauth2.AuthStyleInHeader}
			_, err := cfg.Token(in.ctx())
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}
