package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Users' connected apps: the account page and the admin API.

// TestConnectedAppsPage: a signed-in user sees the apps they allowed, with
// scopes and dates, and removing one kills its tokens and its consent.
func TestConnectedAppsPage(t *testing.T) {
	in := startExample(t)
	db := in.openStore(t)
	b := in.newBrowser()

	// Signed out: the login page, then back to the account page.
	p := b.get(in.issuer + "/account/apps")
	if p.status != http.StatusOK || p.url.Path != "/login" || len(p.forms) != 1 {
		t.Fatalf("signed out: want the login page, got %d %s", p.status, p.url)
	}
	if strings.Contains(p.body, "to continue to") {
		t.Error("the login page names an app although none asked")
	}
	p = b.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	wantAccountPage(t, p)
	if !strings.Contains(p.body, "You have not allowed any apps") {
		t.Errorf("want the empty list:\n%s", p.body)
	}

	web := in.tokensFor(t, b, demoWeb, "openid", "email", "offline_access")
	in.tokensFor(t, b, demoInternal, "openid") // first party: no consent, not listed
	before, err := db.GetConsent(t.Context(), "alice", "demo-web")
	if err != nil || before.LastUsedAt.IsZero() {
		t.Fatalf("the code redemption did not record a use: %+v %v", before, err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, code := in.refresh(demoWeb, web.RefreshToken); code != http.StatusOK {
		t.Fatal(code)
	}
	after, _ := db.GetConsent(t.Context(), "alice", "demo-web")
	if !after.LastUsedAt.After(before.LastUsedAt) {
		t.Errorf("a refresh did not move the last use: %s then %s", before.LastUsedAt, after.LastUsedAt)
	}

	p = b.get(in.issuer + "/account/apps")
	wantAccountPage(t, p)
	today := time.Now().UTC().Format("2 January 2006")
	for _, want := range []string{"Demo Web App", "See your email address", "Allowed on " + today, "Last used on " + today,
		`src="https://localhost:`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "Demo Internal Service") {
		t.Error("a first-party app without consent is listed")
	}
	f := appForm(p, "demo-web")
	if f == nil {
		t.Fatalf("no revoke form for demo-web:\n%s", p.body)
	}

	// Failed attempts change nothing.
	fields := func(edit func(url.Values)) url.Values {
		v := url.Values{"action": {"revoke"}}
		for k, vs := range f.fields {
			v[k] = vs
		}
		edit(v)
		return v
	}
	rejects := []struct {
		name   string
		b      *browser
		form   url.Values
		status int
		path   string
	}{
		{"no CSRF token", b, fields(func(v url.Values) { v.Del("csrf") }), http.StatusForbidden, "/account/apps"},
		{"wrong CSRF token", b, fields(func(v url.Values) { v.Set("csrf", "x") }), http.StatusForbidden, "/account/apps"},
		{"no action", b, fields(func(v url.Values) { v.Del("action") }), http.StatusBadRequest, "/account/apps"},
		{"another action", b, fields(func(v url.Values) { v.Set("action", "delete_all") }), http.StatusBadRequest, "/account/apps"},
		{"no client_id", b, fields(func(v url.Values) { v.Del("client_id") }), http.StatusBadRequest, "/account/apps"},
		{"overlong client_id", b, fields(func(v url.Values) { v.Set("client_id", strings.Repeat("x", 300)) }), http.StatusBadRequest, "/account/apps"},
		{"duplicated client_id", b, fields(func(v url.Values) { v.Add("client_id", "demo-spa") }), http.StatusBadRequest, "/account/apps"},
		{"oversized", b, fields(func(v url.Values) { v.Set("pad", strings.Repeat("a", 100<<10)) }), http.StatusRequestEntityTooLarge, "/account/apps"},
		// Another browser has no session: it is sent to log in instead.
		{"not signed in", in.newBrowser(), fields(func(url.Values) {}), http.StatusOK, "/login"},
	}
	for _, tc := range rejects {
		got := tc.b.post(in.issuer+"/account/apps", tc.form)
		if got.status != tc.status || got.url.Path != tc.path {
			t.Errorf("%s: %d %s, want %d %s", tc.name, got.status, got.url.Path, tc.status, tc.path)
		}
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, in.issuer+"/account/apps", nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, resp.StatusCode)
		}
	}
	if p := b.get(in.issuer + "/account/apps?x=1&x=2"); p.status != http.StatusBadRequest {
		t.Errorf("duplicated query parameter: %d, want 400", p.status)
	}
	if r := in.introspect(t, demoWeb, web.RefreshToken); r["active"] != true {
		t.Fatalf("a rejected revoke took effect: %v", r)
	}

	// Remove access: back to the list, without the app.
	p = b.post(in.issuer+"/account/apps", fields(func(url.Values) {}))
	wantAccountPage(t, p)
	if strings.Contains(p.body, "Demo Web App") || appForm(p, "demo-web") != nil {
		t.Error("the app is still listed after removing it")
	}
	// Its tokens are dead.
	wantInactive(t, "refresh token of a removed app", in.introspect(t, demoWeb, web.RefreshToken))
	if st := in.userinfoStatus(web.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo after removing the app: %d, want 401", st)
	}
	if tj, code := in.refresh(demoWeb, web.RefreshToken); code != http.StatusBadRequest || tj.Error != "invalid_grant" {
		t.Errorf("refresh after removing the app: %d %+v", code, tj)
	}
	// It has to ask again, even for scopes it had been given.
	cfg := in.oauthConfig(demoWeb, "openid")
	res := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "")
	if !res.sawConsent {
		t.Error("no consent asked after the app was removed")
	}
	// A second removal (double submit) is harmless.
	wantAccountPage(t, b.post(in.issuer+"/account/apps", fields(func(url.Values) {})))
}

