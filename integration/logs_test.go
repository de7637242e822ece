package integration

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// secretSet collects every secret a test handles, by what it is.
type secretSet map[string]string

func (s secretSet) add(what, value string) {
	// Short values would match by chance; none of the real ones is short.
	if len(value) >= 12 {
		s[what] = value
	}
}

// TestNoSecretsInLogs runs every flow that handles a secret — login
// (wrong and right password), consent, code exchange, refresh, userinfo,
// introspection, revocation, RP-initiated logout, the gate's login,
// Bearer use and logout, client creation and secret rotation on the
// admin API, dynamic registration — with Caddy's and Gatehouse's logs at
// DEBUG, and checks that no password, client secret, authorization code,
// access, ID or refresh token, registration access token, CSRF token or
// cookie value is in them.
//
// Caddy's access logs (the `log` directive; off unless configured) redact
// Cookie, Set-Cookie and Authorization, but log request URIs and response
// headers, where OAuth puts authorization codes (the redirect to a
// client, the gate's callback) and RP-initiated logout its
// id_token_hint. With the filter SECURITY.md recommends, they hold none.
func TestNoSecretsInLogs(t *testing.T) {
	echo := newEcho(t)
	li := startLoggedExample(t, echo.addr())
	in := li.instance
	secrets := secretSet{}
	secrets.add("alice's password", alicePassword)
	secrets.add("a wrong password", "not-alice-but-close-42")
	secrets.add("demo-web's secret", demoWeb.secret)
	secrets.add("demo-internal's secret", demoInternal.secret)

	// Admin API: a client with a generated secret, then a second one.
	created := call(t, http.DefaultClient, http.MethodPost, li.admin+"/gatehouse/clients",
		map[string]any{"name": "Log Test", "type": "third_party", "redirect_uris": []string{"http://127.0.0.1/callback"}}, nil)
	var cj clientJSON
	mustJSONBody(t, created, &cj)
	secrets.add("admin-created client secret", cj.ClientSecret)
	rotated := call(t, http.DefaultClient, http.MethodPost, li.admin+"/gatehouse/clients/"+url.PathEscape(cj.ClientID)+"/secret/start", nil, nil)
	var rj clientJSON
	mustJSONBody(t, rotated, &rj)
	secrets.add("rotated client secret", rj.ClientSecret)
	for _, s := range []string{cj.ClientSecret, rj.ClientSecret} {
		if st, e, _ := in.clientCall(t, "/introspect", cj.ClientID, s, url.Values{"token": {"x"}}); st != 200 {
			t.Fatalf("introspect as the created client: %d %s", st, e)
		}
	}

	// Dynamic registration and its management token.
	reg := call(t, in.client, http.MethodPost, in.issuer+"/register", map[string]any{"redirect_uris": []string{"http://127.0.0.1/callback"}, "client_name": "Logged"}, nil)
	var rr struct {
		ClientID                string `json:"client_id"`
		RegistrationAccessToken string `json:"registration_access_token"`
	}
	mustJSONBody(t, reg, &rr)
	secrets.add("registration access token", rr.RegistrationAccessToken)
	if got := call(t, in.client, http.MethodGet, in.issuer+"/register?client_id="+url.QueryEscape(rr.ClientID), nil,
		map[string]string{"Authorization": "Bearer " + rr.RegistrationAccessToken}); got.status != 200 {
		t.Fatalf("reading the registration: %d", got.status)
	}

	// Login (a wrong password first), consent, code, tokens.
	b, rec := in.recordingBrowser("")
	cfg := in.oauthConfig(demoWeb, "openid", "email", "offline_access")
	v := oauth2.GenerateVerifier()
	login := b.get(cfg.AuthCodeURL("st-logs", oauth2.S256ChallengeOption(v)))
	secrets.add("CSRF token", login.forms[0].fields.Get("csrf"))
	if p := b.submit(login, map[string]string{"username": "alice", "password": "not-alice-but-close-42"}); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	res := b.authorize(cfg.AuthCodeURL("st-logs", oauth2.S256ChallengeOption(v)), "allow")
	code := mustCode(t, res, "st-logs")
	secrets.add("authorization code", code)
	tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	secrets.add("access token", tok.AccessToken)
	secrets.add("refresh token", tok.RefreshToken)
	secrets.add("ID token", idToken)
	refreshed, st := in.refresh(demoWeb, tok.RefreshToken)
	if st != 200 {
		t.Fatalf("refresh: %d", st)
	}
	secrets.add("refreshed access token", refreshed.AccessToken)
	secrets.add("refreshed ID token", refreshed.IDToken)
	if st := in.userinfoStatus(refreshed.AccessToken); st != 200 {
		t.Fatalf("userinfo: %d", st)
	}
	for _, raw := range []string{refreshed.AccessToken, tok.RefreshToken} {
		if st, e, _ := in.clientCall(t, "/introspect", demoWeb.id, demoWeb.secret, url.Values{"token": {raw}}); st != 200 {
			t.Fatalf("introspect: %d %s", st, e)
		}
	}
	for _, raw := range []string{refreshed.AccessToken, tok.RefreshToken} {
		if st, e, _ := in.clientCall(t, "/revoke", demoWeb.id, demoWeb.secret, url.Values{"token": {raw}}); st != 200 {
			t.Fatalf("revoke: %d %s", st, e)
		}
	}
	// RP-initiated logout with the ID token as hint, in the query.
	if p := b.get(in.issuer + "/logout?" + url.Values{"id_token_hint": {idToken}}.Encode()); p.status != http.StatusOK {
		t.Fatalf("logout: %d", p.status)
	}

	// The gate: browser login, Bearer use, logout.
	g, gateRec := in.recordingBrowser("")
	decodeEcho(t, g.authorize(li.gate+"/reports", "").last)
	for _, h := range gateRec.hops {
		if u, err := url.Parse(h.location); err == nil && strings.HasSuffix(u.Path, "/.gatehouse/callback") {
			secrets.add("gate's authorization code", u.Query().Get("code"))
		}
	}
	gcfg := in.oauthConfig(demoWeb, "openid")
	gv := oauth2.GenerateVerifier()
	gcode := mustCode(t, in.newBrowser().authorize(gcfg.AuthCodeURL("s", oauth2.S256ChallengeOption(gv), oauth2.SetAuthURLParam("resource", li.gate)), "allow"), "s")
	secrets.add("authorization code for the gate", gcode)
	gtok, err := gcfg.Exchange(in.ctx(), gcode, oauth2.VerifierOption(gv))
	if err != nil {
		t.Fatal(err)
	}
	secrets.add("access token for the gate", gtok.AccessToken)
	if resp := in.request(t, http.MethodGet, li.gate+"/api", nil, map[string]string{"Authorization": "Bearer " + gtok.AccessToken, "Accept": "application/json"}); resp.StatusCode != 200 {
		t.Fatalf("Bearer at the gate: %d", resp.StatusCode)
	}
	gateSignOut(t, g, li.gate)

	for _, r := range []*recorder{rec, gateRec} {
		for _, h := range r.hops {
			for _, sc := range h.setCookies {
				name, rest, _ := strings.Cut(sc, "=")
				value, _, _ := strings.Cut(rest, ";")
				secrets.add("cookie "+name, value)
			}
		}
	}
	if len(secrets) < 20 {
		t.Fatalf("only %d secrets collected; the flows did not run as expected: %v", len(secrets), slices.Sorted(maps.Keys(secrets)))
	}

	// Gatehouse's and Caddy's own log: nothing, at DEBUG.
	main := readLog(t, li.logFile)
	for _, want := range []string{`"msg":"login failed"`, `"msg":"authorization code redeemed"`, `"msg":"token introspected"`, `"level":"debug"`, `"msg":"gate login"`} {
		if !bytes.Contains(main, []byte(want)) {
			t.Errorf("the log lacks %s: not everything was logged", want)
		}
	}
	if leaks := findSecrets(main, secrets); len(leaks) > 0 {
		t.Errorf("Caddy's log contains: %s", strings.Join(leaks, ", "))
	}
	// The recommended access log: nothing.
	filtered := readLog(t, li.filtered)
	for _, want := range []string{"/.gatehouse/callback?", "/token", "/logout?", "REDACTED"} {
		if !bytes.Contains(filtered, []byte(want)) {
			t.Errorf("the filtered access log lacks %q: not everything was logged", want)
		}
	}
	if leaks := findSecrets(filtered, secrets); len(leaks) > 0 {
		t.Errorf("the filtered access log contains: %s", strings.Join(leaks, ", "))
	}
	// A plain access log: only what OAuth itself puts in URLs.
	urlBorne := map[string]bool{"authorization code": true, "gate's authorization code": true, "authorization code for the gate": true, "ID token": true}
	var unexpected, expected []string
	for _, found := range findSecrets(readLog(t, li.rawAccess), secrets) {
		if what, _, _ := strings.Cut(found, ` "logger"`); urlBorne[what] {
			expected = append(expected, what)
		} else {
			unexpected = append(unexpected, found)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("the plain access log contains: %s", strings.Join(unexpected, ", "))
	}
	t.Logf("URL-borne values in the plain access log (why SECURITY.md recommends the filter): %s", strings.Join(expected, ", "))
}

func readLog(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return b
}

// findSecrets names the secrets found in log, in whatever form a JSON log
// or a URL could hold them, with the logger and message of the first
// line holding each.
func findSecrets(log []byte, secrets secretSet) []string {
	var found []string
	for what, v := range secrets {
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), jsonEscaped(v)} {
			if i := bytes.Index(log, []byte(form)); i >= 0 {
				start := bytes.LastIndexByte(log[:i], '\n') + 1
				end := i + bytes.IndexByte(log[i:], '\n')
				if end < i {
					end = len(log)
				}
				where := regexp.MustCompile(`"(logger|msg)":"[^"]*"`).FindAll(log[start:end], 2)
				found = append(found, what+" "+string(bytes.Join(where, []byte(" "))))
				break
			}
		}
	}
	sort.Strings(found)
	return found
}

// jsonEscaped is v as it appears inside a JSON string.
func jsonEscaped(v string) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}
