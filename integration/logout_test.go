package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 end to end.

var (
	rpWeb  = demoApp{"rp-web", "rp-web-secret"}
	rpDown = demoApp{"rp-down", "rp-down-secret"}
)

// receiver is a relying party's back-channel logout endpoint on
// 127.0.0.1: it records what it is sent and answers with status after
// delay.
type receiver struct {
	srv    *httptest.Server
	status int
	delay  time.Duration

	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	method, contentType string
	form                url.Values
	at                  time.Time
}

func newReceiver(t *testing.T, status int, delay time.Duration) *receiver {
	rc := &receiver{status: status, delay: delay}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{method: r.Method, contentType: r.Header.Get("Content-Type"), form: r.PostForm, at: time.Now()})
		rc.mu.Unlock()
		time.Sleep(rc.delay)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitFor polls until the receiver has n deliveries or the time is up.
func (rc *receiver) waitFor(t *testing.T, n int, within time.Duration) []delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rc.deliveries(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the receiver got %d deliveries within %s, want %d", len(rc.deliveries()), within, n)
	return nil
}

// startLogoutExample runs Caddyfile.example with two more apps:
// rp-web (third party) with post-logout redirect URIs and a back-channel
// logout URI at good, and rp-down (first party) whose back-channel URI is
// at bad.
func startLogoutExample(t *testing.T, good, bad *receiver) *instance {
	t.Helper()
	return startExample(t,
		fmt.Sprintf(`client rp-web {
			name "Logout Test App"
			type third_party
			secret_hash %s
			redirect_uris http://127.0.0.1/callback
			post_logout_redirect_uris http://127.0.0.1/signed-out "http://127.0.0.1:7/bye?from=gatehouse"
			backchannel_logout_uri %s/backchannel
		}`, sha256Secret(rpWeb.secret), good.srv.URL),
		fmt.Sprintf(`client rp-down {
			type first_party
			secret_hash %s
			redirect_uris http://127.0.0.1/callback
			backchannel_logout_uri %s/bcl?tenant=1
		}`, sha256Secret(rpDown.secret), bad.srv.URL))
}

func (in *instance) logoutURL(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return in.issuer + "/logout?" + v.Encode()
}

func wantSignedOutPage(t *testing.T, p *page) {
	t.Helper()
	if p.status != http.StatusOK || p.location != "" || !strings.Contains(p.body, "signed out of your") {
		t.Fatalf("want the signed-out page, got %d (location %q):\n%.400s", p.status, p.location, p.body)
	}
}

func wantRedirect(t *testing.T, p *page, want string) {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || p.location != want {
		t.Fatalf("want a redirect to %s, got %d (location %q):\n%.400s", want, p.status, p.location, p.body)
	}
}

// confirmationForm returns the sign-out confirmation page's form, failing
// unless p is that page.
func confirmationForm(t *testing.T, p *page) form {
	t.Helper()
	if p.status != http.StatusOK || len(p.forms) != 1 || p.forms[0].fields.Get("lr") == "" || p.forms[0].fields.Get("csrf") == "" {
		t.Fatalf("want the sign-out confirmation page, got %d:\n%.600s", p.status, p.body)
	}
	return p.forms[0]
}

