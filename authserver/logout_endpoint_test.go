package authserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// signedInWithTokens is a browser signed in through an authorization of
// clientID, and the tokens that app got in that session.
func signedInWithTokens(t *testing.T, f *ast.Fixture, clientID, scope string) (*ast.Browser, ast.Tokens) {
	t.Helper()
	b := f.NewBrowser(t)
	tok := f.Exchange(t, clientID, b.Code(f.AuthorizeQuery(clientID, scope)))
	return b, tok
}

// signedIn reports whether the browser still has a session: the account
// page shows instead of sending it to the login page.
func signedIn(t *testing.T, b *ast.Browser) bool {
	t.Helper()
	res := b.Get("/account/apps")
	if res.Code != http.StatusOK && res.Code != http.StatusFound {
		t.Fatalf("account page: %s", res)
	}
	return res.Code == http.StatusOK
}

// logoutQuery is an RP-initiated logout request (RP-Initiated Logout
// §2) as pairs of parameters.
func logoutPath(kv ...string) string { return "/logout?" + query(kv...).Encode() }

// TestLogoutImmediate: a hint for the browser's own session ends it at
// once and, for a registered post_logout_redirect_uri, redirects there
// with state; never to an unregistered one.
func TestLogoutImmediate(t *testing.T) {
	f := ast.New(t, ast.Options{})
	tests := []struct {
		name     string
		redirect string
		want     string // Location; "" for the signed-out page
	}{
		{"registered URI", ast.FirstPartyLogout, ast.FirstPartyLogout + "?state=st-1"},
		{"unregistered URI", "https://evil.example/", ""},
		{"another client's URI", ast.ThirdPartyLogout, ""},
		{"the redirect URI", ast.FirstPartyRedirect, ""},
		{"no URI", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
			res := b.Get(logoutPath("id_token_hint", tok.IDToken, "post_logout_redirect_uri", tc.redirect, "state", "st-1"))
			if got := res.Header.Get("Location"); got != tc.want {
				t.Errorf("Location %q, want %q (%s)", got, tc.want, res)
			}
			if tc.want == "" {
				if res.Code != http.StatusOK || strings.Contains(res.Body, "evil.example") {
					t.Errorf("want the signed-out page without the unregistered URI: %s", res)
				}
				wantPageHeaders(t, res)
			}
			if signedIn(t, b) {
				t.Error("still signed in")
			}
		})
	}
	t.Run("expired hint", func(t *testing.T) {
		b, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
		f.Clock.Advance(2 * time.Hour)
		res := b.Get(logoutPath("id_token_hint", tok.IDToken, "post_logout_redirect_uri", ast.FirstPartyLogout))
		if res.Header.Get("Location") != ast.FirstPartyLogout {
			t.Errorf("an expired ID token is a valid hint (RP-Initiated Logout §2): %s", res)
		}
	})
	t.Run("by POST", func(t *testing.T) {
		b, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
		res := b.Post("/logout", query("id_token_hint", tok.IDToken, "post_logout_redirect_uri", ast.FirstPartyLogout))
		if res.Code != http.StatusSeeOther || res.Header.Get("Location") != ast.FirstPartyLogout {
			t.Errorf("%s", res)
		}
	})
}