// TestAccountLoginIsNotAnOpenRedirect: the sealed request that brings a
// login back to the account page carries no URL, cannot be forged, and is
// no authorization request.
func TestAccountLoginIsNotAnOpenRedirect(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	p := b.get(in.issuer + "/account/apps")
	ar := p.forms[0].fields.Get("ar")
	if ar == "" {
		t.Fatal("no sealed request on the login page")
	}
	for name, bad := range map[string]string{
		"tampered":  ar[:len(ar)-2] + "xx",
		"empty":     "",
		"plain URL": "https://evil.example/",
	} {
		if got := b.get(in.issuer + "/login?ar=" + url.QueryEscape(bad)); got.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got.status)
		}
	}
	// It does not open the consent page, which takes authorization
	// requests only.
	if got := b.get(in.issuer + "/consent?ar=" + url.QueryEscape(ar)); got.status != http.StatusBadRequest {
		t.Errorf("consent with an account login request: %d, want 400", got.status)
	}
	// Nor is it a sign-out request.
	login := b.get(in.issuer + "/login?ar=" + url.QueryEscape(ar))
	if got := b.post(in.issuer+"/logout", url.Values{"lr": {ar}, "csrf": {login.forms[0].fields.Get("csrf")}}); got.status != http.StatusBadRequest {
		t.Errorf("logout with an account login request: %d, want 400", got.status)
	}
	// Wrong password: the form again, still for the account page.
	again := b.submit(login, map[string]string{"username": "alice", "password": "wrong"})
	if again.status != http.StatusUnauthorized || again.forms[0].fields.Get("ar") != ar {
		t.Fatalf("wrong password: %d", again.status)
	}
	wantAccountPage(t, b.submit(again, map[string]string{"username": "alice", "password": alicePassword}))
}

// startAdminLab runs a small Caddy with the admin endpoint on.
func startAdminLab(t *testing.T) *adminInstance {
	t.Helper()
	dir, port, adminPort := t.TempDir(), freePort(t), freePort(t)
	preamble := globalPreamble(preambleOptions{dir: dir, adminPort: adminPort})
	cf := fmt.Sprintf(`{
%s	gatehouse {
		issuer https://localhost:%[2]d
		user alice {
			email alice@example.com
			password_hash %[3]s
		}
		user bob {
			password_hash %[3]s
		}
		client app-a {
			name "App A"
			type third_party
			secret_hash %[4]s
			redirect_uris http://127.0.0.1/callback
			logo_uri https://a.example/logo.png
			client_uri https://a.example/
		}
		client app-b {
			type third_party_public
			redirect_uris http://127.0.0.1/callback
		}
		client app-c {
			type first_party
			secret_hash %[5]s
			redirect_uris http://127.0.0.1/callback
		}
	}
}

https://localhost:%[2]d {
	tls internal
	authserver
}
`, preamble, port, cheapHash(t, alicePassword), sha256Secret("a-secret"), sha256Secret("c-secret"))
	in := startCaddy(t, dir, cf, fmt.Sprintf("https://localhost:%d", port))
	addr := fmt.Sprintf("127.0.0.1:%d", adminPort)
	return &adminInstance{instance: in, admin: "http://" + addr, addr: addr}
}

