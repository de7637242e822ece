package integration

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The end-to-end proof with the real MCP SDK: the official TypeScript
// client (integration/mcpclient, installed by scripts/test.sh with npm ci
// from its lockfile) against an MCP server behind authgate at /mcp.

// mcpServer is a small MCP server (Streamable HTTP, JSON responses) with
// one tool, whoami, that answers with the identity headers the gate gave
// the request.
func mcpServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			// No server-initiated stream (GET) and no sessions (DELETE).
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				ProtocolVersion string `json:"protocolVersion"`
				Name            string `json:"name"`
			} `json:"params"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
			http.Error(w, "bad JSON-RPC", http.StatusBadRequest)
			return
		}
		if msg.ID == nil { // a notification
			w.WriteHeader(http.StatusAccepted)
			return
		}
		var result any
		switch msg.Method {
		case "initialize":
			result = map[string]any{
				"protocolVersion": msg.Params.ProtocolVersion,
				"capabilities":    map[string]any{"tools": map[string]any{}},
				"serverInfo":      map[string]any{"name": "gatehouse-e2e-mcp", "version": "1.0.0"},
			}
		case "tools/list":
			result = map[string]any{"tools": []any{map[string]any{
				"name": "whoami", "description": "Who the gate says is calling",
				"inputSchema": map[string]any{"type": "object"},
			}}}
		case "tools/call":
			who := map[string]string{}
			for name, vs := range r.Header {
				if strings.HasPrefix(name, "X-Gatehouse-") {
					who[name] = vs[0]
				}
			}
			text, _ := json.Marshal(who)
			result = map[string]any{"content": []any{map[string]any{"type": "text", "text": string(text)}}}
		default:
			result = nil
		}
		w.Header().Set("Content-Type", "application/json")
		resp := map[string]any{"jsonrpc": "2.0", "id": msg.ID}
		if result == nil {
			resp["error"] = map[string]any{"code": -32601, "message": "method not found"}
		} else {
			resp["result"] = result
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// nodeClientDir is the installed MCP client, or the test is skipped
// (failed under CI) with the reason.
func nodeClientDir(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node is not installed (needed for the MCP SDK end-to-end test)")
	}
	dir, err = filepath.Abs("mcpclient")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		requireOrSkip(t, "the MCP SDK is not installed: run scripts/test.sh, or npm ci in integration/mcpclient")
	}
	return node, dir
}

type nodeResult struct {
	Tools    []string          `json:"tools"`
	First    map[string]string `json:"first"`
	Second   map[string]string `json:"second"`
	ClientID string            `json:"client_id"`
	Before   struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	} `json:"before"`
	After struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	} `json:"after"`
}

// user plays the user's browser for an authorization request the agent
// opened: signs in as alice, allows, and lets the browser go on to the
// agent's loopback callback. It returns the text of the consent page, ""
// when none was shown.
type user func(t *testing.T, authorizeURL string) (consentText string)

// httpUser is the user with the harness's HTTP browser b.
func httpUser(b *browser) user {
	return func(t *testing.T, authorizeURL string) string {
		t.Helper()
		res := b.authorize(authorizeURL, "")
		text := ""
		if res.sawConsent {
			text = html.UnescapeString(res.last.body)
			res.callback = mustLocation(t, b.submit(res.last, nil, "decision", "allow"))
		}
		if res.callback == nil {
			t.Fatalf("the authorization did not end at the client's callback: %s (%d)\n%s", res.last.url, res.last.status, res.last.body)
		}
		// The browser follows the redirect to the agent's callback.
		resp, err := http.Get(res.callback.String())
		if err != nil {
			t.Fatalf("the agent's callback: %v", err)
		}
		resp.Body.Close()
		return text
	}
}

// chromiumUser is the user in a tab of headless Chromium, a fresh
// browser context (not signed in) per authorization; the consent page is
// checked with axe-core and for its layout, as the pages' own tests do.
func chromiumUser(t *testing.T, in *instance) user {
	s := &browserSuite{in: in, browser: startChromium(t, in), axe: axeSource(t)}
	return func(t *testing.T, authorizeURL string) string {
		t.Helper()
		tab := s.newTab(t, desktopLight)
		tab.open(authorizeURL)
		if !tab.has("#username") {
			t.Fatalf("no login page at %s", tab.location())
		}
		tab.fill("#username", "alice")
		tab.fill("#password", alicePassword)
		tab.click("button[type=submit]")
		text := ""
		if tab.has("button[value=allow]") {
			text = tab.text("body")
			tab.checkAccessibility("the agent's consent page")
			tab.checkLayout("the agent's consent page")
			tab.click("button[value=allow]")
		}
		if loc := tab.location(); !strings.HasPrefix(loc, "http://127.0.0.1:") || !strings.Contains(loc, "code=") {
			t.Fatalf("Chromium ended at %s, not the agent's callback", loc)
		}
		return text
	}
}

// runNodeClient runs the SDK client against serverURL, with u playing
// the user when it asks to authorize, and returns its result.
func runNodeClient(t *testing.T, in *instance, u user, serverURL string, args ...string) (nodeResult, string) {
	t.Helper()
	node, dir := nodeClientDir(t)
	cmd := exec.CommandContext(t.Context(), node, append([]string{"client.mjs", serverURL}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+filepath.Join(in.dir, "pki", "authorities", "local", "root.crt"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var res nodeResult
	var consent string
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var line struct {
			Authorize string          `json:"authorize"`
			Result    json.RawMessage `json:"result"`
			Error     string          `json:"error"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Logf("node: %s", lines.Text())
			continue
		}
		switch {
		case line.Authorize != "":
			consent = u(t, line.Authorize)
		case line.Error != "":
			t.Fatalf("the MCP client failed: %s\nstderr:\n%s", line.Error, stderr.String())
		case line.Result != nil:
			if err := json.Unmarshal(line.Result, &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v\nstderr:\n%s", err, stderr.String())
	}
	return res, consent
}

