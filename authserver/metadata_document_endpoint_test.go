package authserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// agentRedirect is the loopback redirect URI of the agent's document.
const agentRedirect = "http://127.0.0.1/callback"

// withMetadataDocuments is a fixture whose server resolves https client
// ids by their metadata documents, with the documents' loopback server
// allowed; it returns the fixture and the client id of a document served
// there.
func withMetadataDocuments(t *testing.T) (*ast.Fixture, string) {
	t.Helper()
	var id string
	docs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Research Agent","redirect_uris":[%q],
			"software_id":"agent-sdk","software_version":"2.0.1","logo_uri":"https://tracker.example/logo.png",
			"client_uri":"https://agent.example/","grant_types":["authorization_code","refresh_token"]}`, id, agentRedirect)
	}))
	t.Cleanup(docs.Close)
	id = docs.URL + "/client.json"
	roots := docs.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	f := ast.New(t, ast.Options{Configure: func(cfg *authserver.Config) {
		cfg.Clients = clients.NewMetadataDocuments(cfg.Clients, clients.MetadataDocumentOptions{
			AllowNetworks:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			SupportedScopes: authserver.SupportedScopes(),
			RootCAs:         roots,
		})
		cfg.ClientIDMetadataDocuments = true
	}})
	return f, id
}

// TestClientIDMetadataDocument: an agent whose client id is the URL of
// its metadata document signs a user in with no registration: the
// metadata advertises the support, the consent page shows what the agent
// says of itself (name, software, the host its document came from, the
// resource) without loading its logo, and its tokens work like a public
// client's.
func TestClientIDMetadataDocument(t *testing.T) {
	f, id := withMetadataDocuments(t)
	var meta map[string]any
	f.Serve(t, f.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil)).JSON(&meta)
	if meta["client_id_metadata_document_supported"] != true {
		t.Errorf("client_id_metadata_document_supported = %v", meta["client_id_metadata_document_supported"])
	}

	q := ast.Edit(f.AuthorizeQuery(id, "openid profile offline_access"), url.Values{
		"redirect_uri": {agentRedirect}, "resource": {"https://localhost:9445/mcp"}})
	f.Server.NameResource("https://localhost:9445/mcp", "Demo MCP server")
	b := f.NewBrowser(t)
	b.SignIn()
	page := b.Authorize(q)
	if !b.OnPage(page, "/consent") {
		t.Fatalf("want the consent page: %s", page)
	}
	host := strings.TrimPrefix(strings.TrimSuffix(id, "/client.json"), "https://")
	text := pageText(page)
	for _, want := range []string{"Research Agent", "Described by " + host, "Says it is agent-sdk 2.0.1",
		"Demo MCP server at https://localhost:9445/mcp", "Third-party app"} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent page does not say %q", want)
		}
	}
	if strings.Contains(page.Body, "tracker.example") {
		t.Error("the consent page loads the agent's logo")
	}
	code := b.Consent(page, "allow").RedirectQuery().Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	var tok ast.Tokens
	res := f.ExchangeRequest(t, id, code, url.Values{"redirect_uri": {agentRedirect}})
	if res.Code != http.StatusOK {
		t.Fatalf("token: %s", res)
	}
	res.JSON(&tok)
	if tok.RefreshToken == "" || ast.Claims(t, tok.AccessToken)["client_id"] != id {
		t.Errorf("tokens %+v", tok)
	}
	next := f.Refresh(t, id, tok.RefreshToken)
	if next.RefreshToken == tok.RefreshToken {
		t.Error("the agent's refresh token did not rotate")
	}
	// The user's connected apps list the agent without its logo.
	apps := b.Get("/account/apps")
	if !strings.Contains(pageText(apps), "Research Agent") || strings.Contains(apps.Body, "tracker.example") {
		t.Errorf("connected apps: %s", apps)
	}
}

// TestClientIDMetadataDocumentOff: without the source, an https client id
// is an unknown client, and the metadata does not claim support.
func TestClientIDMetadataDocumentOff(t *testing.T) {
	f := ast.New(t, ast.Options{})
	var meta map[string]json.RawMessage
	f.Serve(t, f.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil)).JSON(&meta)
	if _, ok := meta["client_id_metadata_document_supported"]; ok {
		t.Error("client_id_metadata_document_supported advertised without support")
	}
	q := ast.Edit(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid"), url.Values{"client_id": {"https://agent.example/client.json"}})
	wantErrorPage(t, f.NewBrowser(t).Authorize(q), http.StatusBadRequest, "invalid_request")
}
