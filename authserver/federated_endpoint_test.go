package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/federation"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// The upstream identity provider in these tests is another Gatehouse,
// served over real HTTP on the loopback interface: discovery, the token
// endpoint and the JWKS are fetched as from any provider. Its browser
// part runs in process (the upstream fixture's Browser).

const (
	upstreamClient       = "downstream"
	upstreamClientSecret = "downstream-secret-0123456789abcdef"
	carol                = "carol"
	carolEmail           = "carol@corp.example"
)

type fedEnv struct {
	up     *ast.Fixture
	upURL  string
	down   *ast.Fixture
	logs   *lockedBuffer
	filter func(w http.ResponseWriter, r *http.Request) bool // answers instead of the upstream when true
}

type fedOptions struct {
	provider  func(*federation.Config)
	jit, link bool
	passOff   bool
}

// newFedEnv starts the upstream Gatehouse on a free loopback port and a
// downstream fixture with it as the provider "corp".
func newFedEnv(t *testing.T, o fedOptions) *fedEnv {
	t.Helper()
	e := &fedEnv{logs: &lockedBuffer{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.filter != nil && e.filter(w, r) {
			return
		}
		e.up.Server.ServeHTTP(w, r)
	}))
	e.upURL = "http://" + srv.Listener.Addr().String()
	pw, err := ast.HashPassword(ast.Password)
	if err != nil {
		t.Fatal(err)
	}
	e.up = ast.New(t, ast.Options{
		Issuer: e.upURL,
		Users: []*identity.User{{ID: "upstream-carol", Username: carol, Name: "Carol Danvers", Email: carolEmail,
			EmailVerified: true, Groups: []string{"eng", "oncall"}, Password: pw}},
		Clients: []*clients.Client{{ID: upstreamClient, SecretHashes: []string{clients.HashSecret(upstreamClientSecret)},
			Metadata: clients.Metadata{Name: "Downstream", Type: clients.FirstParty,
				RedirectURIs: []string{ast.Issuer + "/federation/corp/callback"}}}},
		Secrets: map[string]string{upstreamClient: upstreamClientSecret},
	})
	srv.Start()
	t.Cleanup(srv.Close)
	e.down = ast.New(t, ast.Options{
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
		Configure: func(cfg *authserver.Config) {
			fc := federation.Config{Name: "corp", Type: federation.TypeOIDC, DisplayName: "Corp SSO", Issuer: e.upURL,
				ClientID: upstreamClient, ClientSecret: upstreamClientSecret, Scopes: []string{"openid", "email", "profile", "groups"},
				Now: cfg.Now}
			if o.provider != nil {
				o.provider(&fc)
			}
			p, err := federation.New(fc)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Providers = []authserver.FederatedProvider{{Provider: p, JIT: o.jit, LinkByVerifiedEmail: o.link}}
			cfg.PasswordLoginOff = o.passOff
		},
	})
	return e
}

// start runs an authorization request at the downstream until it sends
// the browser to the provider, and returns where.
func (e *fedEnv) start(t *testing.T, b *ast.Browser, q url.Values) *url.URL {
	t.Helper()
	page := b.Authorize(q)
	if !b.OnPage(page, "/login") {
		t.Fatalf("no login page: %s", page)
	}
	if !strings.Contains(page.Body, "Sign in with Corp SSO") {
		t.Fatalf("the login page has no button for the provider: %s", page.Body)
	}
	ar := page.Form("/login").Values.Get("ar")
	res := b.Get("/federation/corp/start?" + url.Values{"ar": {ar}}.Encode())
	loc := res.Location()
	if res.Code != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), e.upURL+"/authorize?") {
		t.Fatalf("start did not redirect to the provider: %s", res)
	}
	return loc
}

// upstreamSignIn signs username in at the provider and returns the
// callback URL it sends the browser to.
func (e *fedEnv) upstreamSignIn(t *testing.T, to *url.URL, username string) *url.URL {
	t.Helper()
	ub := e.up.NewBrowser(t)
	ub.Username = username
	page := ub.Follow(ub.Get(to.RequestURI()))
	if !ub.OnPage(page, "/login") {
		t.Fatalf("no login page at the provider: %s", page)
	}
	res := ub.Login(page)
	cb := res.Location()
	if res.Code/100 != 3 || cb == nil || !strings.HasPrefix(cb.String(), ast.Issuer+"/federation/corp/callback?") {
		t.Fatalf("the provider did not send the browser back: %s", res)
	}
	return cb
}

// callback delivers the provider's answer to the downstream browser and
// follows the downstream's redirects, and its continue page.
func (e *fedEnv) callback(b *ast.Browser, cb *url.URL) *ast.Response {
	return followContinue(b, b.Follow(b.Get(cb.RequestURI())))
}