// TestAdminUsersAPI: an operator lists and revokes a user's connected
// apps through Caddy's admin endpoint.
func TestAdminUsersAPI(t *testing.T) {
	l := startAdminLab(t)
	appA, appB, appC := demoApp{"app-a", "a-secret"}, demoApp{"app-b", ""}, demoApp{"app-c", "c-secret"}
	b := l.newBrowser()
	a := l.tokensFor(t, b, appA, "openid", "offline_access")
	l.tokensFor(t, b, appB, "openid")
	c := l.tokensFor(t, b, appC, "openid") // first party: no consent asked

	type appJSON struct {
		ClientID      string     `json:"client_id"`
		Name          string     `json:"name"`
		LogoURI       string     `json:"logo_uri"`
		ClientURI     string     `json:"client_uri"`
		ClientRemoved bool       `json:"client_removed"`
		Scopes        []string   `json:"scopes"`
		GrantedAt     time.Time  `json:"granted_at"`
		UpdatedAt     time.Time  `json:"updated_at"`
		LastUsedAt    *time.Time `json:"last_used_at"`
	}
	list := func(subject string) []appJSON {
		t.Helper()
		res := l.api(t, http.MethodGet, "/gatehouse/users/"+subject+"/apps", nil)
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET apps of %s: %d %s", subject, res.status, res.body)
		}
		var out struct {
			Subject string    `json:"subject"`
			Apps    []appJSON `json:"apps"`
		}
		if err := json.Unmarshal(res.body, &out); err != nil || out.Apps == nil {
			t.Fatalf("GET apps of %s: %s (%v)", subject, res.body, err)
		}
		return out.Apps
	}

	apps := list("alice")
	if len(apps) != 2 || apps[0].ClientID != "app-a" || apps[1].ClientID != "app-b" {
		t.Fatalf("alice's apps = %+v", apps)
	}
	if x := apps[0]; x.Name != "App A" || x.LogoURI != "https://a.example/logo.png" || x.ClientURI != "https://a.example/" ||
		strings.Join(x.Scopes, " ") != "openid offline_access" || x.GrantedAt.IsZero() || x.LastUsedAt == nil || x.ClientRemoved {
		t.Errorf("app-a = %+v", x)
	}
	if x := apps[1]; x.Name != "app-b" || x.LastUsedAt == nil {
		t.Errorf("app-b = %+v", x)
	}
	if apps := list("bob"); len(apps) != 0 {
		t.Errorf("bob's apps = %+v", apps)
	}

	// Revoke app-a: its tokens die, and it is no longer listed.
	if res := l.api(t, http.MethodDelete, "/gatehouse/users/alice/apps/app-a", nil); res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("DELETE app-a: %d %s", res.status, res.body)
	}
	wantInactive(t, "app-a's refresh token", l.introspect(t, appA, a.RefreshToken))
	if st := l.userinfoStatus(a.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with app-a's access token: %d", st)
	}
	if apps := list("alice"); len(apps) != 1 || apps[0].ClientID != "app-b" {
		t.Errorf("alice's apps after revoking app-a = %+v", apps)
	}
	// A first-party app has grants but no consent: still revocable.
	if res := l.api(t, http.MethodDelete, "/gatehouse/users/alice/apps/app-c", nil); res.status != http.StatusNoContent {
		t.Fatalf("DELETE app-c: %d %s", res.status, res.body)
	}
	wantInactive(t, "app-c's access token", l.introspect(t, appC, c.AccessToken))

	tests := []struct {
		name, method, path string
		want               int
		allow              string
	}{
		{"revoke again", http.MethodDelete, "/gatehouse/users/alice/apps/app-a", http.StatusNotFound, ""},
		{"app never allowed", http.MethodDelete, "/gatehouse/users/bob/apps/app-a", http.StatusNotFound, ""},
		{"unknown user", http.MethodGet, "/gatehouse/users/nobody/apps", http.StatusNotFound, ""},
		{"escaped slash in the subject", http.MethodGet, "/gatehouse/users/ali%2Fce/apps", http.StatusNotFound, ""},
		{"no subject", http.MethodGet, "/gatehouse/users//apps", http.StatusNotFound, ""},
		{"other collection", http.MethodGet, "/gatehouse/users/alice/grants", http.StatusNotFound, ""},
		{"too deep", http.MethodDelete, "/gatehouse/users/alice/apps/app-b/x", http.StatusNotFound, ""},
		{"POST the list", http.MethodPost, "/gatehouse/users/alice/apps", http.StatusMethodNotAllowed, "GET"},
		{"DELETE the list", http.MethodDelete, "/gatehouse/users/alice/apps", http.StatusMethodNotAllowed, "GET"},
		{"GET one app", http.MethodGet, "/gatehouse/users/alice/apps/app-b", http.StatusMethodNotAllowed, "DELETE"},
	}
	for _, tc := range tests {
		res := l.api(t, tc.method, tc.path, nil)
		if res.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, res.status, res.body, tc.want)
			continue
		}
		if tc.allow != "" && res.header.Get("Allow") != tc.allow {
			t.Errorf("%s: Allow = %q, want %q", tc.name, res.header.Get("Allow"), tc.allow)
		}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(res.body, &e) != nil || e.Error == "" {
			t.Errorf("%s: the error body is not JSON with an error: %s", tc.name, res.body)
		}
	}
	// app-b survived every rejected request.
	if apps := list("alice"); len(apps) != 1 || apps[0].ClientID != "app-b" {
		t.Errorf("alice's apps at the end = %+v", apps)
	}
}
