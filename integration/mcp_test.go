package integration

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// mcpSite is a second gated site added to Caddyfile.example, as an
// operator would put an MCP server behind Gatehouse (the README's
// recipe): the gate at /mcp with the path-suffixed metadata routed to it,
// a display name for the consent page, and only some apps allowed.
type mcpSite struct {
	origin   string // https://localhost:port
	resource string // origin + "/mcp"
	echo     *echoUpstream
}

// withMCPSite adds the site to the example's Caddyfile: the site block
// of the README's MCP recipe, on a free port, proxying to an echo
// upstream; gateLines replace its commented-out client rule.
func withMCPSite(t *testing.T, gateLines ...string) (*mcpSite, func(string) string) {
	t.Helper()
	port := freePort(t)
	origin := fmt.Sprintf("https://localhost:%d", port)
	site := &mcpSite{origin: origin, resource: origin + "/mcp", echo: newEcho(t)}
	body := readmeMCPSite(t)
	for old, repl := range map[string]string{
		"127.0.0.1:3000":                site.echo.addr(),
		"# allow client <client_id>...": strings.Join(gateLines, "\n\t\t\t"),
	} {
		if !strings.Contains(body, old) {
			t.Fatalf("the README's MCP site has no %q", old)
		}
		body = strings.Replace(body, old, repl, 1)
	}
	block := fmt.Sprintf("\nhttps://localhost:%d {\n\tbind 127.0.0.1 ::1\n\ttls internal\n%s}\n", port, body)
	return site, func(cf string) string { return cf + block }
}

// readmeMCPSite is the body of the mcp.example.com site of the README's
// MCP recipe.
func readmeMCPSite(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- mcp-recipe: begin -->.*?\nmcp\\.example\\.com \\{\n(.*?)\n\\}\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no MCP recipe with an mcp.example.com site")
	}
	return string(m[1]) + "\n"
}

// consentFor runs app's authorization request for resource in b up to
// the consent page (or the callback, when none is shown).
func (in *instance) consentFor(t *testing.T, b *browser, app demoApp, resource string) (authorizeResult, *oauth2.Config, string) {
	t.Helper()
	cfg := in2oauth(in, app.id, app.secret, "openid", "profile")
	v := oauth2.GenerateVerifier()
	res := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", resource)), "")
	return res, cfg, v
}

// TestConsentBoundToResourceThroughCaddy: a third-party app that the user
// allowed to reach one gated site (by its display name on the consent
// page) is asked about again before it gets a token for another; the
// gate's client rules refuse apps the operator did not list.
func TestConsentBoundToResourceThroughCaddy(t *testing.T) {
	site, edit := withMCPSite(t, "allow client demo-web")
	echo := newEcho(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(), edit: edit})
	b := in.newBrowser()

	// RFC 9728: the 401 names the path-suffixed metadata, served
	// without a token, whose resource is the MCP endpoint.
	resp := in.request(t, http.MethodPost, site.resource, strings.NewReader("{}"), map[string]string{"Content-Type": "application/json"})
	wantMeta := site.origin + "/.well-known/oauth-protected-resource/mcp"
	if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `resource_metadata="`+wantMeta+`"`) {
		t.Fatalf("POST /mcp without a token: %d %q", resp.StatusCode, wa)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(in.fetch(t, wantMeta)), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["resource"] != site.resource || fmt.Sprint(meta["authorization_servers"]) != "["+in.issuer+"]" {
		t.Errorf("metadata %v, want resource %s", meta, site.resource)
	}

	res, cfg, v := in.consentFor(t, b, demoWeb, site.resource)
	if !res.sawConsent {
		t.Fatalf("no consent page for the MCP site; last page %s", res.last.url)
	}
	if text := html.UnescapeString(res.last.body); !strings.Contains(text, "Example MCP server at "+site.resource) {
		t.Errorf("the consent page does not name the MCP site:\n%s", text)
	}
	code := mustCode(t, authorizeResult{callback: mustLocation(t, b.submit(res.last, nil, "decision", "allow"))}, "s")
	tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"}
	if resp := in.request(t, http.MethodGet, site.resource, nil, bearer); resp.StatusCode != http.StatusOK {
		t.Fatalf("the MCP site refused its token: %d", resp.StatusCode)
	}
	if resp := in.request(t, http.MethodGet, in.gate+"/", nil, bearer); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the other gated site accepted the MCP site's token: %d", resp.StatusCode)
	}

	// Allowed once: the same resource needs no new consent.
	if again, _, _ := in.consentFor(t, b, demoWeb, site.resource); again.sawConsent || again.callback == nil {
		t.Errorf("asked again for a resource already allowed (consent page %v)", again.sawConsent)
	}
	// Another gated site asks again, naming it by its URI.
	other, _, _ := in.consentFor(t, b, demoWeb, in.gate)
	if !other.sawConsent {
		t.Fatal("an app allowed to reach the MCP site got a code for another site without consent")
	}
	if text := html.UnescapeString(other.last.body); !strings.Contains(text, in.gate) || strings.Contains(text, "Example MCP server") {
		t.Errorf("the consent page for %s:\n%s", in.gate, text)
	}

	// demo-spa is not among the MCP site's allowed clients.
	spaRes, spaCfg, spaV := in.consentFor(t, b, demoSPA, site.resource)
	spaCode := mustCode(t, authorizeResult{callback: mustLocation(t, b.submit(spaRes.last, nil, "decision", "allow"))}, "s")
	spaTok, err := spaCfg.Exchange(in.ctx(), spaCode, oauth2.VerifierOption(spaV))
	if err != nil {
		t.Fatal(err)
	}
	resp = in.request(t, http.MethodGet, site.resource, nil, map[string]string{"Authorization": "Bearer " + spaTok.AccessToken, "Accept": "application/json"})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("a client the site does not allow: %d %q, want 403 insufficient_scope", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if site.echo.count() != 1 {
		t.Errorf("the MCP upstream saw %d requests, want 1", site.echo.count())
	}
}

