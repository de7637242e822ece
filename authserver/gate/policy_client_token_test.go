package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// TestPolicyClientOwnToken: a client acting as itself (client_credentials)
// passes only a gate whose allow client rules name it; user rules never
// admit it, and neither does a gate with no rules at all.
func TestPolicyClientOwnToken(t *testing.T) {
	svc := &Identity{Source: SourceClient, Subject: "svc", ClientID: "svc", Scopes: []string{"email"}}
	tests := []struct {
		name   string
		policy Policy
		want   bool
	}{
		{"no rules", Policy{}, false},
		{"allow user naming its id", Policy{Users: []string{"svc"}}, false},
		{"allow username naming its id", Policy{Usernames: []string{"svc"}}, false},
		{"allow group", Policy{Groups: []string{""}}, false},
		{"allow other client", Policy{Clients: []string{"other"}}, false},
		{"allow client", Policy{Clients: []string{"svc"}}, true},
		{"allow client beside user rules", Policy{Users: []string{"alice"}, Clients: []string{"svc"}}, true},
		{"deny wins", Policy{Clients: []string{"svc"}, DenyClients: []string{"svc"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.allowsIdentity(svc) && tc.policy.allowsClient(svc)
			if got != tc.want {
				t.Fatalf("admitted = %v, want %v", got, tc.want)
			}
		})
	}
	if m := (&Policy{Scopes: []string{"email", "groups"}}).missingScopes(svc); len(m) != 1 || m[0] != "groups" {
		t.Errorf("missing scopes %v, want [groups]: scope rules apply to client tokens", m)
	}
}

// TestLocalClientCredentialsToken: a client_credentials token through a
// gate of this process: admitted only by allow client, and the upstream
// learns the client, that it is a client, and no user.
func TestLocalClientCredentialsToken(t *testing.T) {
	const svc, secret = "svc-batch", "svc-batch-secret-0123456789abcdef"
	f := ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: svc, SecretHashes: []string{clients.HashSecret(secret)}, Metadata: clients.Metadata{
			Type: clients.FirstParty, GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"email"}}}},
		Secrets:   map[string]string{svc: secret},
		Configure: func(c *authserver.Config) { c.ClientCredentials = true },
	})
	res := f.ClientPost(t, "/token", svc, url.Values{"grant_type": {"client_credentials"}, "resource": {gateOrigin}})
	var tok ast.Tokens
	res.JSON(&tok)
	if res.Code != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client_credentials: %s", res)
	}
	tests := []struct {
		name   string
		policy Policy
		admit  bool
	}{
		{"no rules", Policy{}, false},
		{"user rules", Policy{Users: []string{svc}, Groups: []string{"staff"}}, false},
		{"allow client", Policy{Clients: []string{svc}}, true},
		{"allow client with a scope it has", Policy{Clients: []string{svc}, Scopes: []string{"email"}}, true},
		{"allow client with a scope it lacks", Policy{Clients: []string{svc}, Scopes: []string{"groups"}}, false},
		{"deny client", Policy{Clients: []string{svc}, DenyClients: []string{svc}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := localGate(t, f, Config{Policy: tc.policy})
			r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			r.Header.Set("X-Gatehouse-User-Id", "spoofed")
			resp, id := newSite(t, g).do(r)
			if !tc.admit {
				if id != nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("got %d, identity %v; want 403", resp.StatusCode, id)
				}
				return
			}
			if id == nil {
				t.Fatalf("refused: %d", resp.StatusCode)
			}
			for h, want := range map[string]string{
				"X-Gatehouse-Auth-Source": "client", "X-Gatehouse-Client-Id": svc, "X-Gatehouse-Scopes": "email",
				"X-Gatehouse-User-Id": "", "X-Gatehouse-User": "", "X-Gatehouse-Email": "", "X-Gatehouse-Groups": "",
			} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
		})
	}
}
