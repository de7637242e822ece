package gate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// Tests of a gate in front of the same process's issuer (LocalProvider),
// driven over HTTP: the gated site's requests through Gate.Handle, the
// issuer's pages through the fixture's browser.

const gateOrigin = ast.GateOrigin

// localGate is a gate at gateOrigin relying on f's server, on f's clock.
func localGate(t testing.TB, f *ast.Fixture, cfg Config) *Gate {
	t.Helper()
	cfg.Now = f.Clock.Now
	if cfg.Revocations == nil {
		cfg.Revocations = f.Revocations
	}
	return newTestGate(t, &LocalProvider{Server: f.Server, KeyManager: f.Keys, Store: f.Store, Revocations: f.Revocations}, cfg)
}

// site is a browser at the gated site: its own cookie jar.
type site struct {
	t      testing.TB
	g      *Gate
	j      jar
	issuer string // where the gate sends browsers to sign in
}

func (s *site) do(r *http.Request) (*http.Response, *Identity) {
	s.j.add(r)
	w := httptest.NewRecorder()
	id := s.g.Handle(w, r, gateOrigin)
	resp := w.Result()
	s.j.take(resp)
	return resp, id
}

// navigate is a browser's GET of path at the gated site.
func (s *site) navigate(path string) (*http.Response, *Identity) {
	r := httptest.NewRequest(http.MethodGet, gateOrigin+path, nil)
	r.Header.Set("Accept", "text/html")
	return s.do(r)
}

// signIn runs a browser login at the gated site: the gate sends the
// browser to the issuer, b signs in there, and the gate completes the
// login at its callback. It returns the callback's answer.
func (s *site) signIn(b *ast.Browser, path string) *http.Response {
	s.t.Helper()
	resp, _ := s.navigate(path)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), s.issuer+"/authorize?") {
		s.t.Fatalf("the gate did not send the browser to the issuer: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	res := b.Authorize(loc.Query())
	if b.OnPage(res, "/login") {
		res = b.Login(res)
	}
	back := res.Location()
	if back == nil || !strings.HasPrefix(back.String(), ast.GateRedirectURI+"?") {
		s.t.Fatalf("the issuer did not send the browser back to the gate: %s", res)
	}
	resp, _ = s.navigate(strings.TrimPrefix(back.String(), gateOrigin))
	return resp
}

func newSite(t testing.TB, g *Gate) *site { return &site{t: t, g: g, issuer: ast.Issuer} }

// TestLocalLogin: a browser login through the issuer in this process; the
// upstream request then carries the user's identity headers, and
// whatever the client sent under those names is gone.
func TestLocalLogin(t *testing.T) {
	f := ast.New(t, ast.Options{})
	s := newSite(t, localGate(t, f, Config{}))
	resp := s.signIn(f.NewBrowser(t), "/private?page=2")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/private?page=2" {
		t.Fatalf("callback: %d %q, want a redirect back to the page", resp.StatusCode, resp.Header.Get("Location"))
	}

	r := httptest.NewRequest(http.MethodGet, gateOrigin+"/private", nil)
	r.Header.Set("X-Gatehouse-User-Id", "admin")
	_, id := s.do(r)
	if id == nil {
		t.Fatal("not signed in after the login")
	}
	want := Identity{Subject: ast.AliceID, Username: ast.Alice, Email: "alice@example.com", EmailVerified: true, Name: "Alice Liddell",
		Groups: []string{"staff", "admins"}, Issuer: ast.Issuer, Source: SourceSession}
	if id.Subject != want.Subject || id.Username != want.Username || id.Email != want.Email || !id.EmailVerified ||
		id.Name != want.Name || strings.Join(id.Groups, ",") != "staff,admins" || id.Issuer != want.Issuer || id.Source != want.Source {
		t.Errorf("identity %+v, want %+v", *id, want)
	}
	for h, v := range map[string]string{"X-Gatehouse-User-Id": ast.AliceID, "X-Gatehouse-Email": "alice@example.com",
		"X-Gatehouse-Groups": "staff,admins", "X-Gatehouse-Auth-Source": "session", "X-Gatehouse-Email-Verified": "true"} {
		if got := r.Header.Values(h); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want %q", h, got, v)
		}
	}
	g, err := f.Store.GetGrant(context.Background(), id.grantID)
	if err != nil || g.ClientID != clients.GateID || g.Subject != ast.AliceID || !g.RevokedAt.IsZero() {
		t.Errorf("the login's grant: %+v, %v", g, err)
	}
}

