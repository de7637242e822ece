package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// directoryState is what a switchableDirectory answers.
type directoryState int32

const (
	directoryUp   directoryState = iota // the users it wraps
	directoryDown                       // every lookup fails
	directoryGone                       // nobody exists
)

var errDirectoryDown = errors.New("user store unreachable")

// switchableDirectory wraps a Directory to make it fail, or lose every
// user, at the test's command.
type switchableDirectory struct {
	identity.Directory
	state atomic.Int32
}

func (d *switchableDirectory) lookup(ctx context.Context, key string, f func(context.Context, string) (*identity.User, error)) (*identity.User, error) {
	switch directoryState(d.state.Load()) {
	case directoryDown:
		return nil, errDirectoryDown
	case directoryGone:
		return nil, identity.ErrNotFound
	}
	return f(ctx, key)
}

func (d *switchableDirectory) UserByID(ctx context.Context, id string) (*identity.User, error) {
	return d.lookup(ctx, id, d.Directory.UserByID)
}

func (d *switchableDirectory) UserByUsername(ctx context.Context, name string) (*identity.User, error) {
	return d.lookup(ctx, name, d.Directory.UserByUsername)
}

var _ identity.Directory = (*switchableDirectory)(nil)

// testBrowser drives a test server's pages with a session and a CSRF
// cookie.
type testBrowser struct {
	t       *testing.T
	s       *Server
	cookies []*http.Cookie
	csrf    string // the form token matching the CSRF cookie
}

func newTestBrowser(t *testing.T, s *Server) *testBrowser {
	const csrfValue = "Y3NyZi1jb29raWUtdmFsdWUtMDEyMzQ1Njc4OWFiY2Q" // 43 characters
	return &testBrowser{t: t, s: s, csrf: s.csrfFor(csrfValue),
		cookies: []*http.Cookie{{Name: s.cookies.Name(csrfCookie), Value: csrfValue}}}
}

func (b *testBrowser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var r *http.Request
	if method == http.MethodPost {
		r = httptest.NewRequest(method, fuzzIssuer+target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, fuzzIssuer+target, nil)
	}
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.s.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == b.s.cookies.Name(sessionCookie) && c.Value != "" {
			b.cookies = append(b.cookies, c)
		}
	}
	return w
}