// TestLogoutConfirmation: without proof that the app signs out its own
// user in this browser, the user confirms on a CSRF-protected page; only
// a hinted request then redirects, anything else gets a link.
func TestLogoutConfirmation(t *testing.T) {
	f := ast.New(t, ast.Options{})
	_, otherTok := signedInWithTokens(t, f, ast.FirstParty, "openid")
	tests := []struct {
		name string
		path string
		want string // Location after confirming; "" for the signed-out page
		link string // a link the signed-out page offers
	}{
		{"no parameters", "/logout", "", ""},
		{"client_id and registered URI", logoutPath("client_id", ast.FirstParty, "post_logout_redirect_uri", ast.FirstPartyLogout, "state", "s"),
			"", ast.FirstPartyLogout + "?state=s"},
		{"another session's hint", logoutPath("id_token_hint", otherTok.IDToken, "post_logout_redirect_uri", ast.FirstPartyLogout),
			ast.FirstPartyLogout, ""},
		{"hint and matching client_id", logoutPath("id_token_hint", otherTok.IDToken, "client_id", ast.FirstParty), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := signedInWithTokens(t, f, ast.ThirdParty, "openid")
			page := b.Get(tc.path)
			if !b.OnPage(page, "/logout") {
				t.Fatalf("want the confirmation page, got %s", page)
			}
			if !signedIn(t, b) {
				t.Fatal("showing the confirmation page signed the user out")
			}
			if tc.want != "" && !strings.Contains(page.Header.Get("Content-Security-Policy"), "form-action 'self' https://first.example") {
				t.Errorf("a confirmation that redirects must allow it in form-action: %q", page.Header.Get("Content-Security-Policy"))
			}

			// A forged confirmation does nothing.
			forged := b.Submit(page, "/logout", query("csrf", "forged"))
			if forged.Code != http.StatusForbidden || !signedIn(t, b) {
				t.Fatalf("a confirmation with a bad CSRF token: %s", forged)
			}

			res := b.Submit(page, "/logout", nil)
			if got := res.Header.Get("Location"); got != tc.want {
				t.Errorf("Location %q, want %q", got, tc.want)
			}
			if tc.link != "" && (res.Code != http.StatusOK || !strings.Contains(pageText(res), `href="`+tc.link+`"`)) {
				t.Errorf("the signed-out page does not offer %q: %s", tc.link, res)
			}
			if signedIn(t, b) {
				t.Error("still signed in after confirming")
			}
		})
	}
}

// TestLogoutRefused: requests that cannot be valid are refused with a
// page, and nothing changes.
func TestLogoutRefused(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"garbage hint", f.NewRequest(http.MethodGet, logoutPath("id_token_hint", "not-a-jwt"), nil), 400},
		{"access token as hint", f.NewRequest(http.MethodGet, logoutPath("id_token_hint", tok.AccessToken), nil), 400},
		{"hint for another client_id", f.NewRequest(http.MethodGet, logoutPath("id_token_hint", tok.IDToken, "client_id", ast.ThirdParty), nil), 400},
		{"unknown client_id", f.NewRequest(http.MethodGet, logoutPath("client_id", "nobody"), nil), 400},
		{"client_id too long", f.NewRequest(http.MethodGet, logoutPath("client_id", strings.Repeat("c", 256)), nil), 400},
		{"state too long", f.NewRequest(http.MethodGet, logoutPath("state", strings.Repeat("s", 1025)), nil), 400},
		{"malformed query", f.NewRequest(http.MethodGet, "/logout?state=%zz", nil), 400},
		{"repeated state", f.NewRequest(http.MethodGet, "/logout?state=a&state=b", nil), 400},
		{"too large", f.NewRequest(http.MethodPost, "/logout", query("state", strings.Repeat("s", 70<<10))), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.For(t).Do(tc.req)
			wantErrorPage(t, res, tc.status, "invalid_request")
			if !signedIn(t, b.For(t)) {
				t.Fatal("a refused sign-out signed the user out")
			}
		})
	}
	t.Run("tampered confirmation", func(t *testing.T) {
		page := b.For(t).Get("/logout")
		wantErrorPage(t, b.For(t).Submit(page, "/logout", query("lr", "tampered")), http.StatusBadRequest, "invalid_request")
	})
}

// TestLogoutSignedOut: a browser without a session is shown the
// signed-out page, with at most a link back to the app: a bare link to
// the endpoint never redirects (no open redirector).
func TestLogoutSignedOut(t *testing.T) {
	f := ast.New(t, ast.Options{})
	_, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
	b := f.NewBrowser(t)
	res := b.Get(logoutPath("id_token_hint", tok.IDToken, "post_logout_redirect_uri", ast.FirstPartyLogout, "state", "x"))
	if res.Code != http.StatusOK || res.Header.Get("Location") != "" {
		t.Fatalf("want the signed-out page, got %s", res)
	}
	if !strings.Contains(pageText(res), ast.FirstPartyLogout+"?state=x") {
		t.Errorf("the signed-out page does not offer the way back to the app: %s", res)
	}
	// A cross-site POST arrives without the session cookie: it is asked
	// to confirm, never followed.
	res = b.Post("/logout", query("id_token_hint", tok.IDToken, "post_logout_redirect_uri", ast.FirstPartyLogout))
	if !b.OnPage(res, "/logout") {
		t.Errorf("want the confirmation page, got %s", res)
	}
}