// mustLocation is where p redirected (to the app's callback).
func mustLocation(t *testing.T, p *page) *url.URL {
	t.Helper()
	u, err := url.Parse(p.location)
	if p.location == "" || err != nil {
		t.Fatalf("no redirect from %s (%d):\n%s", p.url, p.status, p.body)
	}
	return u
}

// TestGateResourceEquivalence: a token asked for with the trailing-slash
// form of the gated site's origin (what older MCP SDKs send) or another
// spelling of it carries the resource in its normal form, and the gate
// takes it (RFC 3986 §6.2.2, §6.2.3).
func TestGateResourceEquivalence(t *testing.T) {
	in, _ := startGatedExample(t)
	b := in.newBrowser()
	for _, spelling := range []string{in.gate + "/", strings.ToUpper(in.gate) + "/./"} {
		res, cfg, v := in.consentFor(t, b, demoWeb, spelling)
		if res.sawConsent {
			res = authorizeResult{callback: mustLocation(t, b.submit(res.last, nil, "decision", "allow"))}
		}
		tok, err := cfg.Exchange(in.ctx(), mustCode(t, res, "s"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if aud := fmt.Sprint(jwtClaims(t, tok.AccessToken)["aud"]); aud != "["+in.gate+" "+in.issuer+"]" {
			t.Errorf("resource %s: aud %s, want the gate's origin in normal form and the issuer", spelling, aud)
		}
		resp := in.request(t, http.MethodGet, in.gate+"/api", nil, map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("resource %s: the gate answered %d", spelling, resp.StatusCode)
		}
	}
}

// TestMCPClientGetsRotatingRefreshTokens: an MCP client asks for the
// scopes the resource metadata advertises, which include offline_access,
// so it gets a refresh token; as a public client its refresh token
// rotates, and a rotated one is refused. The refreshed access token
// still reaches the MCP server.
func TestMCPClientGetsRotatingRefreshTokens(t *testing.T) {
	site, edit := withMCPSite(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), edit: edit})
	var meta struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal([]byte(in.fetch(t, site.origin+"/.well-known/oauth-protected-resource/mcp")), &meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(meta.Scopes, "offline_access") {
		t.Fatalf("scopes_supported %q lacks offline_access", meta.Scopes)
	}
	cfg := in2oauth(in, demoSPA.id, "", meta.Scopes...)
	v := oauth2.GenerateVerifier()
	b := in.newBrowser()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", site.resource)), "allow"), "s")
	tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for the advertised scopes")
	}
	next, st := in.refresh(demoSPA, tok.RefreshToken)
	if st != http.StatusOK || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %d, rotated %v", st, next.RefreshToken != tok.RefreshToken)
	}
	if aud := fmt.Sprint(jwtClaims(t, next.AccessToken)["aud"]); aud != "["+site.resource+" "+in.issuer+"]" {
		t.Errorf("refreshed aud %s, want the MCP resource and the issuer", aud)
	}
	resp := in.request(t, http.MethodPost, site.resource, strings.NewReader("{}"), map[string]string{"Authorization": "Bearer " + next.AccessToken, "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("refreshed token at the MCP server: %d", resp.StatusCode)
	}
	// The MCP server learns who the user is as a gated web app does.
	site.echo.mu.Lock()
	got := site.echo.last.Clone()
	site.echo.mu.Unlock()
	for h, want := range map[string]string{
		"X-Gatehouse-User-Id":     "alice",
		"X-Gatehouse-User":        "alice",
		"X-Gatehouse-Name":        "Alice Example",
		"X-Gatehouse-Email":       "alice@example.com",
		"X-Gatehouse-Groups":      "staff,admins",
		"X-Gatehouse-Client-Id":   demoSPA.id,
		"X-Gatehouse-Auth-Source": "bearer",
	} {
		if g := got.Get(h); g != want {
			t.Errorf("MCP upstream %s = %q, want %q", h, g, want)
		}
	}
	if again, st := in.refresh(demoSPA, tok.RefreshToken); st != http.StatusBadRequest || again.Error != "invalid_grant" {
		t.Errorf("a rotated refresh token used again: %d %q", st, again.Error)
	}
}
