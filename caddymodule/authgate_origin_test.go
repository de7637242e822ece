package caddymodule

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// TestOriginsOfSite: a gate's origins are read off its site's address
// (host matcher × listener ports, https with TLS), never off a request;
// sites with no definite address need origin.
func TestOriginsOfSite(t *testing.T) {
	tls := caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)}
	hosts := func(h ...string) caddyhttp.MatcherSets {
		return caddyhttp.MatcherSets{{caddyhttp.MatchHost(h)}}
	}
	tests := []struct {
		name    string
		match   caddyhttp.MatcherSets
		listen  []string
		tls     bool
		want    []string
		wantErr string
	}{
		{"https site with a port", hosts("localhost"), []string{":9443"}, true, []string{"https://localhost:9443"}, ""},
		{"default https port is left out", hosts("app.example.com"), []string{":443"}, true, []string{"https://app.example.com"}, ""},
		{"plain http", hosts("localhost"), []string{":8080"}, false, []string{"http://localhost:8080"}, ""},
		{"two bind addresses, one port", hosts("localhost"), []string{"tcp/127.0.0.1:9443", "tcp/[::1]:9443"}, true, []string{"https://localhost:9443"}, ""},
		{"several hosts", hosts("a.example", "B.Example"), []string{":443"}, true, []string{"https://a.example", "https://b.example"}, ""},
		{"IPv6 literal", hosts("::1"), []string{":9443"}, true, []string{"https://[::1]:9443"}, ""},
		{"catch-all", nil, []string{":8080"}, false, nil, "catch-all"},
		{"a matcher set without host", caddyhttp.MatcherSets{{caddyhttp.MatchHost{"a.example"}}, {caddyhttp.MatchPath{"/x"}}}, []string{":443"}, true, nil, "catch-all"},
		{"wildcard", hosts("*.example.com"), []string{":443"}, true, nil, "wildcard"},
		{"placeholder", hosts("{env.HOST}"), []string{":443"}, true, nil, "placeholder"},
		{"unix socket", hosts("localhost"), []string{"unix//run/caddy.sock"}, true, nil, "no TCP port"},
		{"wide port range", hosts("localhost"), []string{":8000-9000"}, true, nil, "ports"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &caddyhttp.Server{
				Listen: tc.listen,
				Routes: caddyhttp.RouteList{
					// an earlier site, already provisioned
					{MatcherSets: hosts("other.example"), Handlers: []caddyhttp.MiddlewareHandler{}},
					// the site being provisioned
					{MatcherSets: tc.match, HandlersRaw: []json.RawMessage{[]byte(`{"handler":"authgate"}`)}},
					// a later site, not provisioned yet
					{MatcherSets: hosts("later.example"), HandlersRaw: []json.RawMessage{[]byte(`{}`)}},
				},
			}
			if tc.tls {
				srv.TLSConnPolicies = tls
			}
			got, err := originsOfSite(srv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to mention %q (origins %q)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("origins = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestSiteOriginsMatch: the Host header must name an origin exactly, but
// for the case of the host name.
func TestSiteOriginsMatch(t *testing.T) {
	o, err := newSiteOrigins([]string{"https://localhost:9443", "https://App.Example", "https://[::1]:9443"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, want string
	}{
		{"localhost:9443", "https://localhost:9443"},
		{"LOCALHOST:9443", "https://localhost:9443"},
		{"app.example", "https://app.example"},
		{"app.example:443", "https://app.example"},
		{"[::1]:9443", "https://[::1]:9443"},
		{"localhost:8443", ""},
		{"localhost", ""},
		{"localhost:443", ""},
		{"localhost.:9443", ""},
		{"localhost:09443", ""},
		{"app.example:8443", ""},
		{"app.example.", ""},
		{"127.0.0.1:9443", ""},
		{"[::1]", ""},
		{"", ""},
		{"localhost:9443@evil.example", ""},
	}
	for _, tc := range tests {
		got, ok := o.match(tc.host)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("match(%q) = %q, %v; want %q", tc.host, got, ok, tc.want)
		}
	}
}
