package authserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/federation"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// closedPortURL is an http URL on the loopback interface where nothing
// listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// otherJWKS is a key set without the provider's keys: what a provider
// would publish if the ID token were signed by a key it does not own.
func otherJWKS(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "es256-1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFederatedFailures: whatever goes wrong upstream or in the answer,
// the user gets a page saying what to do (never a 500), the log names the
// cause, and nobody is signed in, linked or created.
func TestFederatedFailures(t *testing.T) {
	cases := []struct {
		name string
		opts fedOptions
		// before runs before the sign-in starts; answer edits the
		// callback URL (nil: the provider's own); otherBrowser delivers
		// it to a browser that did not start the sign-in.
		before       func(t *testing.T, e *fedEnv)
		answer       func(cb *url.URL, e *fedEnv) *url.URL
		otherBrowser bool
		replay       bool
		downAtStart  bool
		wantStatus   int
		wantText     string
		wantCause    federation.Cause
	}{
		{name: "provider down", downAtStart: true, wantStatus: http.StatusBadGateway,
			wantText: "could not sign you in with Corp SSO", wantCause: federation.CauseUnreachable},
		{name: "wrong client secret", opts: fedOptions{jit: true, provider: func(c *federation.Config) { c.ClientSecret = "not-the-secret-0123456789abcdef" }},
			wantStatus: http.StatusBadGateway, wantText: "could not sign you in with Corp SSO", wantCause: federation.CauseTokenExchange},
		{name: "denied consent", opts: fedOptions{jit: true}, answer: func(cb *url.URL, e *fedEnv) *url.URL {
			return withQuery(cb, url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}, "iss": {e.upURL}})
		}, wantStatus: http.StatusForbidden, wantText: "did not let us sign you in", wantCause: federation.CauseDenied},
		{name: "another provider's iss (mix-up)", opts: fedOptions{jit: true}, answer: func(cb *url.URL, e *fedEnv) *url.URL {
			q := cb.Query()
			q.Set("iss", "https://attacker.example")
			return withQuery(cb, q)
		}, wantStatus: http.StatusBadGateway, wantText: "could not sign you in", wantCause: federation.CauseIssuer},
		{name: "iss missing though advertised", opts: fedOptions{jit: true}, answer: func(cb *url.URL, e *fedEnv) *url.URL {
			q := cb.Query()
			q.Del("iss")
			return withQuery(cb, q)
		}, wantStatus: http.StatusBadGateway, wantText: "could not sign you in", wantCause: federation.CauseIssuer},
		{name: "ID token signed by an unknown key", opts: fedOptions{jit: true}, before: func(t *testing.T, e *fedEnv) {
			jwks := otherJWKS(t)
			e.filter = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/jwks.json" {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(jwks)
				return true
			}
		}, wantStatus: http.StatusBadGateway, wantText: "could not sign you in", wantCause: federation.CauseSignature},
		{name: "clock skew", opts: fedOptions{jit: true}, before: func(t *testing.T, e *fedEnv) {
			// The downstream runs three hours ahead of the provider,
			// whose ID tokens live an hour.
			e.down.Clock.Advance(3 * time.Hour)
		}, wantStatus: http.StatusBadGateway, wantText: "could not sign you in", wantCause: federation.CauseClockSkew},
		{name: "tampered state", opts: fedOptions{jit: true}, answer: func(cb *url.URL, e *fedEnv) *url.URL {
			q := cb.Query()
			q.Set("state", q.Get("state")+"x")
			return withQuery(cb, q)
		}, wantStatus: http.StatusBadRequest, wantText: "did not start in this browser", wantCause: federation.CauseState},
		{name: "answer in another browser (login CSRF)", opts: fedOptions{jit: true}, otherBrowser: true,
			wantStatus: http.StatusBadRequest, wantText: "did not start in this browser", wantCause: federation.CauseState},
		{name: "replayed answer", opts: fedOptions{jit: true}, replay: true,
			wantStatus: http.StatusBadRequest, wantText: "did not start in this browser", wantCause: federation.CauseState},
		{name: "repeated parameter", opts: fedOptions{jit: true}, answer: func(cb *url.URL, e *fedEnv) *url.URL {
			out := *cb
			out.RawQuery += "&code=second"
			return &out
		}, wantStatus: http.StatusBadGateway, wantText: "could not sign you in", wantCause: federation.CauseUpstreamError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			var down string
			if tc.downAtStart {
				down = closedPortURL(t)
				opts.provider = func(c *federation.Config) { c.Issuer = down }
			}
			e := newFedEnv(t, opts)
			if tc.before != nil {
				tc.before(t, e)
			}
			b := e.down.NewBrowser(t)
			var res *ast.Response
			if tc.downAtStart {
				page := b.Authorize(e.down.AuthorizeQuery(ast.FirstParty, "openid"))
				res = b.Get("/federation/corp/start?" + url.Values{"ar": {page.Form("/login").Values.Get("ar")}}.Encode())
			} else {
				cb := e.upstreamSignIn(t, e.start(t, b, e.down.AuthorizeQuery(ast.FirstParty, "openid")), carol)
				if tc.answer != nil {
					cb = tc.answer(cb, e)
				}
				switch {
				case tc.otherBrowser:
					b = e.down.NewBrowser(t)
				case tc.replay:
					if first := e.callback(b, cb); first.Code/100 != 3 {
						t.Fatalf("the first delivery failed: %s", first)
					}
				}
				res = e.callback(b, cb)
			}
			if res.Code != tc.wantStatus || !strings.Contains(res.Body, tc.wantText) {
				t.Fatalf("got %s, want %d with %q", res, tc.wantStatus, tc.wantText)
			}
			if logs := e.logs.String(); !strings.Contains(logs, "cause="+string(tc.wantCause)) {
				t.Errorf("no log line with cause=%s in:\n%s", tc.wantCause, logs)
			}
			if tc.replay {
				return // the first delivery signed in, as it should
			}
			if b.Cookie("gatehouse_session") != nil {
				t.Error("a failed sign-in left a session cookie")
			}
			if _, err := e.down.Store.(store.FederationStore).GetLinkedIdentity(t.Context(), "corp", "upstream-carol"); err == nil {
				t.Error("a failed sign-in linked the upstream account")
			}
			if list, _ := e.down.Accounts.List(t.Context(), store.UserFilter{Limit: 10}); len(list) != 0 {
				t.Errorf("a failed sign-in created users: %+v", list)
			}
		})
	}
}