// TestLocalLoginScopes: the gate's scopes decide which claims reach it.
func TestLocalLoginScopes(t *testing.T) {
	f := ast.New(t, ast.Options{})
	s := newSite(t, localGate(t, f, Config{Scopes: []string{"openid", "profile"}}))
	s.signIn(f.NewBrowser(t), "/")
	_, id := s.navigate("/")
	if id == nil || id.Username != ast.Alice || id.Email != "" || id.Groups != nil {
		t.Fatalf("identity %+v: want the profile claims only", id)
	}
}

// TestLocalBearer: API requests with access tokens the issuer signed for
// this resource pass; any other token gets a 401 saying why.
func TestLocalBearer(t *testing.T) {
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{})
	forGate := func(t *testing.T, client, scope string) ast.Tokens {
		q := ast.Edit(f.AuthorizeQuery(client, scope), url.Values{"resource": {gateOrigin}})
		return f.Exchange(t, client, f.NewBrowser(t).Code(q))
	}
	api := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	tok := forGate(t, ast.FirstParty, "openid email")
	r := api(tok.AccessToken)
	_, id := newSite(t, g).do(r)
	if id == nil || id.Subject != ast.AliceID || id.Source != SourceBearer || id.ClientID != ast.FirstParty || !id.HasScope("email") {
		t.Fatalf("identity %+v", id)
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Gatehouse-Scopes") != "openid email" {
		t.Errorf("upstream headers %v", r.Header)
	}
	if _, again := newSite(t, g).do(api(tok.AccessToken)); again == nil {
		t.Error("a verified token was refused the second time")
	}

	issuerToken := f.TokensFor(t, ast.FirstParty, "openid")
	revoked := forGate(t, ast.ThirdParty, "openid offline_access")
	if _, id := newSite(t, g).do(api(revoked.AccessToken)); id == nil {
		t.Fatal("a fresh token was refused")
	}
	if res := f.ClientPost(t, "/revoke", ast.ThirdParty, url.Values{"token": {revoked.RefreshToken}}); res.Code != http.StatusOK {
		t.Fatal(res)
	}
	if err := f.Revocations.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, desc string
	}{
		{"token for the issuer", issuerToken.AccessToken, "not for this resource"},
		{"ID token", tok.IDToken, "invalid"},
		{"revoked grant (cached token)", revoked.AccessToken, "invalid"},
		{"garbage", "not-a-token", "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, id := newSite(t, g).do(api(tc.token))
			if id != nil || resp.StatusCode != http.StatusUnauthorized ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.desc) {
				t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		fresh := forGate(t, ast.FirstParty, "openid")
		f.Clock.Advance(11 * time.Minute)
		resp, id := newSite(t, g).do(api(fresh.AccessToken))
		if id != nil || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "expired") {
			t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestLocalPolicy: who the policy refuses gets a page in a browser and
// 403 insufficient_scope from the API, with the scopes the resource
// needs.
func TestLocalPolicy(t *testing.T) {
	f := ast.New(t, ast.Options{})
	admins := localGate(t, f, Config{Policy: Policy{Groups: []string{"admins"}}})

	alice := newSite(t, admins)
	alice.signIn(f.NewBrowser(t), "/")
	if _, id := alice.navigate("/"); id == nil {
		t.Error("an admin was refused")
	}
	bob := newSite(t, admins)
	b := f.NewBrowser(t)
	b.Username = ast.Bob
	bob.signIn(b, "/")
	resp, id := bob.navigate("/")
	body := readAll(t, resp)
	if id != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(body, ast.Bob) || !strings.Contains(body, `href="/.gatehouse/logout"`) {
		t.Errorf("Bob at an admins-only site: %d\n%s", resp.StatusCode, body)
	}

	scoped := localGate(t, f, Config{Policy: Policy{Scopes: []string{"email"}}})
	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {gateOrigin}})
	tok := f.Exchange(t, ast.FirstParty, f.NewBrowser(t).Code(q))
	r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, id = newSite(t, scoped).do(r)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(readAll(t, resp)), &e)
	if id != nil || resp.StatusCode != http.StatusForbidden || e.Error != "insufficient_scope" ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="email"`) {
		t.Errorf("a token without the required scope: %d %q %q", resp.StatusCode, e.Error, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestLocalLogout: signing out of the gated site, once confirmed, ends
// the issuer session it was built on and the gate's grant.
func TestLocalLogout(t *testing.T) {
	f := ast.New(t, ast.Options{})
	s := newSite(t, localGate(t, f, Config{}))
	b := f.NewBrowser(t)
	s.signIn(b, "/")
	_, id := s.navigate("/")
	if id == nil {
		t.Fatal("not signed in")
	}
	resp, _ := s.navigate("/.gatehouse/logout")
	token := formValue(t, readAll(t, resp), "csrf")
	r := httptest.NewRequest(http.MethodPost, gateOrigin+"/.gatehouse/logout", strings.NewReader("csrf="+url.QueryEscape(token)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := s.do(r); resp.StatusCode != http.StatusOK || resp.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("sign-out: %d %v", resp.StatusCode, resp.Header)
	}
	if _, id := s.navigate("/"); id != nil {
		t.Error("still signed in at the gated site")
	}
	if res := b.Get("/account/apps"); res.Code != http.StatusFound {
		t.Errorf("still signed in at the issuer: %s", res)
	}
	if g, err := f.Store.GetGrant(context.Background(), id.grantID); err != nil || g.RevokedAt.IsZero() {
		t.Errorf("the gate's grant after sign-out: %+v, %v", g, err)
	}
}

// TestLocalIssuerLogout: signing out at the issuer ends the gate session
// built on it once the revocation feed is polled.
func TestLocalIssuerLogout(t *testing.T) {
	f := ast.New(t, ast.Options{})
	s := newSite(t, localGate(t, f, Config{}))
	b := f.NewBrowser(t)
	s.signIn(b, "/")
	if res := b.Submit(b.Get("/logout"), "/logout", nil); res.Code != http.StatusOK {
		t.Fatalf("issuer sign-out: %s", res)
	}
	if _, id := s.navigate("/"); id == nil {
		t.Fatal("the gate session ended before the feed was polled")
	}
	if err := f.Revocations.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, id := s.navigate("/")
	if id != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), ast.Issuer+"/authorize?") {
		t.Errorf("after the issuer sign-out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestLocalSessionTimes: a gate session ends after SessionIdle without a
// request and after SessionLifetime in any case; requests re-issue its
// cookie at most once per tenth of the idle time.
func TestLocalSessionTimes(t *testing.T) {
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{SessionIdle: time.Hour, SessionLifetime: 3 * time.Hour})
	s := newSite(t, g)
	s.signIn(f.NewBrowser(t), "/")
	reissued := func() bool {
		resp, id := s.navigate("/")
		if id == nil {
			t.Fatal("signed out")
		}
		return len(resp.Cookies()) > 0
	}
	f.Clock.Advance(5 * time.Minute)
	if reissued() {
		t.Error("cookie re-issued within a tenth of the idle time")
	}
	f.Clock.Advance(2 * time.Minute)
	if !reissued() {
		t.Error("cookie not re-issued after a tenth of the idle time")
	}
	for range 4 { // active for 2 h 39 min in all
		f.Clock.Advance(38 * time.Minute)
		reissued()
	}
	f.Clock.Advance(21 * time.Minute) // 3 h after the login
	if _, id := s.navigate("/"); id != nil {
		t.Error("signed in past the session lifetime")
	}

	idle := newSite(t, g)
	idle.signIn(f.NewBrowser(t), "/")
	f.Clock.Advance(time.Hour)
	if _, id := idle.navigate("/"); id != nil {
		t.Error("signed in after an hour without requests")
	}
}

// TestLocalCallback: the callback completes only the login this browser
// started, with this issuer's answer, once.
func TestLocalCallback(t *testing.T) {
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{})
	start := func(s *site) url.Values {
		resp, _ := s.navigate("/")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query()
	}
	callback := func(s *site, q url.Values) int {
		resp, _ := s.navigate("/.gatehouse/callback?" + q.Encode())
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		answer func(state string) url.Values
		want   int
	}{
		{"access denied", func(st string) url.Values {
			return url.Values{"error": {"access_denied"}, "state": {st}, "iss": {ast.Issuer}}
		}, http.StatusForbidden},
		{"other error", func(st string) url.Values {
			return url.Values{"error": {"login_required"}, "state": {st}, "iss": {ast.Issuer}}
		}, http.StatusBadRequest},
		{"no code", func(st string) url.Values { return url.Values{"state": {st}, "iss": {ast.Issuer}} }, http.StatusBadRequest},
		{"another issuer", func(st string) url.Values {
			return url.Values{"code": {"x"}, "state": {st}, "iss": {"https://evil.example"}}
		}, http.StatusBadRequest},
		{"no iss", func(st string) url.Values { return url.Values{"code": {"x"}, "state": {st}} }, http.StatusBadRequest},
		{"unknown state", func(string) url.Values {
			return url.Values{"code": {"x"}, "state": {"other"}, "iss": {ast.Issuer}}
		}, http.StatusBadRequest},
		{"state too long", func(string) url.Values {
			return url.Values{"code": {"x"}, "state": {strings.Repeat("s", 300)}, "iss": {ast.Issuer}}
		}, http.StatusBadRequest},
		{"made-up code", func(st string) url.Values {
			return url.Values{"code": {"gh_ac_made_up"}, "state": {st}, "iss": {ast.Issuer}}
		}, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, g)
			state := start(s).Get("state")
			if got := callback(s, tc.answer(state)); got != tc.want {
				t.Errorf("callback: %d, want %d", got, tc.want)
			}
			if _, id := s.navigate("/"); id != nil {
				t.Error("signed in after a failed callback")
			}
		})
	}
	t.Run("POST", func(t *testing.T) {
		resp, _ := newSite(t, g).do(httptest.NewRequest(http.MethodPost, gateOrigin+"/.gatehouse/callback", nil))
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%d, want 405", resp.StatusCode)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		s := newSite(t, g)
		resp, _ := s.navigate("/")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		back := f.NewBrowser(t).Code(loc.Query())
		q := url.Values{"code": {back}, "state": {loc.Query().Get("state")}, "iss": {ast.Issuer}}
		if got := callback(s, q); got != http.StatusFound {
			t.Fatalf("first callback: %d", got)
		}
		// The pending login is gone: the same answer again is refused.
		if got := callback(s, q); got != http.StatusBadRequest {
			t.Errorf("replayed callback: %d, want 400", got)
		}
	})
}

// TestLocalSiteEndpoints: the gate's own resources at the site: RFC 9728
// metadata and the pages' stylesheet.
func TestLocalSiteEndpoints(t *testing.T) {
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{Policy: Policy{Scopes: []string{"read"}}})
	resp, _ := newSite(t, g).do(httptest.NewRequest(http.MethodGet, gateOrigin+"/.well-known/oauth-protected-resource", nil))
	var meta struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
		Scopes   []string `json:"scopes_supported"`
		Methods  []string `json:"bearer_methods_supported"`
	}
	if err := json.Unmarshal([]byte(readAll(t, resp)), &meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %v", resp.StatusCode, err)
	}
	if meta.Resource != gateOrigin || strings.Join(meta.Servers, " ") != ast.Issuer ||
		strings.Join(meta.Scopes, " ") != "openid profile email groups read offline_access" || strings.Join(meta.Methods, " ") != "header" {
		t.Errorf("metadata %+v", meta)
	}
	if resp, _ := newSite(t, g).do(httptest.NewRequest(http.MethodPost, gateOrigin+"/.well-known/oauth-protected-resource", nil)); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST metadata: %d", resp.StatusCode)
	}
	resp, _ = newSite(t, g).do(httptest.NewRequest(http.MethodGet, gateOrigin+"/.gatehouse/gatehouse.css", nil))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("stylesheet: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := New(Config{Provider: &LocalProvider{Server: f.Server}, Introspect: true, UI: g.cfg.UI,
		CookieSecrets: [][]byte{[]byte(strings.Repeat("k", 32))}}); err == nil {
		t.Error("a gate that must introspect with a provider that cannot was built")
	}
}