// TestRPInitiatedLogout: the end_session_endpoint with and without
// id_token_hint, verified and unverified post-logout redirects, state,
// and what logging out revokes.
func TestRPInitiatedLogout(t *testing.T) {
	good, bad := newReceiver(t, http.StatusOK, 0), newReceiver(t, http.StatusOK, 0)
	in := startLogoutExample(t, good, bad)
	issuerURL, _ := url.Parse(in.issuer)

	t.Run("hint of the current session: signed out at once", func(t *testing.T) {
		b := in.newBrowser()
		tok := in.tokensFor(t, b, rpWeb, "openid", "email")
		offline := in.tokensFor(t, b, demoWeb, "openid", "offline_access")
		p := b.get(in.logoutURL("id_token_hint", tok.IDToken, "post_logout_redirect_uri", "http://127.0.0.1/signed-out", "state", "st 1/é"))
		wantRedirect(t, p, "http://127.0.0.1/signed-out?state=st+1%2F%C3%A9")
		for _, c := range b.client.Jar.Cookies(issuerURL) {
			if c.Name == "__Host-gatehouse_session" {
				t.Error("the session cookie was not cleared")
			}
		}
		if in.signedIn(t, b) {
			t.Fatal("still signed in after logout")
		}
		// The next authorization asks to log in.
		cfg := in.oauthConfig(demoInternal)
		if res := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), ""); !res.sawLogin {
			t.Error("the next authorization did not ask to log in")
		}
		// Tokens of the session die with it, except offline ones.
		if st := in.userinfoStatus(tok.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo with an access token of the ended session: %d, want 401", st)
		}
		if r := in.introspect(t, demoWeb, offline.RefreshToken); r["active"] != true {
			t.Errorf("an offline_access refresh token did not survive logout: %v", r)
		}
		if _, code := in.refresh(demoWeb, offline.RefreshToken); code != http.StatusOK {
			t.Errorf("refresh with the offline token after logout: %d", code)
		}
	})

	t.Run("no hint: confirmation first, then a link back, not a redirect", func(t *testing.T) {
		b := in.newBrowser()
		in.tokensFor(t, b, rpWeb, "openid")
		resp, err := b.client.Get(in.logoutURL("client_id", "rp-web", "post_logout_redirect_uri", "http://127.0.0.1:7/bye?from=gatehouse", "state", "xyz"))
		if err != nil {
			t.Fatal(err)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		p := b.read(resp)
		confirmationForm(t, p)
		if !strings.Contains(p.body, "Logout Test App") || !strings.Contains(p.body, "alice@example.com") {
			t.Error("the confirmation page names neither the app nor the account")
		}
		if !strings.Contains(p.body, "Sign out") {
			t.Error("no sign-out button")
		}
		if !in.signedIn(t, b) {
			t.Fatal("signed out before confirming")
		}
		// Without a hint anyone could have sent this link: confirming
		// does not redirect, so the form needs no other target (CSP).
		if !strings.Contains(csp, "form-action 'self';") {
			t.Errorf("CSP lets the confirmation form lead off the site: %q", csp)
		}
		done := b.submit(p, nil)
		// The registered URI's own query is kept, state added, in a link
		// the user may follow.
		wantContinueLink(t, done, "Continue to 127.0.0.1:7", "http://127.0.0.1:7/bye?from=gatehouse&state=xyz")
		if in.signedIn(t, b) {
			t.Fatal("still signed in after confirming")
		}
	})

	t.Run("hint of this session, POSTed without the cookie: confirmation, then redirect", func(t *testing.T) {
		b := in.newBrowser()
		tok := in.tokensFor(t, b, rpWeb, "openid")
		// A cross-site auto-submitted form: the SameSite=Lax cookie stays
		// home, so the server cannot tie the hint to this browser yet.
		resp, err := in.client.PostForm(in.issuer+"/logout", url.Values{"id_token_hint": {tok.IDToken},
			"post_logout_redirect_uri": {"http://127.0.0.1:7/bye?from=gatehouse"}, "state": {"xyz"}})
		if err != nil {
			t.Fatal(err)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		// The browser keeps the cookies the answer sets (the CSRF one).
		b.client.Jar.SetCookies(resp.Request.URL, resp.Cookies())
		p := b.read(resp)
		confirmationForm(t, p)
		// The hint names the app, so confirming redirects to it (CSP).
		if !strings.Contains(csp, "form-action 'self' http://127.0.0.1:*") {
			t.Errorf("CSP does not allow the post-logout redirect: %q", csp)
		}
		wantRedirect(t, b.submit(p, nil), "http://127.0.0.1:7/bye?from=gatehouse&state=xyz")
		if in.signedIn(t, b) {
			t.Fatal("still signed in after confirming")
		}
	})

	t.Run("unregistered post_logout_redirect_uri: no redirect", func(t *testing.T) {
		for _, uri := range []string{
			"http://127.0.0.1:8/bye?from=gatehouse", // another port: exact match only
			"http://127.0.0.1/signed-out/",
			"https://evil.example/",
			"http://127.0.0.1/callback", // a redirect_uri, not a post-logout one
		} {
			b := in.newBrowser()
			tok := in.tokensFor(t, b, rpWeb, "openid")
			wantSignedOutPage(t, b.get(in.logoutURL("id_token_hint", tok.IDToken, "post_logout_redirect_uri", uri, "state", "s")))
			if in.signedIn(t, b) {
				t.Fatalf("%s: still signed in", uri)
			}
		}
		// Without a client there is nothing to check a URI against.
		b := in.newBrowser()
		in.tokensFor(t, b, rpWeb, "openid")
		p := b.get(in.logoutURL("post_logout_redirect_uri", "http://127.0.0.1/signed-out"))
		wantSignedOutPage(t, b.submit(p, nil))
		if in.signedIn(t, b) {
			t.Fatal("still signed in")
		}
	})

	t.Run("hint of another session: confirmation, and the other session lives", func(t *testing.T) {
		a, b := in.newBrowser(), in.newBrowser()
		tokA := in.tokensFor(t, a, rpWeb, "openid")
		in.tokensFor(t, b, rpWeb, "openid")
		p := b.get(in.logoutURL("id_token_hint", tokA.IDToken, "post_logout_redirect_uri", "http://127.0.0.1/signed-out"))
		confirmationForm(t, p)
		if !in.signedIn(t, a) || !in.signedIn(t, b) {
			t.Fatal("a session ended before any confirmation")
		}
		wantRedirect(t, b.submit(p, nil), "http://127.0.0.1/signed-out")
		if in.signedIn(t, b) {
			t.Error("b still signed in after confirming")
		}
		if !in.signedIn(t, a) {
			t.Error("b's logout ended a's session")
		}
	})

	t.Run("an expired hint still identifies the session", func(t *testing.T) {
		b := in.newBrowser()
		tok := in.tokensFor(t, b, rpWeb, "openid")
		claims := jwtClaims(t, tok.IDToken)
		claims["iat"], claims["exp"] = time.Now().Add(-3*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
		expired, err := in.minter(t).Sign("RS256", "JWT", claims)
		if err != nil {
			t.Fatal(err)
		}
		wantRedirect(t, b.get(in.logoutURL("id_token_hint", expired, "post_logout_redirect_uri", "http://127.0.0.1/signed-out")),
			"http://127.0.0.1/signed-out")
		if in.signedIn(t, b) {
			t.Fatal("still signed in")
		}
	})

	t.Run("already signed out: a link back to the app", func(t *testing.T) {
		b := in.newBrowser()
		tok := in.tokensFor(t, b, rpWeb, "openid")
		u := in.logoutURL("id_token_hint", tok.IDToken, "post_logout_redirect_uri", "http://127.0.0.1/signed-out", "state", "again")
		wantRedirect(t, b.get(u), "http://127.0.0.1/signed-out?state=again")
		// The hint's session is gone: the link could have been replayed
		// by anyone, so the user is offered the way back, not sent.
		wantContinueLink(t, b.get(u), "Continue to 127.0.0.1", "http://127.0.0.1/signed-out?state=again")
		wantContinueLink(t, in.newBrowser().get(u), "Continue to 127.0.0.1", "http://127.0.0.1/signed-out?state=again")
		wantSignedOutPage(t, in.newBrowser().get(in.logoutURL()))
	})

	t.Run("POST from the app: confirmed on the page", func(t *testing.T) {
		// An RP's auto-submitted form is a cross-site POST, which carries
		// no SameSite=Lax cookie; the page's own form does.
		b := in.newBrowser()
		tok := in.tokensFor(t, b, rpWeb, "openid")
		p := b.post(in.issuer+"/logout", url.Values{"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {"http://127.0.0.1/signed-out"}, "state": {"p"}})
		// This browser did send its cookie, and the hint matches: done.
		wantRedirect(t, p, "http://127.0.0.1/signed-out?state=p")
		if p.status != http.StatusSeeOther {
			t.Errorf("redirect after POST = %d, want 303", p.status)
		}
		// Without the cookie (cross-site), the page asks first.
		c := in.newBrowser()
		in.tokensFor(t, c, rpWeb, "openid")
		resp, err := in.client.PostForm(in.issuer+"/logout", url.Values{"client_id": {"rp-web"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !in.signedIn(t, c) {
			t.Errorf("a cookieless POST: %d", resp.StatusCode)
		}
	})

	t.Run("account page sign-out button", func(t *testing.T) {
		b := in.newBrowser()
		in.tokensFor(t, b, rpWeb, "openid")
		p := b.get(in.issuer + "/account/apps")
		var signOut *form
		for i, f := range p.forms {
			if f.action == "/logout" {
				signOut = &p.forms[i]
			}
		}
		if signOut == nil {
			t.Fatalf("no sign-out form on the account page:\n%s", p.body)
		}
		wantSignedOutPage(t, b.post(in.issuer+"/logout", signOut.fields))
		if in.signedIn(t, b) {
			t.Fatal("still signed in")
		}
	})
}

// TestBackchannelLogout: every app that got tokens in the session gets a
// signed logout token, in the background, retried when it fails; a
// failing app never holds up the user.
func TestBackchannelLogout(t *testing.T) {
	good := newReceiver(t, http.StatusOK, 0)
	bad := newReceiver(t, http.StatusInternalServerError, 2*time.Second)
	in := startLogoutExample(t, good, bad)
	ctx := in.ctx()

	b := in.newBrowser()
	web := in.tokensFor(t, b, rpWeb, "openid", "email")
	in.tokensFor(t, b, rpWeb, "openid") // a second grant of the same app: one notification
	in.tokensFor(t, b, rpDown, "openid")
	in.tokensFor(t, b, demoWeb, "openid") // no back-channel URI
	idClaims := jwtClaims(t, web.IDToken)
	sid, _ := idClaims["sid"].(string)
	if len(sid) < 16 {
		t.Fatalf("the ID token has no usable sid: %v", idClaims)
	}
	// A session's sid is stable: another grant's ID token in the same
	// session carries the same one.
	other := in.tokensFor(t, b, rpWeb, "openid")
	if s := jwtClaims(t, other.IDToken)["sid"]; s != sid {
		t.Fatalf("two ID tokens of one session have sids %v and %v", sid, s)
	}
	// Another browser's session has another sid.
	if s := jwtClaims(t, in.tokensFor(t, in.newBrowser(), rpWeb, "openid").IDToken)["sid"]; s == sid {
		t.Fatal("two sessions share a sid")
	}

	start := time.Now()
	p := b.get(in.logoutURL("id_token_hint", web.IDToken, "post_logout_redirect_uri", "http://127.0.0.1/signed-out"))
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("logout took %s: it waited for a failing back-channel receiver", took)
	}
	wantRedirect(t, p, "http://127.0.0.1/signed-out")

	got := good.waitFor(t, 1, 10*time.Second)
	d := got[0]
	if d.method != http.MethodPost || d.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("delivery: %s %q", d.method, d.contentType)
	}
	raw := d.form.Get("logout_token")
	if raw == "" || len(d.form) != 1 {
		t.Fatalf("delivery form = %v", d.form)
	}
	// The signature verifies against the issuer's JWKS.
	keys := oidc.NewRemoteKeySet(ctx, in.issuer+"/jwks.json")
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	h := jwtHeader(t, raw)
	if h["typ"] != "logout+jwt" || h["alg"] != "RS256" || h["kid"] == "" {
		t.Errorf("logout token header = %v", h)
	}
	var lt map[string]any
	if err := json.Unmarshal(payload, &lt); err != nil {
		t.Fatal(err)
	}
	iat, _ := lt["iat"].(float64)
	exp, _ := lt["exp"].(float64)
	events, _ := lt["events"].(map[string]any)
	event, isObject := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	switch {
	case lt["iss"] != in.issuer, lt["aud"] != "rp-web", lt["sub"] != "alice", lt["sid"] != sid:
		t.Errorf("logout token claims = %v", lt)
	case lt["jti"] == nil || lt["jti"] == "":
		t.Error("logout token without jti")
	case iat < float64(start.Unix()-5) || exp <= iat || exp-iat > 120:
		t.Errorf("logout token iat %v exp %v", iat, exp)
	case len(events) != 1 || !isObject || len(event) != 0:
		t.Errorf("events = %v", lt["events"])
	}
	if _, ok := lt["nonce"]; ok {
		t.Error("a logout token must not carry a nonce (§2.4)")
	}

	// The failing app: three attempts with growing pauses, then no more.
	tries := bad.waitFor(t, 3, 20*time.Second)
	time.Sleep(2500 * time.Millisecond)
	if n := len(bad.deliveries()); n != 3 {
		t.Errorf("the failing receiver got %d attempts, want 3", n)
	}
	gap1, gap2 := tries[1].at.Sub(tries[0].at), tries[2].at.Sub(tries[1].at)
	if gap1 < 2900*time.Millisecond || gap2 < gap1+500*time.Millisecond {
		t.Errorf("retries came after %s and %s; want the 2 s answer plus a doubling back-off", gap1, gap2)
	}
	for _, d := range tries {
		if d.form.Get("logout_token") == "" {
			t.Error("a retry without the logout token")
		}
	}
	if claims := jwtClaims(t, tries[0].form.Get("logout_token")); claims["aud"] != "rp-down" || claims["sid"] != sid {
		t.Errorf("rp-down's logout token: %v", claims)
	}
	// Exactly one token for rp-web, despite its two grants; and ending an
	// already ended session sends nothing more.
	wantContinueLink(t, b.get(in.logoutURL("id_token_hint", web.IDToken, "post_logout_redirect_uri", "http://127.0.0.1/signed-out")),
		"Continue to 127.0.0.1", "http://127.0.0.1/signed-out")
	time.Sleep(300 * time.Millisecond)
	if n := len(good.deliveries()); n != 1 {
		t.Errorf("rp-web got %d logout tokens, want 1", n)
	}
}

// TestLogoutRejects: malformed and hostile logout requests get an error
// page with the right status, and leave the session alone.
func TestLogoutRejects(t *testing.T) {
	good, bad := newReceiver(t, http.StatusOK, 0), newReceiver(t, http.StatusOK, 0)
	in := startLogoutExample(t, good, bad)
	b := in.newBrowser()
	tok := in.tokensFor(t, b, rpWeb, "openid")
	web := in.tokensFor(t, b, demoWeb, "openid")
	km := in.minter(t)
	claims := jwtClaims(t, tok.IDToken)
	sign := func(alg, typ string, edit func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		edit(c)
		s, err := km.Sign(alg, typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherIssuer := sign("RS256", "JWT", func(c map[string]any) { c["iss"] = "https://evil.example" })
	twoAudiences := sign("RS256", "JWT", func(c map[string]any) { c["aud"] = []string{"rp-web", "demo-web"}; delete(c, "azp") })
	logoutTyped := sign("RS256", "logout+jwt", func(map[string]any) {})
	noExp := sign("RS256", "JWT", func(c map[string]any) { delete(c, "exp") })

	tests := []struct {
		name       string
		method     string
		query      url.Values
		body       string
		ctype      string
		wantStatus int
	}{
		{"garbage hint", "GET", url.Values{"id_token_hint": {"garbage"}}, "", "", 400},
		{"tampered hint", "GET", url.Values{"id_token_hint": {tok.IDToken[:len(tok.IDToken)-4] + "AAAA"}}, "", "", 400},
		{"alg none hint", "GET", url.Values{"id_token_hint": {unsignedJWT(claims)}}, "", "", 400},
		{"HS256 hint keyed with the public key", "GET", url.Values{"id_token_hint": {hmacWithPublicKey(t, in, claims)}}, "", "", 400},
		{"access token as hint", "GET", url.Values{"id_token_hint": {web.AccessToken}}, "", "", 400},
		{"logout token as hint", "GET", url.Values{"id_token_hint": {logoutTyped}}, "", "", 400},
		{"hint from another issuer", "GET", url.Values{"id_token_hint": {otherIssuer}}, "", "", 400},
		{"hint with two audiences and no azp", "GET", url.Values{"id_token_hint": {twoAudiences}}, "", "", 400},
		{"hint without exp", "GET", url.Values{"id_token_hint": {noExp}}, "", "", 400},
		{"client_id not the hint's", "GET", url.Values{"id_token_hint": {tok.IDToken}, "client_id": {"demo-web"}}, "", "", 400},
		{"unknown client_id", "GET", url.Values{"client_id": {"nobody"}}, "", "", 400},
		{"overlong client_id", "GET", url.Values{"client_id": {strings.Repeat("c", 300)}}, "", "", 400},
		{"duplicated state", "GET", url.Values{"client_id": {"rp-web"}, "state": {"a", "b"}}, "", "", 400},
		{"duplicated hint", "GET", url.Values{"id_token_hint": {tok.IDToken, tok.IDToken}}, "", "", 400},
		{"overlong state", "GET", url.Values{"client_id": {"rp-web"}, "state": {strings.Repeat("s", 2000)}}, "", "", 400},
		{"malformed query", "GET", nil, "", "", 400},
		{"oversized body", "POST", nil, "client_id=rp-web&pad=" + strings.Repeat("a", 100<<10), "application/x-www-form-urlencoded", 413},
		{"JSON body", "POST", nil, `{"client_id":"rp-web"}`, "application/json", 400},
		{"PUT", "PUT", nil, "", "", http.StatusMethodNotAllowed},
		{"DELETE", "DELETE", nil, "", "", http.StatusMethodNotAllowed},
		{"tampered confirmation", "POST", nil, "lr=tampered", "application/x-www-form-urlencoded", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := in.issuer + "/logout?" + tc.query.Encode()
			if tc.name == "malformed query" {
				u = in.issuer + "/logout?state=%zz"
			}
			req, err := http.NewRequest(tc.method, u, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			p := b.read(resp)
			if p.status != tc.wantStatus || p.location != "" {
				t.Fatalf("got %d (location %q), want %d:\n%.500s", p.status, p.location, tc.wantStatus, p.body)
			}
			if tc.wantStatus != http.StatusMethodNotAllowed && !strings.Contains(p.body, "invalid_request") {
				t.Errorf("the error page lacks the error code:\n%.500s", p.body)
			}
			if !in.signedIn(t, b) {
				t.Fatal("a rejected logout request ended the session")
			}
		})
	}

	t.Run("confirmation with a sealed request but no CSRF cookie", func(t *testing.T) {
		p := b.get(in.logoutURL("client_id", "rp-web"))
		f := confirmationForm(t, p)
		// Mallory's browser posts the form it copied: no CSRF cookie.
		forged := in.newBrowser().post(in.issuer+"/logout", f.fields)
		if forged.status != http.StatusForbidden {
			t.Errorf("forged confirmation: %d, want 403", forged.status)
		}
		// A copied form with the victim's cookie but a wrong token.
		v := url.Values{"lr": {f.fields.Get("lr")}, "csrf": {"wrong"}}
		if p := b.post(in.issuer+"/logout", v); p.status != http.StatusForbidden {
			t.Errorf("wrong CSRF token: %d, want 403", p.status)
		}
		// The right CSRF token, but a sealed request that is not one.
		v = url.Values{"lr": {"x" + f.fields.Get("lr")}, "csrf": {f.fields.Get("csrf")}}
		if p := b.post(in.issuer+"/logout", v); p.status != http.StatusBadRequest || !strings.Contains(p.body, "invalid_request") {
			t.Errorf("tampered sealed request: %d, want 400", p.status)
		}
		if !in.signedIn(t, b) {
			t.Fatal("a forged confirmation ended the session")
		}
	})

	t.Run("no redirect without a verified URI", func(t *testing.T) {
		// Nothing at all is followed before the app is known, even a
		// registered URI.
		p := in.newBrowser().get(in.logoutURL("post_logout_redirect_uri", "http://127.0.0.1/signed-out", "state", "s"))
		wantSignedOutPage(t, p)
	})
}

// offSiteStopper returns a browser that follows redirects within the
// issuer only: a redirect anywhere else is returned as the page, so a test
// sees it instead of the client dialling evil.example.
func (in *instance) offSiteStopper() *browser {
	b := in.newBrowser()
	issuer, _ := url.Parse(in.issuer)
	follow := b.client.CheckRedirect
	b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != issuer.Host {
			return http.ErrUseLastResponse
		}
		return follow(req, via)
	}
	return b
}

// pageLinks returns the href of every <a> on an HTML page, by its text
// (whitespace collapsed).
func pageLinks(t *testing.T, body string) map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	var text func(*html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var s string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			s += text(c)
		}
		return s
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			for _, a := range n.Attr {
				if a.Key == "href" {
					links[strings.Join(strings.Fields(text(n)), " ")] = a.Val
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return links
}

// wantContinueLink fails unless p is the signed-out page (no redirect)
// offering a plainly labelled link to target.
func wantContinueLink(t *testing.T, p *page, label, target string) {
	t.Helper()
	wantSignedOutPage(t, p)
	if got := pageLinks(t, p.body)[label]; got != target {
		t.Fatalf("the signed-out page links %q to %q, want %q; links %v", label, got, target, pageLinks(t, p.body))
	}
}

// TestLogoutIsNotAnOpenRedirect: with registration open (as in
// Caddyfile.example) anyone can register a post_logout_redirect_uri, so a
// bare link to /logout naming that client must not bounce a browser to it
// (OIDC RP-Initiated Logout 1.0 §3; RFC 9700 §4.11). Only an id_token_hint
// issued to the client and naming the browser's current session earns a
// redirect without interaction; otherwise the user sees a page and, at
// most, a link that says where it goes.
func TestLogoutIsNotAnOpenRedirect(t *testing.T) {
	in := startExample(t)
	const evil = "https://evil.example/phish"
	res := in.register(t, map[string]any{
		"client_name":                "Totally Legit",
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"post_logout_redirect_uris":  []string{evil},
		"token_endpoint_auth_method": "none",
	}, nil)
	if res.status != http.StatusCreated {
		t.Fatalf("registering the phishing client: HTTP %d %s", res.status, res.body)
	}
	phish := demoApp{id: res.registration(t).ClientID}
	const label, target = "Continue to evil.example", evil + "?state=s1"

	// signIn returns a browser with a session and an ID token of the
	// phishing client issued in it.
	signIn := func(t *testing.T) (*browser, string) {
		b := in.offSiteStopper()
		return b, in.tokensFor(t, b, phish, "openid").IDToken
	}
	_, otherHint := signIn(t) // a valid hint, but of someone else's session

	tests := []struct {
		name     string
		signedIn bool
		hint     string // "", "own" or "other"
		// confirm: the confirmation page comes first; then want applies
		// to what confirming it gives.
		confirm bool
		// redirect: a redirect to the URI with state; otherwise the
		// signed-out page with the labelled link.
		redirect bool
	}{
		{name: "no session, no hint", signedIn: false},
		{name: "no session, a valid hint", signedIn: false, hint: "other"},
		{name: "session, no hint", signedIn: true, confirm: true},
		{name: "session, hint of another session", signedIn: true, hint: "other", confirm: true, redirect: true},
		{name: "session, hint of this session", signedIn: true, hint: "own", redirect: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, own := in.offSiteStopper(), ""
			if tc.signedIn {
				b, own = signIn(t)
			}
			params := []string{"client_id", phish.id, "post_logout_redirect_uri", evil, "state", "s1"}
			switch tc.hint {
			case "own":
				params = append(params, "id_token_hint", own)
			case "other":
				params = append(params, "id_token_hint", otherHint)
			}
			p := b.get(in.logoutURL(params...))
			if tc.confirm {
				confirmationForm(t, p)
				if p.location != "" {
					t.Fatalf("the confirmation page came with Location %q", p.location)
				}
				if !in.signedIn(t, b) {
					t.Fatal("signed out before confirming")
				}
				// The form may lead to evil.example only when confirming
				// redirects there (CSP form-action covers redirects).
				csp := p.header.Get("Content-Security-Policy")
				if strings.Contains(csp, "evil.example") != tc.redirect {
					t.Errorf("CSP %q; want evil.example in form-action: %v", csp, tc.redirect)
				}
				p = b.submit(p, nil)
			}
			if tc.redirect {
				wantRedirect(t, p, target)
			} else {
				wantContinueLink(t, p, label, target)
				if csp := p.header.Get("Content-Security-Policy"); strings.Contains(csp, "evil.example") {
					t.Errorf("the signed-out page's CSP names evil.example: %q", csp)
				}
			}
			if tc.signedIn && in.signedIn(t, b) {
				t.Fatal("still signed in")
			}
		})
	}
}
