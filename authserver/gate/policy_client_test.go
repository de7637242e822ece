package gate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

func TestPolicyAllowsClient(t *testing.T) {
	agent := &Identity{Source: SourceBearer, ClientID: "agent"}
	browser := &Identity{Source: SourceSession}
	tests := []struct {
		name   string
		policy Policy
		id     *Identity
		want   bool
	}{
		{"no rules", Policy{}, agent, true},
		{"allowed", Policy{Clients: []string{"other", "agent"}}, agent, true},
		{"not allowed", Policy{Clients: []string{"other"}}, agent, false},
		{"client ids are case-sensitive", Policy{Clients: []string{"Agent"}}, agent, false},
		{"denied", Policy{DenyClients: []string{"agent"}}, agent, false},
		{"deny wins over allow", Policy{Clients: []string{"agent"}, DenyClients: []string{"agent"}}, agent, false},
		{"another denied", Policy{DenyClients: []string{"other"}}, agent, true},
		{"sessions are the user, not an app", Policy{Clients: []string{"other"}, DenyClients: []string{""}}, browser, true},
		{"a token without client_id", Policy{Clients: []string{"agent"}}, &Identity{Source: SourceBearer}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.allowsClient(tc.id); got != tc.want {
				t.Fatalf("allowsClient = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLocalClientPolicy: a gate that names the apps allowed to reach it
// refuses tokens of others with 403, and lets browser sessions through.
func TestLocalClientPolicy(t *testing.T) {
	f := ast.New(t, ast.Options{})
	token := func(client string) string {
		q := ast.Edit(f.AuthorizeQuery(client, "openid"), url.Values{"resource": {gateOrigin}})
		return f.Exchange(t, client, f.NewBrowser(t).Code(q)).AccessToken
	}
	first, third := token(ast.FirstParty), token(ast.ThirdParty)
	tests := []struct {
		name   string
		policy Policy
		token  string
		want   int
	}{
		{"allowed client", Policy{Clients: []string{ast.FirstParty}}, first, http.StatusOK},
		{"other client", Policy{Clients: []string{ast.FirstParty}}, third, http.StatusForbidden},
		{"denied client", Policy{DenyClients: []string{ast.ThirdParty}}, third, http.StatusForbidden},
		{"client not denied", Policy{DenyClients: []string{ast.ThirdParty}}, first, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := localGate(t, f, Config{Policy: tc.policy})
			r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			resp, id := newSite(t, g).do(r)
			if tc.want == http.StatusOK {
				if id == nil {
					t.Fatalf("refused: %d", resp.StatusCode)
				}
				return
			}
			var e struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal([]byte(readAll(t, resp)), &e)
			if id != nil || resp.StatusCode != tc.want || e.Error != "insufficient_scope" {
				t.Errorf("%d %q, want %d insufficient_scope", resp.StatusCode, e.Error, tc.want)
			}
		})
	}
	t.Run("browser session", func(t *testing.T) {
		g := localGate(t, f, Config{Policy: Policy{Clients: []string{ast.ThirdParty}}})
		s := newSite(t, g)
		s.signIn(f.NewBrowser(t), "/")
		if _, id := s.navigate("/"); id == nil {
			t.Error("a signed-in user was refused by a client rule")
		}
	})
}
