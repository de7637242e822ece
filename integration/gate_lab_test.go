package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// gateLab is a Caddy with several gated routes and sites, three users,
// and an external OpenID Connect provider.
type gateLab struct {
	*instance
	site2    string // a second gated site sharing the cookie keys, with short session lifetimes
	extSite  string // a site gated by the external provider
	echo     *echoUpstream
	external string // the external issuer
}

func startGateLab(t *testing.T, dir string, ports [4]int, gateCookieSecrets string) *gateLab {
	t.Helper()
	echo := newEcho(t)
	ext := startExternalIssuer(t, fmt.Sprintf("https://localhost:%d/.gatehouse/callback", ports[3]))
	hash := cheapHash(t, labPassword)
	up := echo.addr()
	cookieLine := ""
	if gateCookieSecrets != "" {
		cookieLine = "cookie_secret " + gateCookieSecrets
	}
	cf := fmt.Sprintf(`{
%[1]s
	gatehouse {
		issuer https://localhost:%[2]d
		revocation_poll_interval 1s
		user alice {
			email alice@example.com
			email_verified
			groups staff admins
			password_hash %[3]s
		}
		user bob {
			email bob@partner.example
			email_verified
			groups staff
			password_hash %[3]s
		}
		user carol {
			email carol@example.com
			password_hash %[3]s
		}
		client lab-app {
			type first_party_public
			redirect_uris http://127.0.0.1/callback
		}
	}
}

https://localhost:%[2]d {
	tls internal
	authserver
}

https://localhost:%[4]d {
	tls internal
	handle /admins/* {
		authgate {
			allow group admins
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /bob/* {
		authgate {
			allow username bob
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /alice-id/* {
		authgate {
			allow user alice
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /domain/* {
		authgate {
			allow email_domain example.com
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /email/* {
		authgate {
			allow email BOB@partner.example
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /carol-email/* {
		authgate {
			allow email carol@example.com
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle /groups-api/* {
		authgate {
			allow scope groups
			resource https://api.lab.example
			header client_id X-App
			header groups -
			%[7]s
		}
		reverse_proxy %[6]s
	}
	handle {
		authgate {
			%[7]s
		}
		reverse_proxy %[6]s
	}
}

https://localhost:%[5]d {
	tls internal
	authgate {
		session_idle 2s
		session_lifetime 5s
		%[7]s
	}
	reverse_proxy %[6]s
}

https://localhost:%[8]d {
	tls internal
	authgate {
		issuer %[9]s
		client_id gate-ext
		client_secret ext-secret
		introspect
	}
	reverse_proxy %[6]s
}
`, globalPreamble(preambleOptions{dir: dir}), ports[0], hash, ports[1], ports[2], up, cookieLine, ports[3], ext)
	in := startCaddy(t, dir, cf, fmt.Sprintf("https://localhost:%d", ports[0]))
	in.gate = fmt.Sprintf("https://localhost:%d", ports[1])
	return &gateLab{instance: in, site2: fmt.Sprintf("https://localhost:%d", ports[2]),
		extSite: fmt.Sprintf("https://localhost:%d", ports[3]), echo: echo, external: ext}
}

// signIn logs user in through the gate at site and returns the browser.
func (l *gateLab) signIn(t *testing.T, site, user string) *browser {
	t.Helper()
	b := l.newBrowser()
	p := b.get(site + "/")
	for range 4 {
		if p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login") {
			p = b.submit(p, map[string]string{"username": user, "password": labPassword})
			continue
		}
		break
	}
	decodeEcho(t, p)
	return b
}

