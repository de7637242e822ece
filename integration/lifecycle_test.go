package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/oauth2"
)

// TestRestartKeepsState: signing keys, grants and sessions survive a
// restart on the same data directory.
func TestRestartKeepsState(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	in := startExampleIn(t, dir, port)
	jwks1 := in.getBody("/jwks.json")
	b := in.newBrowser()
	cfg := in.oauthConfig(demoSPA, "openid", "email", "offline_access")
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	v := oauth2.GenerateVerifier()
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
	tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}

	in = startExampleIn(t, dir, port)
	if jwks2 := in.getBody("/jwks.json"); jwks2 != jwks1 {
		t.Errorf("JWKS changed across a restart:\n%s\n%s", jwks1, jwks2)
	}
	if st := in.userinfoStatus(tok.AccessToken); st != http.StatusOK {
		t.Errorf("an access token from before the restart: userinfo %d", st)
	}
	r, st := in.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"demo-spa"}})
	if st != http.StatusOK || r.RefreshToken == "" {
		t.Errorf("a refresh token from before the restart: %d %+v", st, r)
	}
	// The browser session survives too: prompt=none gets a code.
	b.client.Transport = in.client.Transport
	first := in.oauthConfig(demoInternal)
	res := b.authorize(first.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")), "")
	mustCode(t, res, "s")
}

// TestSessionRenewedAtLogin: every login gets a new session id and the old
// session stops working, so a session planted before login is never
// promoted (session fixation).
func TestSessionRenewedAtLogin(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoInternal)
	issuer, _ := url.Parse(in.issuer)
	mustCode(t, b.authorize(cfg.AuthCodeURL("s"), ""), "s")
	old := sessionCookie(t, b.client.Jar, issuer)

	mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "login")), ""), "s")
	renewed := sessionCookie(t, b.client.Jar, issuer)
	if renewed.Value == old.Value {
		t.Fatal("the session cookie did not change at login")
	}
	// A browser presenting the old cookie is not signed in any more.
	stale := in.newBrowser()
	stale.client.Jar.SetCookies(issuer, []*http.Cookie{old})
	res := stale.authorize(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")), "")
	if res.callback == nil || res.callback.Query().Get("error") != "login_required" {
		t.Fatalf("the pre-login session still works: %+v", res.callback)
	}
	// A tampered cookie is ignored the same way.
	forged := *renewed
	forged.Value = strings.ToUpper(forged.Value[:10]) + forged.Value[10:]
	tampered := in.newBrowser()
	tampered.client.Jar.SetCookies(issuer, []*http.Cookie{&forged})
	res = tampered.authorize(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")), "")
	if res.callback == nil || res.callback.Query().Get("error") != "login_required" {
		t.Fatalf("a tampered session cookie was accepted: %+v", res.callback)
	}
}

func sessionCookie(t *testing.T, jar http.CookieJar, u *url.URL) *http.Cookie {
	t.Helper()
	for _, c := range jar.Cookies(u) {
		if c.Name == "__Host-gatehouse_session" {
			return &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", Secure: true}
		}
	}
	t.Fatal("no __Host-gatehouse_session cookie")
	return nil
}

// TestJSONConfig: Gatehouse runs from Caddy's native JSON too, and the
// discovery document lists exactly what is implemented.
func TestJSONConfig(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	issuer := fmt.Sprintf("https://localhost:%d", port)
	cfg := map[string]any{
		"admin":   map[string]any{"disabled": true},
		"storage": map[string]any{"module": "file_system", "root": dir},
		"apps": map[string]any{
			"gatehouse": map[string]any{
				"issuer":  issuer,
				"storage": map[string]any{"backend": "sqlite", "path": filepath.Join(dir, "g.db")},
				"clients": []any{map[string]any{
					"id": "cli", "type": "first_party_public", "redirect_uris": []string{"http://127.0.0.1/cb"},
				}},
			},
			"pki": map[string]any{"certificate_authorities": map[string]any{"local": map[string]any{"install_trust": false}}},
			"tls": map[string]any{"automation": map[string]any{"policies": []any{map[string]any{
				"subjects": []string{"localhost"}, "issuers": []any{map[string]any{"module": "internal"}},
			}}}},
			"http": map[string]any{"servers": map[string]any{"srv": map[string]any{
				"listen": []string{fmt.Sprintf("127.0.0.1:%d", port)},
				// No http->https redirect server: it would bind port 80.
				"automatic_https": map[string]any{"disable_redirects": true},
				"routes": []any{map[string]any{
					"match":  []any{map[string]any{"host": []string{"localhost"}}},
					"handle": []any{map[string]any{"handler": "authserver"}},
				}},
			}}},
		},
	}
	raw, _ := json.Marshal(cfg)
	if err := caddy.Load(raw, true); err != nil {
		t.Fatalf("loading the JSON config: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	in := &instance{t: t, dir: dir, issuer: issuer, port: port}
	in.waitReady()

	var meta map[string]any
	if err := json.Unmarshal([]byte(in.getBody("/.well-known/openid-configuration")), &meta); err != nil {
		t.Fatal(err)
	}
	var oauthMeta map[string]any
	if err := json.Unmarshal([]byte(in.getBody("/.well-known/oauth-authorization-server")), &oauthMeta); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(meta) != fmt.Sprint(oauthMeta) {
		t.Error("the OIDC and RFC 8414 documents differ")
	}
	for k, want := range map[string]string{
		"issuer":                 issuer,
		"authorization_endpoint": issuer + "/authorize",
		"token_endpoint":         issuer + "/token",
		"userinfo_endpoint":      issuer + "/userinfo",
		"jwks_uri":               issuer + "/jwks.json",
	} {
		if meta[k] != want {
			t.Errorf("%s = %v, want %s", k, meta[k], want)
		}
	}
	for _, absent := range []string{"registration_endpoint"} {
		if _, ok := meta[absent]; ok {
			t.Errorf("discovery advertises %s, which is not implemented", absent)
		}
	}
	if fmt.Sprint(meta["code_challenge_methods_supported"]) != "[S256]" || fmt.Sprint(meta["response_types_supported"]) != "[code]" {
		t.Errorf("discovery = %v", meta)
	}
	if meta["request_uri_parameter_supported"] != false {
		t.Error("request_uri_parameter_supported must be stated false (its default is true)")
	}
	// Every path discovery names answers.
	for _, k := range []string{"jwks_uri"} {
		resp, err := in.client.Get(meta[k].(string))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", k, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	// Requests for other paths fall through to the site's other routes;
	// none answers here, so the issuer's 404 page does.
	resp, err := in.client.Get(issuer + "/not-gatehouse")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unrelated path: %d", resp.StatusCode)
	}
}