// followContinue moves on from the page shown after a sign-in at a
// provider (a meta refresh to /federation/continue), as a browser does.
func followContinue(b *ast.Browser, res *ast.Response) *ast.Response {
	const marker = `<meta http-equiv="refresh" content="0;url=`
	i := strings.Index(res.Body, marker)
	if res.Code != http.StatusOK || i < 0 {
		return res
	}
	next := res.Body[i+len(marker):]
	next = strings.ReplaceAll(next[:strings.IndexByte(next, '"')], "&amp;", "&")
	return b.Follow(b.Get(next))
}

func appCode(t *testing.T, res *ast.Response, redirect string) string {
	t.Helper()
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("no redirect to the app: %s", res)
	}
	return loc.Query().Get("code")
}

// TestFederatedSignInJIT: a first sign-in through the provider creates a
// stored user with the upstream's verified email and groups, and the
// tokens say the user came through "corp" and when they authenticated
// there; a second sign-in finds the same user, whose id never changes.
func TestFederatedSignInJIT(t *testing.T) {
	e := newFedEnv(t, fedOptions{jit: true})
	b := e.down.NewBrowser(t)
	to := e.start(t, b, e.down.AuthorizeQuery(ast.FirstParty, "openid profile email groups"))
	for _, p := range []string{"code_challenge_method", "code_challenge", "nonce", "state"} {
		if to.Query().Get(p) == "" {
			t.Errorf("the upstream request has no %s: %s", p, to)
		}
	}
	if to.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("PKCE method %q, want S256", to.Query().Get("code_challenge_method"))
	}
	cb := e.upstreamSignIn(t, to, carol)
	if cb.Query().Get("iss") != e.upURL {
		t.Fatalf("the provider's answer has iss %q", cb.Query().Get("iss"))
	}
	// The user authenticated upstream ten minutes before the callback:
	// auth_time is the upstream's, not the downstream's now.
	e.down.Clock.Advance(10 * time.Minute)
	code := appCode(t, e.callback(b, cb), ast.FirstPartyRedirect)
	tok := e.down.Exchange(t, ast.FirstParty, code)
	id := ast.Claims(t, tok.IDToken)
	at := ast.Claims(t, tok.AccessToken)
	if id["idp"] != "corp" || at["idp"] != "corp" {
		t.Errorf("idp in ID token %v, access token %v; want corp", id["idp"], at["idp"])
	}
	if got, want := int64(id["auth_time"].(float64)), ast.Epoch().Unix(); got != want {
		t.Errorf("auth_time %d, want the upstream's %d", got, want)
	}
	if id["email"] != carolEmail || id["email_verified"] != true || id["preferred_username"] != carol {
		t.Errorf("profile claims %v", id)
	}
	if g, _ := id["groups"].([]any); len(g) != 2 || g[0] != "eng" || g[1] != "oncall" {
		t.Errorf("groups %v, want the upstream's [eng oncall]", id["groups"])
	}
	sub, _ := id["sub"].(string)
	if !strings.HasPrefix(sub, "usr_") {
		t.Fatalf("sub %q is not a stored user's id", sub)
	}
	u, err := e.down.Accounts.Get(t.Context(), sub)
	if err != nil || u.Username != carol || u.Email != carolEmail || !u.EmailVerified || u.PasswordHash != "" {
		t.Fatalf("the JIT user %+v, %v", u, err)
	}
	links, err := e.down.Store.(store.FederationStore).ListLinkedIdentities(t.Context(), sub)
	if err != nil || len(links) != 1 || links[0].Provider != "corp" || links[0].UpstreamSubject != "upstream-carol" {
		t.Fatalf("links %+v, %v", links, err)
	}

	// The account page lists the linked account.
	if page := b.Get("/account"); page.Code != http.StatusOK || !strings.Contains(page.Body, "Accounts you sign in with") ||
		!strings.Contains(page.Body, "Corp SSO") || !strings.Contains(page.Body, carolEmail) {
		t.Errorf("the account page does not list the linked identity: %s", page)
	}

	// Again, in another browser: the same user, no second account.
	b2 := e.down.NewBrowser(t)
	code = appCode(t, e.callback(b2, e.upstreamSignIn(t, e.start(t, b2, e.down.AuthorizeQuery(ast.FirstParty, "openid")), carol)), ast.FirstPartyRedirect)
	if again := ast.Claims(t, e.down.Exchange(t, ast.FirstParty, code).IDToken); again["sub"] != sub {
		t.Errorf("second sign-in as %v, want %s", again["sub"], sub)
	}
	if list, _ := e.down.Accounts.List(t.Context(), store.UserFilter{Limit: 10}); len(list) != 1 {
		t.Errorf("%d stored users after two sign-ins, want 1", len(list))
	}
}

