package authserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

const (
	exchanger       = "mcp-upstream"
	exchangerSecret = "mcp-upstream-secret-0123456789"
	mcpAPI          = "https://mcp.example/mcp"
	downstreamAPI   = "https://api.example"
)

func exchangeFixture(t *testing.T, on bool) *ast.Fixture {
	t.Helper()
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: exchanger, SecretHashes: []string{clients.HashSecret(exchangerSecret)}, Metadata: clients.Metadata{
			Name: "MCP server", Type: clients.FirstParty, RedirectURIs: []string{"https://mcp.example/cb"},
			GrantTypes: []string{clients.GrantTypeTokenExchange}}}},
		Secrets:   map[string]string{exchanger: exchangerSecret},
		Configure: func(c *authserver.Config) { c.TokenExchange = on },
	})
}

func exchangeForm(subject string, edit url.Values) url.Values {
	return ast.Edit(url.Values{
		"grant_type":         {clients.GrantTypeTokenExchange},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"resource":           {downstreamAPI},
	}, edit)
}

// TestTokenExchange: an upstream trades the user's token (for the MCP
// resource) for one aimed at a downstream API the user consented to: the
// user stays the subject, the upstream is client_id and act.sub, the
// audience is the downstream API alone, no refresh or ID token, and it
// expires no later than the subject token and dies with its grant.
func TestTokenExchange(t *testing.T) {
	f := exchangeFixture(t, true)
	q := withResources(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid profile offline_access"), mcpAPI, downstreamAPI)
	user := f.Exchange(t, ast.ThirdPartyPublic, f.NewBrowser(t).Code(q))
	narrow := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, user.RefreshToken, query("resource", mcpAPI)))
	f.Clock.Advance(2 * time.Minute)

	res := f.ClientPost(t, "/token", exchanger, exchangeForm(narrow.AccessToken, nil))
	if res.Code != http.StatusOK {
		t.Fatalf("token exchange: %s", res)
	}
	var out struct {
		ast.Tokens
		TokenType       string `json:"token_type"`
		IssuedTokenType string `json:"issued_token_type"`
		Scope           string `json:"scope"`
	}
	res.JSON(&out)
	c := ast.Claims(t, out.AccessToken)
	subject := ast.Claims(t, narrow.AccessToken)
	act, _ := c["act"].(map[string]any)
	switch {
	case out.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" || out.TokenType != "Bearer":
		t.Fatalf("issued_token_type %q token_type %q", out.IssuedTokenType, out.TokenType)
	case out.RefreshToken != "" || out.IDToken != "":
		t.Fatalf("an exchange issued a refresh or ID token: %s", res)
	case c["sub"] != ast.AliceID || c["client_id"] != exchanger || act["sub"] != exchanger:
		t.Fatalf("claims %v: want sub alice, client_id and act.sub %s", c, exchanger)
	case fmt.Sprint(c["aud"]) != downstreamAPI:
		t.Fatalf("aud %v, want only %s", c["aud"], downstreamAPI)
	case c["scope"] != "profile":
		t.Fatalf("scope %v, want profile (no openid, no offline_access)", c["scope"])
	case c["exp"].(float64) > subject["exp"].(float64):
		t.Fatalf("exchanged token expires at %v, after its subject token (%v)", c["exp"], subject["exp"])
	case c["grant_id"] != subject["grant_id"]:
		t.Fatalf("grant_id %v, want the subject's %v", c["grant_id"], subject["grant_id"])
	}
	// Introspection shows it active until the user's grant is revoked.
	if !introspect(t, f, exchanger, out.AccessToken, nil).Active {
		t.Fatal("exchanged token inactive at introspection")
	}
	if res := f.ClientPost(t, "/introspect", exchanger, url.Values{"token": {out.AccessToken}}); !strings.Contains(res.String(), `"act":{"sub":"`+exchanger+`"`) {
		t.Fatalf("introspection does not show the actor: %s", res)
	}

	other := f.TokensFor(t, ast.ThirdPartyPublic, "openid")
	expiring := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, narrow.RefreshToken, query("resource", mcpAPI)))
	refused := []struct {
		name   string
		client string
		form   url.Values
		status int
		code   string
	}{
		{"resource outside the grant", exchanger, exchangeForm(narrow.AccessToken, url.Values{"resource": {"https://other.example"}}), 400, "invalid_target"},
		{"audience outside the grant", exchanger, exchangeForm(narrow.AccessToken, url.Values{"resource": nil, "audience": {"https://other.example"}}), 400, "invalid_target"},
		{"grant without resources", exchanger, exchangeForm(other.AccessToken, nil), 400, "invalid_target"},
		{"no resource", exchanger, exchangeForm(narrow.AccessToken, url.Values{"resource": nil}), 400, "invalid_request"},
		{"wider scope", exchanger, exchangeForm(narrow.AccessToken, url.Values{"scope": {"profile email"}}), 400, "invalid_scope"},
		{"refresh token requested", exchanger, exchangeForm(narrow.AccessToken, url.Values{"requested_token_type": {"urn:ietf:params:oauth:token-type:refresh_token"}}), 400, "invalid_request"},
		{"wrong subject_token_type", exchanger, exchangeForm(narrow.AccessToken, url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}), 400, "invalid_request"},
		{"ID token as subject", exchanger, exchangeForm(user.IDToken, nil), 400, "invalid_grant"},
		{"refresh token as subject", exchanger, exchangeForm(user.RefreshToken, nil), 400, "invalid_grant"},
		{"garbage subject", exchanger, exchangeForm("garbage", nil), 400, "invalid_grant"},
		{"no subject", exchanger, exchangeForm("", url.Values{"subject_token": nil}), 400, "invalid_request"},
		{"actor token", exchanger, exchangeForm(narrow.AccessToken, url.Values{"actor_token": {"x"}, "actor_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}), 400, "invalid_request"},
		{"client not allowed the grant", ast.ThirdParty, exchangeForm(narrow.AccessToken, nil), 400, "unauthorized_client"},
		{"wrong secret", exchanger + "-x", exchangeForm(narrow.AccessToken, nil), 401, "invalid_client"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			wantJSONError(t, f.ClientPost(t, "/token", tc.client, tc.form), tc.status, tc.code)
		})
	}
	t.Run("expired subject", func(t *testing.T) {
		f.Clock.Advance(11 * time.Minute)
		wantJSONError(t, f.ClientPost(t, "/token", exchanger, exchangeForm(expiring.AccessToken, nil)), 400, "invalid_grant")
	})
	t.Run("revoked grant", func(t *testing.T) {
		fresh := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, expiring.RefreshToken, query("resource", mcpAPI)))
		if res := f.ClientPost(t, "/revoke", ast.ThirdPartyPublic, url.Values{"token": {fresh.RefreshToken}}); res.Code != http.StatusOK {
			t.Fatal(res)
		}
		wantJSONError(t, f.ClientPost(t, "/token", exchanger, exchangeForm(fresh.AccessToken, nil)), 400, "invalid_grant")
	})
}

// TestTokenExchangeOff: without Config.TokenExchange the grant type is
// unsupported and not advertised.
func TestTokenExchangeOff(t *testing.T) {
	for _, on := range []bool{false, true} {
		f := exchangeFixture(t, on)
		var meta struct {
			GrantTypes []string `json:"grant_types_supported"`
		}
		f.Get(t, "/.well-known/openid-configuration").JSON(&meta)
		listed := fmt.Sprint(meta.GrantTypes) != "[authorization_code refresh_token]"
		if listed != on {
			t.Fatalf("on=%v: grant_types_supported %v", on, meta.GrantTypes)
		}
		if !on {
			wantJSONError(t, f.ClientPost(t, "/token", exchanger, exchangeForm("x", nil)), 400, "unsupported_grant_type")
		}
	}
}