// TestMCPSDKEndToEnd: the official MCP TypeScript SDK client reaches an
// MCP server behind authgate at /mcp with nothing configured by hand:
// 401 → resource metadata → authorization server metadata → registration
// (dynamic, then a Client ID Metadata Document served from loopback under
// the allow-list) → authorization code with PKCE and resource, the user
// consenting → a tool call that sees the user's identity → a refresh.
// Then: its token is refused by another resource, a second MCP server
// asks for consent again, and a revoked grant stops it within the
// revocation poll interval.
func TestMCPSDKEndToEnd(t *testing.T) {
	nodeClientDir(t)
	mcp := mcpServer(t)

	// The agent's client metadata document, on loopback over TLS.
	var docURL string
	docs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Metadata Agent","redirect_uris":["http://127.0.0.1/callback"],
			"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none",
			"software_id":"gatehouse-e2e","software_version":"1.0.0"}`, docURL)
	}))
	t.Cleanup(docs.Close)
	docURL = docs.URL + "/agent.json"
	caFile := filepath.Join(t.TempDir(), "docs-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: docs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	site, edit := withMCPSite(t)
	second, edit2 := withMCPSite(t)
	for _, s := range []*mcpSite{site, second} {
		s.echo.srv.Close() // the MCP server stands in for the echo upstream
	}
	dir := t.TempDir()
	in := startExampleWith(t, exampleSetup{dir: dir, port: freePort(t), edit: func(cf string) string {
		cf = edit2(edit(cf))
		for _, s := range []*mcpSite{site, second} {
			cf = strings.ReplaceAll(cf, s.echo.addr(), strings.TrimPrefix(mcp.URL, "http://"))
		}
		return cf
	}, extraGatehouse: []string{
		"revocation_poll_interval 1s",
		"client_id_metadata_documents {\n\t\t\tallow_network 127.0.0.0/8\n\t\t\troot_certificate_file " + caFile + "\n\t\t}",
	}})
	// The user's browser: headless Chromium, but in -short mode (no
	// browser tests) the harness's HTTP browser.
	b := in.newBrowser()
	u := httpUser(b)
	if !testing.Short() {
		u = chromiumUser(t, in)
	}
	res, consent := runNodeClient(t, in, u, site.resource)
	for _, want := range []string{"Gatehouse e2e agent", "Says it is gatehouse-e2e 1.0.0", "Example MCP server at " + site.resource} {
		if !strings.Contains(consent, want) {
			t.Errorf("the consent page does not say %q:\n%s", want, consent)
		}
	}
	if strings.Join(res.Tools, ",") != "whoami" {
		t.Errorf("tools %q", res.Tools)
	}
	for _, who := range []map[string]string{res.First, res.Second} {
		if who["X-Gatehouse-User-Id"] != "alice" || who["X-Gatehouse-Name"] != "Alice Example" ||
			who["X-Gatehouse-Email"] != "alice@example.com" || who["X-Gatehouse-Client-Id"] != res.ClientID {
			t.Errorf("the tool saw %v", who)
		}
	}
	if res.After.RefreshToken == "" || res.After.RefreshToken == res.Before.RefreshToken || res.After.AccessToken == res.Before.AccessToken {
		t.Error("the SDK's refresh did not rotate the tokens")
	}
	if aud := fmt.Sprint(jwtClaims(t, res.After.AccessToken)["aud"]); !strings.Contains(aud, site.resource) {
		t.Errorf("aud %s, want %s", aud, site.resource)
	}

	// Another resource refuses the token; another MCP server asks again.
	bearer := map[string]string{"Authorization": "Bearer " + res.After.AccessToken, "Accept": "application/json"}
	if resp := in.request(t, http.MethodPost, second.resource, strings.NewReader("{}"), bearer); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the second MCP server took the first one's token: %d", resp.StatusCode)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {res.ClientID}, "redirect_uri": {"http://127.0.0.1:49152/callback"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"scope": {"openid profile"}, "resource": {second.resource}, "state": {"s"}}
	if again := b.authorize(in.issuer+"/authorize?"+q.Encode(), ""); !again.sawConsent {
		t.Error("a second MCP server did not ask for consent")
	}

	// Revoking the grant (the app's refresh token, RFC 7009) stops the
	// access token at the gate within the poll interval.
	form := url.Values{"token": {res.After.RefreshToken}, "client_id": {res.ClientID}}
	if resp, err := in.client.PostForm(in.issuer+"/revoke", form); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	in.waitRejected(t, site.resource, bearer, time.Second)

	t.Run("client metadata document", func(t *testing.T) {
		if testing.Short() {
			u = httpUser(in.newBrowser())
		}
		res, consent := runNodeClient(t, in, u, site.resource, docURL)
		if res.ClientID != docURL {
			t.Errorf("client id %q, want the document's URL", res.ClientID)
		}
		docHost := strings.TrimPrefix(docs.URL, "https://")
		for _, want := range []string{"Metadata Agent", "Described by " + docHost, "Example MCP server at " + site.resource} {
			if !strings.Contains(consent, want) {
				t.Errorf("the consent page does not say %q:\n%s", want, consent)
			}
		}
		if res.Second["X-Gatehouse-Client-Id"] != docURL || res.Second["X-Gatehouse-Name"] != "Alice Example" {
			t.Errorf("the tool saw %v", res.Second)
		}
	})
}