// TestFederatedLinking: without jit, a first sign-in links only to a
// stored user with the same email verified on both sides (when
// link_by_verified_email is on); anything else is refused with a page,
// and nothing is linked or created.
func TestFederatedLinking(t *testing.T) {
	cases := []struct {
		name         string
		link, jit    bool
		ourEmail     string
		ourVerified  bool
		wantLinked   bool
		wantStatus   int
		wantProblem  string
		wantNewUsers int
	}{
		{name: "verified email links", link: true, ourEmail: carolEmail, ourVerified: true, wantLinked: true},
		{name: "our email unverified", link: true, ourEmail: carolEmail, wantStatus: http.StatusForbidden, wantProblem: "already has the email address"},
		{name: "linking off", ourEmail: carolEmail, ourVerified: true, wantStatus: http.StatusForbidden, wantProblem: "already has the email address"},
		{name: "linking off, jit on, email taken", jit: true, ourEmail: carolEmail, ourVerified: true, wantStatus: http.StatusForbidden, wantProblem: "already has the email address"},
		{name: "no such user", link: true, ourEmail: "someone@else.example", ourVerified: true, wantStatus: http.StatusForbidden, wantProblem: "not linked to any account"},
		{name: "no user, jit on", link: true, jit: true, ourEmail: "someone@else.example", ourVerified: true, wantLinked: true, wantNewUsers: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newFedEnv(t, fedOptions{link: tc.link, jit: tc.jit})
			existing, err := e.down.Accounts.Create(t.Context(), accounts.NewUser{Username: "cdanvers", Email: tc.ourEmail,
				EmailVerified: tc.ourVerified, Groups: []string{"old"}})
			if err != nil {
				t.Fatal(err)
			}
			b := e.down.NewBrowser(t)
			res := e.callback(b, e.upstreamSignIn(t, e.start(t, b, e.down.AuthorizeQuery(ast.FirstParty, "openid groups")), carol))
			fs := e.down.Store.(store.FederationStore)
			link, lerr := fs.GetLinkedIdentity(t.Context(), "corp", "upstream-carol")
			list, _ := e.down.Accounts.List(t.Context(), store.UserFilter{Limit: 10})
			if got := len(list) - 1; got != tc.wantNewUsers {
				t.Errorf("%d users created, want %d", got, tc.wantNewUsers)
			}
			if !tc.wantLinked {
				if res.Code != tc.wantStatus || !strings.Contains(res.Body, tc.wantProblem) {
					t.Fatalf("got %s, want %d with %q", res, tc.wantStatus, tc.wantProblem)
				}
				if lerr == nil {
					t.Errorf("refused sign-in left a link %+v", link)
				}
				if b.Cookie("gatehouse_session") != nil {
					t.Error("a refused sign-in started a session")
				}
				return
			}
			id := ast.Claims(t, e.down.Exchange(t, ast.FirstParty, appCode(t, res, ast.FirstPartyRedirect)).IDToken)
			if lerr != nil || link.UserID != id["sub"] {
				t.Fatalf("link %+v (%v), signed in as %v", link, lerr, id["sub"])
			}
			if tc.wantNewUsers == 0 {
				// Linked to the existing user: same id, and the
				// provider's groups replaced the old ones.
				if id["sub"] != existing.ID {
					t.Errorf("signed in as %v, want the existing %s", id["sub"], existing.ID)
				}
				u, _ := e.down.Accounts.Get(t.Context(), existing.ID)
				if strings.Join(u.Groups, ",") != "eng,oncall" {
					t.Errorf("groups after sign-in %v, want the provider's", u.Groups)
				}
			}
		})
	}
}

// TestFederatedAccountAndDisabled: a sign-in for the account page (no
// app) ends on it; a disabled user cannot sign in through their link, and
// gets a page saying so.
func TestFederatedAccountAndDisabled(t *testing.T) {
	e := newFedEnv(t, fedOptions{jit: true})
	b := e.down.NewBrowser(t)
	page := b.Follow(b.Get("/account/apps"))
	ar := page.Form("/login").Values.Get("ar")
	res := b.Get("/federation/corp/start?" + url.Values{"ar": {ar}}.Encode())
	if res.Code != http.StatusSeeOther || res.Location() == nil {
		t.Fatalf("start from the account login: %s", res)
	}
	res = e.callback(b, e.upstreamSignIn(t, res.Location(), carol))
	if res.Code != http.StatusOK || !strings.Contains(res.Body, "Connected apps") {
		t.Fatalf("the account sign-in did not end on the account page: %s", res)
	}
	links, _ := e.down.Store.(store.FederationStore).ListLinkedIdentities(t.Context(), mustLink(t, e).UserID)
	if len(links) != 1 {
		t.Fatalf("links %+v", links)
	}

	if err := e.down.Accounts.SetDisabled(t.Context(), links[0].UserID, true); err != nil {
		t.Fatal(err)
	}
	b2 := e.down.NewBrowser(t)
	res = e.callback(b2, e.upstreamSignIn(t, e.start(t, b2, e.down.AuthorizeQuery(ast.FirstParty, "openid")), carol))
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "disabled") || b2.Cookie("gatehouse_session") != nil {
		t.Fatalf("a disabled user's sign-in: %s", res)
	}
}

func mustLink(t *testing.T, e *fedEnv) store.LinkedIdentity {
	t.Helper()
	l, err := e.down.Store.(store.FederationStore).GetLinkedIdentity(t.Context(), "corp", "upstream-carol")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