// TestGatePolicies: several authgate blocks under different matchers give
// per-route policy by user id, username, email, email domain, group and
// scope.
func TestGatePolicies(t *testing.T) {
	lab := startGateLab(t, t.TempDir(), [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}, "")
	browsers := map[string]*browser{}
	for _, u := range []string{"alice", "bob", "carol"} {
		browsers[u] = lab.signIn(t, lab.gate, u)
	}
	tests := []struct {
		path  string
		allow []string
	}{
		{"/admins/x", []string{"alice"}},
		{"/bob/x", []string{"bob"}},
		{"/alice-id/x", []string{"alice"}},
		{"/domain/x", []string{"alice"}}, // carol's example.com address is unverified
		{"/email/x", []string{"bob"}},    // compared case-insensitively
		{"/carol-email/x", nil},          // carol's address is unverified: an email rule needs email_verified
		{"/open", []string{"alice", "bob", "carol"}},
	}
	for _, tc := range tests {
		for user, b := range browsers {
			p := b.get(lab.gate + tc.path)
			want := http.StatusForbidden
			if slices.Contains(tc.allow, user) {
				want = http.StatusOK
			}
			if p.status != want {
				t.Errorf("%s as %s: %d, want %d", tc.path, user, p.status, want)
			}
			if want == http.StatusForbidden && !strings.Contains(p.body, "have access") {
				t.Errorf("%s as %s: the 403 is not the access-denied page", tc.path, user)
			}
		}
	}

	// Scope rules apply to Bearer tokens: 403 insufficient_scope naming
	// the scope, then 200 with it.
	token := func(scopes ...string) string {
		cfg := lab.oauthConfig(demoApp{id: "lab-app"}, scopes...)
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		v := oauth2.GenerateVerifier()
		code := mustCode(t, browsers["alice"].authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v),
			oauth2.SetAuthURLParam("resource", "https://api.lab.example")), ""), "s")
		tok, err := cfg.Exchange(lab.ctx(), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	resp := lab.request(t, http.MethodGet, lab.gate+"/groups-api/x", nil, map[string]string{"Authorization": "Bearer " + token("openid", "email")})
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="groups"`) {
		t.Errorf("token without the scope: %d %q", resp.StatusCode, wa)
	}
	// The client also sends the headers this route no longer sets
	// (groups removed, client_id renamed): they are still the gate's.
	resp = lab.request(t, http.MethodGet, lab.gate+"/groups-api/x", nil, map[string]string{"Authorization": "Bearer " + token("openid", "groups"),
		"X-Gatehouse-Groups": "admins", "X-Gatehouse-Client-Id": "spoofed", "X-App": "spoofed"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token with the scope: %d", resp.StatusCode)
	}
	var got echoed
	decodeJSON(t, resp, &got)
	if got.Headers.Get("X-App") != "lab-app" || got.Headers.Get("X-Gatehouse-Client-Id") != "" || len(got.Headers.Values("X-Gatehouse-Groups")) != 0 {
		t.Errorf("custom header mapping not applied: %v", got.Headers)
	}
	// A browser session is the user, not an app: scope rules don't apply
	// to it, and the session is valid on every route of the site.
	if p := browsers["carol"].get(lab.gate + "/groups-api/x"); p.status != http.StatusOK {
		t.Errorf("session on a scope-guarded route: %d", p.status)
	}
}

// TestGateOtherSiteCookie: a session cookie of one gated site is not a
// session at another, even with the same keys.
func TestGateOtherSiteCookie(t *testing.T) {
	lab := startGateLab(t, t.TempDir(), [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}, "")
	b := lab.signIn(t, lab.gate, "alice")
	site1, _ := url.Parse(lab.gate)
	var value string
	for _, c := range b.client.Jar.Cookies(site1) {
		if c.Name == "__Host-gatehouse_gate" {
			value = c.Value
		}
	}
	if value == "" {
		t.Fatal("no gate cookie")
	}
	resp := lab.request(t, http.MethodGet, lab.site2+"/", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_gate=" + value})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("site 1's cookie at site 2: %d, want 401", resp.StatusCode)
	}
	resp = lab.request(t, http.MethodGet, lab.gate+"/open", nil, map[string]string{"Accept": "application/json", "Cookie": "__Host-gatehouse_gate=" + value})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("site 1's cookie at site 1: %d, want 200", resp.StatusCode)
	}
}

// TestGateCookieKeyRotation: listing a new cookie secret before the old one
// keeps existing sessions valid; dropping the old one ends them.
func TestGateCookieKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	const oldSecret, newSecret = "old-secret-old-secret-old-secret-1", "new-secret-new-secret-new-secret-2"
	lab := startGateLab(t, dir, ports, oldSecret)
	b := lab.signIn(t, lab.gate, "alice")
	cookie := cookieHeader(b, lab.gate)
	check := func(label string, want int) {
		t.Helper()
		resp := lab.request(t, http.MethodGet, lab.gate+"/open", nil, map[string]string{"Accept": "application/json", "Cookie": cookie})
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", label, resp.StatusCode, want)
		}
	}
	check("before rotation", 200)
	lab = startGateLab(t, dir, ports, newSecret+" "+oldSecret)
	check("new key first, old kept", 200)
	lab = startGateLab(t, dir, ports, newSecret)
	check("old key dropped", 401)
}

// TestGateExternalIssuer: the gate relies on any OpenID Connect provider
// found by discovery — here a second Gatehouse issuer, the protocol core
// served on its own, outside Caddy.
func TestGateExternalIssuer(t *testing.T) {
	lab := startGateLab(t, t.TempDir(), [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}, "")
	b := lab.newBrowser()
	p := b.get(lab.extSite + "/page?q=1")
	if !strings.HasPrefix(p.url.String(), lab.external+"/login") {
		t.Fatalf("not sent to the external issuer's login: %s", p.url)
	}
	p = b.submit(p, map[string]string{"username": "erin", "password": labPassword})
	got := decodeEcho(t, p)
	if got.Path != "/page" || got.Query != "q=1" {
		t.Errorf("landed on %s?%s", got.Path, got.Query)
	}
	if got.Headers.Get("X-Gatehouse-User-Id") != "erin-id" || got.Headers.Get("X-Gatehouse-Email") != "erin@external.example" {
		t.Errorf("upstream headers = %v", got.Headers)
	}
	// A session from the local issuer's gate is not valid here either.
	local := lab.signIn(t, lab.gate, "alice")
	resp := lab.request(t, http.MethodGet, lab.extSite+"/", nil, map[string]string{"Accept": "application/json", "Cookie": cookieHeader(local, lab.gate)})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("local gate cookie at the external gate: %d", resp.StatusCode)
	}
}

// startExternalIssuer serves the authorization server core on plain HTTP on
// loopback, as another identity provider, with one user and the gate's
// client registered.
func startExternalIssuer(t *testing.T, gateRedirect string) string {
	t.Helper()
	l := httptest.NewUnstartedServer(nil)
	issuer := "http://localhost:" + strings.Split(l.Listener.Addr().String(), ":")[1]
	srv, _, _ := newCoreIssuer(t, issuer, []*clients.Client{{
		ID: "gate-ext", SecretHashes: []string{clients.HashSecret("ext-secret")},
		Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{gateRedirect}},
	}, {
		ID: "ext-app", Metadata: clients.Metadata{Type: clients.FirstPartyPublic, RedirectURIs: []string{"http://127.0.0.1/callback"}},
	}})
	l.Config.Handler = srv
	l.Start()
	t.Cleanup(l.Close)
	return issuer
}

// TestGateSessionExpiry: a gate session ends after its idle lifetime
// without requests, and after its absolute lifetime however active.
func TestGateSessionExpiry(t *testing.T) {
	lab := startGateLab(t, t.TempDir(), [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}, "")
	status := func(b *browser) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, lab.site2+"/", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	idle := lab.signIn(t, lab.site2, "alice")
	if st := status(idle); st != http.StatusOK {
		t.Fatalf("fresh session: %d", st)
	}
	time.Sleep(2500 * time.Millisecond)
	if st := status(idle); st != http.StatusUnauthorized {
		t.Errorf("after 2.5 s idle (idle lifetime 2 s): %d, want 401", st)
	}

	// Session times have one-second resolution, and the session starts
	// during the sign-in: allow for both.
	start := time.Now()
	active := lab.signIn(t, lab.site2, "alice")
	for time.Since(start) < 3500*time.Millisecond {
		if st := status(active); st != http.StatusOK {
			t.Fatalf("active session ended early, after %v: %d", time.Since(start), st)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Until(start.Add(6500 * time.Millisecond)))
	if st := status(active); st != http.StatusUnauthorized {
		t.Errorf("after the 5 s absolute lifetime: %d, want 401", st)
	}
}

// TestGateIntrospection: with introspect, Bearer tokens are validated at
// the external provider's RFC 7662 endpoint, so opaque tokens work too;
// inactive, revoked and other-audience tokens are refused.
func TestGateIntrospection(t *testing.T) {
	lab := startGateLab(t, t.TempDir(), [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}, "")
	getToken := func(resource string) *oauth2.Token {
		cfg := &oauth2.Config{ClientID: "ext-app", RedirectURL: "http://127.0.0.1:7/callback", Scopes: []string{"openid", "email"},
			Endpoint: oauth2.Endpoint{AuthURL: lab.external + "/authorize", TokenURL: lab.external + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		v := oauth2.GenerateVerifier()
		b := lab.newBrowser()
		p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", resource)))
		p = b.submit(p, map[string]string{"username": "erin", "password": labPassword})
		u, err := url.Parse(p.location)
		if err != nil || u.Query().Get("code") == "" {
			t.Fatalf("no code from the external issuer: %d %q", p.status, p.location)
		}
		tok, err := cfg.Exchange(context.Background(), u.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	call := func(tok string) *http.Response {
		return lab.request(t, http.MethodGet, lab.extSite+"/api", nil, map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"})
	}
	good := getToken(lab.extSite)
	resp := call(good.AccessToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspected token: %d", resp.StatusCode)
	}
	var got echoed
	decodeJSON(t, resp, &got)
	if got.Headers.Get("X-Gatehouse-User-Id") != "erin-id" || got.Headers.Get("X-Gatehouse-Client-Id") != "ext-app" {
		t.Errorf("upstream headers = %v", got.Headers)
	}
	// Revoked at the provider before the gate ever saw it.
	revoked := getToken(lab.extSite)
	r, err := http.PostForm(lab.external+"/revoke", url.Values{"token": {revoked.AccessToken}, "client_id": {"ext-app"}})
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("/revoke at the external issuer: %v %v", err, r)
	}
	r.Body.Close()
	for name, tok := range map[string]string{
		"revoked":          revoked.AccessToken,
		"opaque garbage":   "gh_at_this-token-does-not-exist",
		"another audience": getToken("https://elsewhere.example").AccessToken,
	} {
		if resp := call(tok); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s token: %d %q", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}