// TestLogoutGrants: signing out revokes the grants made in the session,
// except those with offline_access, which the user let the app keep.
func TestLogoutGrants(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	online := f.Exchange(t, ast.FirstParty, b.Code(f.AuthorizeQuery(ast.FirstParty, "openid")))
	offline := f.Exchange(t, ast.ThirdParty, b.Code(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access")))
	other := f.TokensFor(t, ast.FirstParty, "openid") // another session
	res := b.Submit(b.Get("/logout"), "/logout", nil)
	if res.Code != http.StatusOK {
		t.Fatalf("sign-out: %s", res)
	}
	for _, tc := range []struct {
		name   string
		client string
		token  string
		active bool
	}{
		{"the session's grant", ast.FirstParty, online.AccessToken, false},
		{"an offline_access grant", ast.ThirdParty, offline.AccessToken, true},
		{"an offline_access refresh token", ast.ThirdParty, offline.RefreshToken, true},
		{"another session's grant", ast.FirstParty, other.AccessToken, true},
	} {
		if in := introspect(t, f, tc.client, tc.token, nil); in.Active != tc.active {
			t.Errorf("%s: active %v, want %v", tc.name, in.Active, tc.active)
		}
	}
}

// backchannelReceiver is a client's back-channel logout endpoint: it
// answers with the statuses given, then 200, and records what it got.
type backchannelReceiver struct {
	mu       sync.Mutex
	statuses []int
	tokens   []string
	got      chan string
}

func newBackchannelReceiver(t *testing.T, statuses ...int) (*backchannelReceiver, string) {
	rcv := &backchannelReceiver{statuses: statuses, got: make(chan string, 10)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rcv.mu.Lock()
		status := http.StatusOK
		if len(rcv.statuses) > 0 {
			status, rcv.statuses = rcv.statuses[0], rcv.statuses[1:]
		}
		if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			rcv.tokens = append(rcv.tokens, form.Get("logout_token"))
		}
		rcv.mu.Unlock()
		w.WriteHeader(status)
		rcv.got <- form.Get("logout_token")
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL + "/backchannel"
}

func (r *backchannelReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

func backchannelFixture(t *testing.T, uri string) *ast.Fixture {
	return ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "bc", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://bc.example/cb"}, BackchannelLogoutURI: uri}}}})
}

// shutdown waits for the fixture server's back-channel deliveries.
func shutdown(t *testing.T, f *ast.Fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Server.Shutdown(ctx); err != nil {
		t.Fatalf("deliveries still running: %v", err)
	}
}

// TestBackchannelLogout: OIDC Back-Channel Logout 1.0. Ending a session
// sends every client that got tokens in it a logout token naming the
// session, by a form POST.
func TestBackchannelLogout(t *testing.T) {
	rcv, uri := newBackchannelReceiver(t)
	f := backchannelFixture(t, uri)
	b, tok := signedInWithTokens(t, f, "bc", "openid")
	// A client that got no tokens in the session is not notified.
	f.NewBrowser(t).Code(f.AuthorizeQuery(ast.FirstParty, "openid"))
	if res := b.Submit(b.Get("/logout"), "/logout", nil); res.Code != http.StatusOK {
		t.Fatalf("sign-out: %s", res)
	}
	var raw string
	select {
	case raw = <-rcv.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no logout token was delivered")
	}
	shutdown(t, f)
	if n := len(rcv.received()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	if typ := ast.Header(t, raw)["typ"]; typ != "logout+jwt" {
		t.Errorf("typ %v, want logout+jwt", typ)
	}
	c := ast.Claims(t, raw)
	now := float64(f.Clock.Now().Unix())
	for k, want := range map[string]any{"iss": ast.Issuer, "aud": "bc", "sub": ast.AliceID, "iat": now, "exp": now + 120,
		"sid": ast.Claims(t, tok.IDToken)["sid"]} {
		if c[k] != want {
			t.Errorf("logout token %s = %v, want %v", k, c[k], want)
		}
	}
	if _, ok := c["events"].(map[string]any)["http://schemas.openid.net/event/backchannel-logout"]; !ok || c["nonce"] != nil || c["jti"] == nil {
		t.Errorf("logout token claims %v", c)
	}
}

// TestBackchannelDelivery: a transient failure is retried, a refusal is
// not, and once the server is shut down nothing more is sent.
func TestBackchannelDelivery(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		want     int
	}{
		{"refused", []int{http.StatusBadRequest}, 1},
		{"unavailable, then delivered", []int{http.StatusServiceUnavailable}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv, uri := newBackchannelReceiver(t, tc.statuses...)
			f := backchannelFixture(t, uri)
			b, _ := signedInWithTokens(t, f, "bc", "openid")
			b.Submit(b.Get("/logout"), "/logout", nil)
			<-rcv.got
			shutdown(t, f) // waits for retries in flight
			if n := len(rcv.received()); n != tc.want {
				t.Errorf("%d attempts, want %d", n, tc.want)
			}
			b, _ = signedInWithTokens(t, f, "bc", "openid")
			b.Submit(b.Get("/logout"), "/logout", nil)
			if n := len(rcv.received()); n != tc.want {
				t.Errorf("a logout after shutdown was delivered")
			}
		})
	}
}

// TestLogoutHintAudience: an ID token hint names its client by a single
// aud, or by azp among several (OIDC Core §2); a hint that names no
// client, or comes from another issuer, is refused.
func TestLogoutHintAudience(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b, tok := signedInWithTokens(t, f, ast.FirstParty, "openid")
	sid := ast.Claims(t, tok.IDToken)["sid"]
	hint := func(edit func(map[string]any)) string {
		c := map[string]any{"iss": ast.Issuer, "sub": ast.AliceID, "aud": ast.FirstParty, "sid": sid,
			"iat": f.Clock.Now().Unix(), "exp": f.Clock.Now().Add(time.Hour).Unix()}
		edit(c)
		raw, err := f.Keys.Sign("RS256", "JWT", c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, tc := range []struct {
		name string
		hint string
	}{
		{"several audiences without azp", hint(func(c map[string]any) { c["aud"] = []string{ast.FirstParty, ast.ThirdParty} })},
		{"azp not among the audiences", hint(func(c map[string]any) { c["aud"] = []string{ast.ThirdParty, "x"}; c["azp"] = ast.FirstParty })},
		{"empty audience", hint(func(c map[string]any) { c["aud"] = "" })},
		{"another issuer", hint(func(c map[string]any) { c["iss"] = "https://other.example" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErrorPage(t, b.For(t).Get(logoutPath("id_token_hint", tc.hint)), http.StatusBadRequest, "invalid_request")
		})
	}
	azp := hint(func(c map[string]any) { c["aud"] = []string{ast.ThirdParty, ast.FirstParty}; c["azp"] = ast.FirstParty })
	res := b.Get(logoutPath("id_token_hint", azp, "post_logout_redirect_uri", ast.FirstPartyLogout))
	if res.Header.Get("Location") != ast.FirstPartyLogout {
		t.Errorf("a hint whose azp is among its audiences: %s", res)
	}
}

// TestLogoutClientChanged: a post-logout URI removed from the client
// while the confirmation page was open is not followed.
func TestLogoutClientChanged(t *testing.T) {
	f := ast.New(t, ast.Options{})
	ctx := context.Background()
	info, secret, err := f.Registry.Create(ctx, clients.Metadata{Name: "Managed", Type: clients.FirstParty,
		RedirectURIs: []string{"https://managed.example/cb"}, PostLogoutRedirectURIs: []string{"https://managed.example/bye"}})
	if err != nil {
		t.Fatal(err)
	}
	f.SetSecret(info.ID, secret)
	_, other := signedInWithTokens(t, f, info.ID, "openid") // another session's hint: confirmation needed
	b, _ := signedInWithTokens(t, f, info.ID, "openid")
	page := b.Get(logoutPath("id_token_hint", other.IDToken, "post_logout_redirect_uri", "https://managed.example/bye"))
	if !b.OnPage(page, "/logout") {
		t.Fatalf("want the confirmation page: %s", page)
	}
	if _, err := f.Registry.Update(ctx, info.ID, func(md *clients.Metadata) error { md.PostLogoutRedirectURIs = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	res := b.Submit(page, "/logout", nil)
	if res.Code != http.StatusOK || res.Header.Get("Location") != "" || strings.Contains(res.Body, "managed.example/bye") {
		t.Errorf("followed or offered a URI the client no longer has: %s", res)
	}
	if signedIn(t, b) {
		t.Error("still signed in")
	}
}

// TestBackchannelNotFollowed: a logout token goes only to the registered
// URI: a redirect is not followed, and counts as a refusal.
func TestBackchannelNotFollowed(t *testing.T) {
	elsewhere, elsewhereURI := newBackchannelReceiver(t)
	var mu sync.Mutex
	attempts := 0
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		http.Redirect(w, r, elsewhereURI, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	f := backchannelFixture(t, redirector.URL+"/bc")
	b, _ := signedInWithTokens(t, f, "bc", "openid")
	b.Submit(b.Get("/logout"), "/logout", nil)
	shutdown(t, f) // waits for the delivery
	mu.Lock()
	defer mu.Unlock()
	if attempts != 1 {
		t.Errorf("%d attempts, want 1: a redirect is not retried", attempts)
	}
	if n := len(elsewhere.received()); n != 0 {
		t.Errorf("the redirect was followed: %d deliveries elsewhere", n)
	}
}

// TestBackchannelShutdownAbandons: Shutdown gives up on deliveries still
// waiting to be retried once its context ends.
func TestBackchannelShutdownAbandons(t *testing.T) {
	rcv, uri := newBackchannelReceiver(t, 503, 503, 503)
	f := backchannelFixture(t, uri)
	b, _ := signedInWithTokens(t, f, "bc", "openid")
	b.Submit(b.Get("/logout"), "/logout", nil)
	<-rcv.got
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Server.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v, want the context's error", err)
	}
	if n := len(rcv.received()); n != 1 {
		t.Errorf("%d attempts, want 1: the retry was abandoned", n)
	}
}

// TestEndSession: Server.EndSession, as a gate's sign-out calls it, ends
// the issuer session and notifies the apps once, however often it is
// called; an unknown session is no error.
func TestEndSession(t *testing.T) {
	rcv, uri := newBackchannelReceiver(t)
	f := backchannelFixture(t, uri)
	b, _ := signedInWithTokens(t, f, "bc", "openid")
	code := b.Code(f.AuthorizeQuery(clients.GateID, "openid"))
	login, err := f.Server.RedeemGateCode(context.Background(), authserver.GateCodeRequest{
		Code: code, RedirectURI: ast.GateRedirectURI, Verifier: ast.Verifier, Nonce: ast.Nonce})
	if err != nil || login.SessionIDHash == "" {
		t.Fatalf("RedeemGateCode: %+v, %v", login, err)
	}
	for range 2 {
		if err := f.Server.EndSession(context.Background(), login.SessionIDHash); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
	}
	if err := f.Server.EndSession(context.Background(), "no-such-session"); err != nil {
		t.Errorf("EndSession of an unknown session: %v", err)
	}
	shutdown(t, f)
	if n := len(rcv.received()); n != 1 {
		t.Errorf("%d back-channel notifications, want 1", n)
	}
	if signedIn(t, b) {
		t.Error("the browser is still signed in")
	}
	if g, err := f.Store.GetGrant(context.Background(), login.GrantID); err != nil || g.RevokedAt.IsZero() {
		t.Errorf("the gate's grant survived the session: %+v, %v", g, err)
	}
}