func withQuery(u *url.URL, q url.Values) *url.URL {
	out := *u
	out.RawQuery = q.Encode()
	return &out
}

// TestFederatedLoginPage: the login page shows a button per provider
// beside the password form, or instead of it with password sign-in off,
// which also refuses a posted password; idp_hint skips the page.
func TestFederatedLoginPage(t *testing.T) {
	e := newFedEnv(t, fedOptions{jit: true, passOff: true})
	b := e.down.NewBrowser(t)
	page := b.Authorize(e.down.AuthorizeQuery(ast.FirstParty, "openid"))
	if !strings.Contains(page.Body, "Sign in with Corp SSO") || strings.Contains(page.Body, `type="password"`) {
		t.Fatalf("with password off the page must show the provider and no password field: %s", page.Body)
	}
	i := strings.Index(page.Body, `href="/federation/corp/start?ar=`)
	if i < 0 {
		t.Fatalf("no provider link: %s", page.Body)
	}
	href := page.Body[i+len(`href="`):]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	link, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"ar": {link.Query().Get("ar")}, "username": {ast.Alice}, "password": {ast.Password}}
	if res := b.Post("/login", form); res.Code != http.StatusForbidden || !strings.Contains(res.Body, "Sign in with one of the accounts above") ||
		b.Cookie("gatehouse_session") != nil {
		t.Errorf("a password sign-in with password off: %s", res)
	}

	q := e.down.AuthorizeQuery(ast.FirstParty, "openid")
	q.Set("idp_hint", "corp")
	q.Set("login_hint", "carol@corp.example")
	res := b.Get("/authorize?" + q.Encode())
	res = b.Follow(res)
	loc := res.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), e.upURL+"/authorize?") {
		t.Fatalf("idp_hint did not lead to the provider: %s", res)
	}
	if loc.Query().Get("login_hint") != "carol@corp.example" {
		t.Errorf("login_hint not passed on: %s", loc)
	}
	if loc.Query().Get("prompt") != "" || loc.Query().Get("max_age") != "" {
		t.Errorf("prompt/max_age sent upstream unasked: %s", loc)
	}
	// prompt=login and max_age are passed on: the provider must
	// authenticate the user afresh too.
	q.Set("prompt", "login")
	q.Set("max_age", "60")
	loc = b.Follow(b.Get("/authorize?" + q.Encode())).Location()
	if loc == nil || loc.Query().Get("prompt") != "login" || loc.Query().Get("max_age") != "60" {
		t.Errorf("prompt=login and max_age not passed on: %v", loc)
	}
	q.Del("prompt")
	q.Del("max_age")
	q.Set("idp_hint", "nonesuch")
	if res := b.Follow(b.Get("/authorize?" + q.Encode())); res.Code != http.StatusOK || !strings.Contains(res.Body, "Sign in with Corp SSO") {
		t.Errorf("an unknown idp_hint must show the login page: %s", res)
	}
}
