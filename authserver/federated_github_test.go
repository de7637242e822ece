package authserver_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/federation"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// fakeGitHub speaks GitHub's OAuth app endpoints and the REST calls the
// provider makes, in the shapes GitHub documents ("Authorizing OAuth
// apps"; "REST API endpoints for users", "... emails", "... organization
// membership", "... teams"): the token endpoint answers form-encoded
// unless asked for JSON, errors come with status 200, and the API wants
// the token in Authorization.
type fakeGitHub struct {
	srv *httptest.Server

	mu         sync.Mutex
	challenges map[string]string // code -> PKCE challenge
	// emails is the /user/emails answer; failEmails makes it a 500.
	emails     string
	failEmails bool
}

const (
	ghClientID     = "Iv1.8a61f9b3a7aba766"
	ghClientSecret = "github-client-secret-0123456789abcdef"
	ghToken        = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
)

func newFakeGitHub(t *testing.T) *fakeGitHub {
	g := &fakeGitHub{challenges: map[string]string{}, emails: `[
		{"email":"octocat@github.com","verified":true,"primary":true,"visibility":"public"},
		{"email":"octocat@old.example","verified":false,"primary":false,"visibility":null}]`}
	mux := http.NewServeMux()
	// The consent screen, approved: back to the app with a code.
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != ghClientID || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code := fmt.Sprintf("code-%d", len(g.challenges)+1)
		g.mu.Lock()
		g.challenges[code] = q.Get("code_challenge")
		g.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		g.mu.Lock()
		challenge, ok := g.challenges[r.PostForm.Get("code")]
		delete(g.challenges, r.PostForm.Get("code"))
		g.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		var answer url.Values
		switch {
		case r.PostForm.Get("client_id") != ghClientID || r.PostForm.Get("client_secret") != ghClientSecret:
			answer = url.Values{"error": {"incorrect_client_credentials"}, "error_description": {"The client_id and/or client_secret passed are incorrect."}}
		case !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
			answer = url.Values{"error": {"bad_verification_code"}, "error_description": {"The code passed is incorrect or expired."}}
		default:
			answer = url.Values{"access_token": {ghToken}, "scope": {"read:org,read:user,user:email"}, "token_type": {"bearer"}}
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprintf(w, `{"access_token":%q,"scope":%q,"token_type":%q,"error":%q}`, answer.Get("access_token"), answer.Get("scope"), answer.Get("token_type"), answer.Get("error"))
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(answer.Encode()))
	})
	api := func(body func() (string, int)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+ghToken {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"message":"Requires authentication","documentation_url":"https://docs.github.com/rest"}`))
				return
			}
			s, code := body()
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(s))
		}
	}
	mux.HandleFunc("GET /api/user", api(func() (string, int) {
		return `{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","type":"User","site_admin":false,
			"name":"The Octocat","company":"@github","email":"octocat@github.com","created_at":"2011-01-25T18:44:36Z"}`, 200
	}))
	mux.HandleFunc("GET /api/user/emails", api(func() (string, int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.failEmails {
			return `{"message":"Server Error"}`, http.StatusInternalServerError
		}
		return g.emails, 200
	}))
	mux.HandleFunc("GET /api/user/orgs", api(func() (string, int) {
		return `[{"login":"github","id":1,"node_id":"MDEyOk9yZ2FuaXphdGlvbjE=","url":"https://api.github.com/orgs/github","description":"A great organization"}]`, 200
	}))
	mux.HandleFunc("GET /api/user/teams", api(func() (string, int) {
		return `[{"id":1,"name":"Justice League","slug":"justice-league","privacy":"closed","permission":"admin",
			"organization":{"login":"github","id":1,"name":"github"}}]`, 200
	}))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func newGitHubFixture(t *testing.T, g *fakeGitHub, secret string) (*ast.Fixture, *lockedBuffer) {
	logs := &lockedBuffer{}
	f := ast.New(t, ast.Options{
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Configure: func(cfg *authserver.Config) {
			p, err := federation.New(federation.Config{Name: "github", Type: federation.TypeGitHub, DisplayName: "GitHub",
				ClientID: ghClientID, ClientSecret: secret, GitHubURL: g.srv.URL, GitHubAPIURL: g.srv.URL + "/api",
				GitHubOrgGroups: true})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Providers = []authserver.FederatedProvider{{Provider: p, JIT: true}}
		},
	})
	return f, logs
}

// githubSignIn runs the sign-in up to the callback's answer.
func githubSignIn(t *testing.T, f *ast.Fixture, g *fakeGitHub, b *ast.Browser, edit func(*url.URL)) *ast.Response {
	t.Helper()
	page := b.Authorize(f.AuthorizeQuery(ast.FirstParty, "openid profile email groups"))
	res := b.Get("/federation/github/start?" + url.Values{"ar": {page.Form("/login").Values.Get("ar")}}.Encode())
	to := res.Location()
	if to == nil || !strings.HasPrefix(to.String(), g.srv.URL+"/login/oauth/authorize?") {
		t.Fatalf("not sent to GitHub: %s", res)
	}
	if want := "read:user user:email read:org"; to.Query().Get("scope") != want {
		t.Errorf("scope %q, want %q", to.Query().Get("scope"), want)
	}
	nc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nc.Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("GitHub did not send the browser back: %d %v", resp.StatusCode, err)
	}
	if edit != nil {
		edit(cb)
	}
	return followContinue(b, b.Follow(b.Get(cb.RequestURI())))
}

// TestGitHubSignIn: the GitHub provider makes a user from /user, the
// verified primary address of /user/emails (the unverified one is never
// used) and groups from organization and team membership.
func TestGitHubSignIn(t *testing.T) {
	g := newFakeGitHub(t)
	f, _ := newGitHubFixture(t, g, ghClientSecret)
	b := f.NewBrowser(t)
	res := githubSignIn(t, f, g, b, nil)
	id := ast.Claims(t, f.Exchange(t, ast.FirstParty, appCode(t, res, ast.FirstPartyRedirect)).IDToken)
	if id["idp"] != "github" || id["preferred_username"] != "octocat" || id["email"] != "octocat@github.com" ||
		id["email_verified"] != true || id["name"] != "The Octocat" {
		t.Errorf("claims %v", id)
	}
	if g, _ := id["groups"].([]any); len(g) != 2 || g[0] != "github" || g[1] != "github/justice-league" {
		t.Errorf("groups %v, want [github github/justice-league]", id["groups"])
	}
	link, err := f.Store.(store.FederationStore).GetLinkedIdentity(t.Context(), "github", "583231")
	if err != nil || link.UserID != id["sub"] {
		t.Errorf("link by GitHub's numeric id: %+v %v", link, err)
	}
}

// TestGitHubUnverifiedPrimary: a primary address GitHub has not verified
// is not the user's email: the user is made without one.
func TestGitHubUnverifiedPrimary(t *testing.T) {
	g := newFakeGitHub(t)
	g.emails = `[{"email":"octocat@github.com","verified":false,"primary":true,"visibility":"public"},
		{"email":"other@example.com","verified":true,"primary":false,"visibility":null}]`
	f, _ := newGitHubFixture(t, g, ghClientSecret)
	res := githubSignIn(t, f, g, f.NewBrowser(t), nil)
	id := ast.Claims(t, f.Exchange(t, ast.FirstParty, appCode(t, res, ast.FirstPartyRedirect)).IDToken)
	if _, has := id["email"]; has {
		t.Errorf("an unverified primary (or a non-primary) address became the email: %v", id["email"])
	}
}

// TestGitHubFailures: GitHub's refusals and outages end on a page naming
// the provider, with the cause in the log.
func TestGitHubFailures(t *testing.T) {
	cases := []struct {
		name   string
		secret string
		setup  func(*fakeGitHub)
		edit   func(*url.URL)
		status int
		cause  federation.Cause
	}{
		{name: "wrong client secret", secret: "wrong-secret-0123456789abcdef", status: http.StatusBadGateway, cause: federation.CauseTokenExchange},
		{name: "replayed code", edit: func(u *url.URL) {
			q := u.Query()
			q.Set("code", "code-999")
			u.RawQuery = q.Encode()
		}, status: http.StatusBadGateway, cause: federation.CauseTokenExchange},
		{name: "emails API down", setup: func(g *fakeGitHub) { g.failEmails = true }, status: http.StatusBadGateway, cause: federation.CauseProfile},
		{name: "denied", edit: func(u *url.URL) {
			u.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {"The user has denied your application access."},
				"state": {u.Query().Get("state")}}.Encode()
		}, status: http.StatusForbidden, cause: federation.CauseDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGitHub(t)
			if tc.setup != nil {
				tc.setup(g)
			}
			secret := ghClientSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			f, logs := newGitHubFixture(t, g, secret)
			b := f.NewBrowser(t)
			res := githubSignIn(t, f, g, b, tc.edit)
			if res.Code != tc.status || !strings.Contains(res.Body, "GitHub") {
				t.Fatalf("got %s, want %d naming GitHub", res, tc.status)
			}
			if !strings.Contains(logs.String(), "cause="+string(tc.cause)) {
				t.Errorf("no cause=%s in the log:\n%s", tc.cause, logs)
			}
			if b.Cookie("gatehouse_session") != nil {
				t.Error("a failed sign-in started a session")
			}
		})
	}
}