// login signs alice in through the account page's login.
func (b *testBrowser) login() {
	b.t.Helper()
	ar, err := b.s.requests.Encode(accountLoginName, accountLogin{IssuedAt: b.s.now().UnixMilli()})
	if err != nil {
		b.t.Fatal(err)
	}
	w := b.do(http.MethodPost, "/login", url.Values{"ar": {ar}, "csrf": {b.csrf}, "username": {"alice"}, "password": {testPassword}})
	if w.Code != http.StatusSeeOther {
		b.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
}

const (
	testPassword    = "alice-pw"
	testVerifier    = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testRedirectURI = "https://app.example/cb"
)

// authorizePath is an authorization request of the third-party client
// "web" for scope.
func authorizePath(scope string) string {
	sum := sha256.Sum256([]byte(testVerifier))
	return "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {testRedirectURI}, "scope": {scope},
		"state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
}

// location is a redirect's target, parsed.
func location(t *testing.T, w *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || w.Code/100 != 3 {
		t.Fatalf("want a redirect, got %d %q: %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	return u
}

// clientRequest is a request of the confidential client "web" to a
// token, introspection or userinfo endpoint.
func (b *testBrowser) clientRequest(target string, form url.Values, bearer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, fuzzIssuer+target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	} else {
		r.SetBasicAuth("web", fuzzSecrets["web"])
	}
	w := httptest.NewRecorder()
	b.s.ServeHTTP(w, r)
	return w
}

func exchangeCode(b *testBrowser, code string) *httptest.ResponseRecorder {
	return b.clientRequest("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirectURI}, "code_verifier": {testVerifier}}, "")
}

// TestUserLookupFailure: a user directory that fails is a server error
// (503) everywhere a user is looked up, never "not signed in", "wrong
// password", invalid_grant or invalid_token, which a directory that has
// lost the user still answers; and a failure consumes nothing, so the
// same code and refresh token work once the directory is back.
func TestUserLookupFailure(t *testing.T) {
	s := newTestServer(t, fuzzIssuer, "")
	raw, err := identity.HashPassword(testPassword, identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	users, err := identity.NewStaticDirectory([]*identity.User{{ID: "alice", Username: "alice", Password: must(identity.ParsePasswordHash(raw))}})
	if err != nil {
		t.Fatal(err)
	}
	dir := &switchableDirectory{Directory: users}
	s.cfg.Users = dir
	b := newTestBrowser(t, s)
	b.login()

	// The first request goes through the consent page, whose address
	// also serves the consent case below.
	consentURL := location(t, b.do(http.MethodGet, authorizePath("openid offline_access"), nil))
	if consentURL.Path != "/consent" {
		t.Fatalf("authorize with offline_access went to %s", consentURL)
	}
	allowed := location(t, b.do(http.MethodPost, "/consent", url.Values{"ar": {consentURL.Query().Get("ar")}, "csrf": {b.csrf}, "decision": {"allow"}}))
	w := exchangeCode(b, allowed.Query().Get("code"))
	var tokens tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tokens); err != nil || w.Code != http.StatusOK || tokens.RefreshToken == "" {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	// A code left unused while the directory fails (the consent covers
	// its scope).
	code := location(t, b.do(http.MethodGet, authorizePath("openid"), nil)).Query().Get("code")
	if code == "" {
		t.Fatal("no code")
	}
	sealedLogout, err := s.requests.Encode(logoutRequestName, &logoutRequest{IssuedAt: s.now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}

	// want is an answer: a status and, when set, a string the body or
	// the redirect's target contains.
	type want struct {
		status int
		has    string
	}
	tests := []struct {
		name       string
		do         func() *httptest.ResponseRecorder
		down, gone want
	}{
		{"code exchange", func() *httptest.ResponseRecorder { return exchangeCode(b, code) },
			want{503, `"server_error"`}, want{400, `"invalid_grant"`}},
		{"refresh", func() *httptest.ResponseRecorder {
			return b.clientRequest("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, "")
		}, want{503, `"server_error"`}, want{400, `"invalid_grant"`}},
		{"userinfo", func() *httptest.ResponseRecorder { return b.clientRequest("/userinfo", nil, tokens.AccessToken) },
			want{503, `"server_error"`}, want{401, ""}},
		{"introspect access token", func() *httptest.ResponseRecorder {
			return b.clientRequest("/introspect", url.Values{"token": {tokens.AccessToken}}, "")
		}, want{503, `"server_error"`}, want{200, `"active":false`}},
		{"introspect refresh token", func() *httptest.ResponseRecorder {
			return b.clientRequest("/introspect", url.Values{"token": {tokens.RefreshToken}}, "")
		}, want{503, `"server_error"`}, want{200, `"active":false`}},
		{"authorize", func() *httptest.ResponseRecorder { return b.do(http.MethodGet, authorizePath("openid"), nil) },
			want{302, "error=server_error"}, want{302, "/login?ar="}},
		{"consent", func() *httptest.ResponseRecorder { return b.do(http.MethodGet, consentURL.String(), nil) },
			want{302, "error=server_error"}, want{302, "/login?ar="}},
		{"account page", func() *httptest.ResponseRecorder { return b.do(http.MethodGet, "/account/apps", nil) },
			want{503, "Something went wrong"}, want{302, "/login?ar="}},
		{"login", func() *httptest.ResponseRecorder {
			ar, _ := s.requests.Encode(accountLoginName, accountLogin{IssuedAt: s.now().UnixMilli()})
			return b.do(http.MethodPost, "/login", url.Values{"ar": {ar}, "csrf": {b.csrf}, "username": {"alice"}, "password": {testPassword}})
		}, want{503, "Something went wrong"}, want{401, "incorrect"}},
		{"sign-out request", func() *httptest.ResponseRecorder { return b.do(http.MethodGet, "/logout", nil) },
			want{503, "Something went wrong"}, want{200, "signed out"}},
		{"sign-out confirmation", func() *httptest.ResponseRecorder {
			return b.do(http.MethodPost, "/logout", url.Values{logoutRequestName: {sealedLogout}, "csrf": {b.csrf}})
		}, want{503, "Something went wrong"}, want{200, "signed out"}},
	}
	for _, state := range []directoryState{directoryDown, directoryGone} {
		dir.state.Store(int32(state))
		for _, tc := range tests {
			want, mode := tc.down, "down"
			if state == directoryGone {
				want, mode = tc.gone, "gone"
			}
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				w := tc.do()
				got := w.Body.String() + w.Header().Get("Location")
				if w.Code != want.status || !strings.Contains(got, want.has) {
					t.Errorf("%d %q, want %d with %q", w.Code, got, want.status, want.has)
				}
				if cc := w.Header().Get("Cache-Control"); w.Code == 503 && cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			})
		}
		_, err := s.ConnectedApps(context.Background(), "alice")
		if wantErr := map[directoryState]error{directoryDown: errDirectoryDown, directoryGone: ErrUnknownUser}[state]; !errors.Is(err, wantErr) {
			t.Errorf("ConnectedApps with the directory %v: %v, want %v", state, err, wantErr)
		}
	}

	// Nothing was consumed or revoked meanwhile.
	dir.state.Store(int32(directoryUp))
	if w := exchangeCode(b, code); w.Code != http.StatusOK {
		t.Errorf("code after the failure: %d %s", w.Code, w.Body)
	}
	if w := b.clientRequest("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, ""); w.Code != http.StatusOK {
		t.Errorf("refresh after the failure: %d %s", w.Code, w.Body)
	}
	if w := b.do(http.MethodGet, "/account/apps", nil); w.Code != http.StatusOK {
		t.Errorf("account page after the failure: %d", w.Code)
	}
}
