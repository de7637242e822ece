package gate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

const testOrigin = "https://app.example"

// fakeProvider is an OpenID provider outside this package's control: it
// completes every code exchange as alice.
type fakeProvider struct {
	sendsIssuer bool
	ended       []Login
}

func (p *fakeProvider) Issuer(context.Context) (string, error) { return "https://idp.example", nil }
func (p *fakeProvider) SendsIssuer(context.Context) bool       { return p.sendsIssuer }
func (p *fakeProvider) Keys() token.KeySource                  { return nil }
func (p *fakeProvider) AuthCodeURL(_ context.Context, r AuthRequest) (string, error) {
	return authorizeURL("https://idp.example/authorize", "gate", r)
}
func (p *fakeProvider) Exchange(context.Context, AuthRequest, string) (*Login, error) {
	return &Login{Identity: Identity{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Source: SourceSession}, GrantID: "g1"}, nil
}
func (p *fakeProvider) EndSession(_ context.Context, l Login) error {
	p.ended = append(p.ended, l)
	return nil
}

func newTestGate(t testing.TB, p Provider, cfg Config) *Gate {
	t.Helper()
	r, err := ui.New(ui.Branding{}, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Provider, cfg.UI = p, r
	cfg.CookieSecrets = [][]byte{[]byte(strings.Repeat("k", 32))}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// jar carries cookies from one response to the next request.
type jar []*http.Cookie

func (j *jar) take(resp *http.Response) {
	for _, c := range resp.Cookies() {
		kept := (*j)[:0]
		for _, old := range *j {
			if old.Name != c.Name {
				kept = append(kept, old)
			}
		}
		*j = kept
		if c.MaxAge >= 0 && c.Value != "" {
			*j = append(*j, c)
		}
	}
}

func (j jar) add(r *http.Request) {
	for _, c := range j {
		r.AddCookie(c)
	}
}

// serve runs one request through the gate and returns the response and
// whether the request was let through.
func serve(g *Gate, j *jar, r *http.Request) (*http.Response, *Identity) {
	j.add(r)
	w := httptest.NewRecorder()
	id := g.Handle(w, r, testOrigin)
	resp := w.Result()
	j.take(resp)
	return resp, id
}

func browserGet(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, testOrigin+target, nil)
	r.Header.Set("Accept", "text/html")
	return r
}

// signIn completes a browser login; extra is added to the callback query.
func signIn(t *testing.T, g *Gate, j *jar, extra url.Values) *http.Response {
	t.Helper()
	resp, _ := serve(g, j, browserGet("/private"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("start of login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := url.Values{"code": {"c"}, "state": {loc.Query().Get("state")}}
	for k, v := range extra {
		q[k] = v
	}
	resp, _ = serve(g, j, browserGet("/.gatehouse/callback?"+q.Encode()))
	return resp
}

// TestCallbackIssuer: RFC 9207 §2.4. A response naming another issuer is
// refused; a response without iss is refused when the provider says it
// sends iss, and accepted from one that does not.
func TestCallbackIssuer(t *testing.T) {
	tests := []struct {
		name        string
		sendsIssuer bool
		iss         []string // nil: no iss parameter
		want        int
	}{
		{"right iss", true, []string{"https://idp.example"}, http.StatusFound},
		{"wrong iss", true, []string{"https://evil.example"}, http.StatusBadRequest},
		{"empty iss", true, []string{""}, http.StatusBadRequest},
		{"missing iss, provider sends it", true, nil, http.StatusBadRequest},
		{"missing iss, provider does not send it", false, nil, http.StatusFound},
		{"wrong iss, provider does not send it", false, []string{"https://evil.example"}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGate(t, &fakeProvider{sendsIssuer: tc.sendsIssuer}, Config{})
			var j jar
			extra := url.Values{}
			if tc.iss != nil {
				extra["iss"] = tc.iss
			}
			resp := signIn(t, g, &j, extra)
			if resp.StatusCode != tc.want {
				t.Fatalf("callback: %d, want %d", resp.StatusCode, tc.want)
			}
			_, id := serve(g, &j, browserGet("/private"))
			if signedIn := id != nil; signedIn != (tc.want == http.StatusFound) {
				t.Fatalf("signed in = %v after a %d callback", signedIn, resp.StatusCode)
			}
		})
	}
}

// TestLogoutNeedsConfirmation: a link or image cannot sign a user out;
// only the confirmation form, with the current session's token, can.
func TestLogoutNeedsConfirmation(t *testing.T) {
	p := &fakeProvider{sendsIssuer: true}
	g := newTestGate(t, p, Config{})
	var j jar
	signIn(t, g, &j, url.Values{"iss": {"https://idp.example"}})
	stillIn := func(what string) {
		t.Helper()
		if _, id := serve(g, &j, browserGet("/private")); id == nil {
			t.Fatalf("%s signed the user out", what)
		}
		if len(p.ended) != 0 {
			t.Fatalf("%s ended the issuer session", what)
		}
	}

	resp, _ := serve(g, &j, browserGet("/.gatehouse/logout"))
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `method="post"`) {
		t.Fatalf("GET logout: %d, want the confirmation form\n%s", resp.StatusCode, body)
	}
	stillIn("GET /.gatehouse/logout")
	token := formValue(t, body, "csrf")

	// Another session's token (the attacker's own) does not work.
	var other jar
	signIn(t, g, &other, url.Values{"iss": {"https://idp.example"}})
	resp, _ = serve(g, &other, browserGet("/.gatehouse/logout"))
	otherToken := formValue(t, readAll(t, resp), "csrf")

	for _, tc := range []struct{ name, form string }{
		{"no token", ""},
		{"empty token", "csrf="},
		{"garbage token", "csrf=abc"},
		{"another session's token", "csrf=" + url.QueryEscape(otherToken)},
	} {
		r := httptest.NewRequest(http.MethodPost, testOrigin+"/.gatehouse/logout", strings.NewReader(tc.form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _ := serve(g, &j, r)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d, want 403", tc.name, resp.StatusCode)
		}
		stillIn("POST with " + tc.name)
	}
	for _, method := range []string{http.MethodPut, http.MethodDelete} {
		resp, _ := serve(g, &j, httptest.NewRequest(method, testOrigin+"/.gatehouse/logout", nil))
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s: %d, want 405", method, resp.StatusCode)
		}
	}

	r := httptest.NewRequest(http.MethodPost, testOrigin+"/.gatehouse/logout", strings.NewReader("csrf="+url.QueryEscape(token)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ = serve(g, &j, r)
	if resp.StatusCode != http.StatusOK || len(p.ended) != 1 || p.ended[0].GrantID != "g1" {
		t.Fatalf("confirmed sign-out: %d, issuer sessions ended %v", resp.StatusCode, p.ended)
	}
	if _, id := serve(g, &j, browserGet("/private")); id != nil {
		t.Fatal("still signed in after the confirmed sign-out")
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// formValue returns the value of the hidden input name in body.
func formValue(t *testing.T, body, name string) string {
	t.Helper()
	marker := `name="` + name + `" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no %s field in\n%s", name, body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestStripHeaders: every header the gate owns is removed whatever its
// spelling, and Connection cannot name one.
func TestStripHeaders(t *testing.T) {
	g := newTestGate(t, &fakeProvider{}, Config{Headers: []HeaderMapping{
		{"sub", "X-Gatehouse-User-Id"},
		{"email", "X-User-Email"}, // renamed
		// groups: removed
	}})
	r := httptest.NewRequest(http.MethodGet, testOrigin+"/", nil)
	sent := map[string]string{
		"X-Gatehouse-User-Id":  "admin",
		"X-Gatehouse-Groups":   "admins", // no longer mapped: still the gate's
		"X-Gatehouse-Email":    "ceo@example.com",
		"X-Gatehouse-Future":   "x",
		"X-User-Email":         "ceo@example.com",
		"X_Gatehouse_User_Id":  "admin",
		"x.gatehouse.groups":   "admins",
		"X_USER_EMAIL":         "ceo@example.com",
		"x-gatehouse-user":     "root",
		"X-Forwarded-For":      "198.51.100.7",
		"X-Gatehouse":          "not in the namespace",
		"X-User-Emails":        "not the configured name",
		"Connection":           "X-Gatehouse-User-Id, x-user-email,X_Gatehouse_Email , keep-alive, X-Other",
		"Proxy-Connection":     "X-Gatehouse-Groups",
		"Keep-Alive":           "timeout=5, X-User-Email",
		"X-Gatehouse-Name\x00": "ignored",
	}
	for k, v := range sent {
		r.Header[k] = []string{v} // as a raw HTTP/1 parser would keep them
	}
	g.stripHeaders(r)
	for _, k := range []string{"X-Gatehouse-User-Id", "X-Gatehouse-Groups", "X-Gatehouse-Email", "X-Gatehouse-Future", "X-User-Email",
		"X_Gatehouse_User_Id", "x.gatehouse.groups", "X_USER_EMAIL", "x-gatehouse-user", "Proxy-Connection", "X-Gatehouse-Name\x00"} {
		if v, ok := r.Header[k]; ok {
			t.Errorf("%s survived: %q", k, v)
		}
	}
	for _, k := range []string{"X-Forwarded-For", "X-Gatehouse", "X-User-Emails"} {
		if r.Header[k] == nil {
			t.Errorf("%s was removed; it is not the gate's", k)
		}
	}
	if got := r.Header.Get("Connection"); got != "keep-alive, X-Other" {
		t.Errorf("Connection = %q, want only the tokens the gate does not own", got)
	}
	if got := r.Header.Get("Keep-Alive"); got != "timeout=5" {
		t.Errorf("Keep-Alive = %q", got)
	}
}

func BenchmarkStripHeaders(b *testing.B) {
	r, _ := ui.New(ui.Branding{}, "")
	g, err := New(Config{Provider: &fakeProvider{}, UI: r, CookieSecrets: [][]byte{[]byte(strings.Repeat("k", 32))}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, testOrigin+"/", nil)
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Cookie", "Referer", "Sec-Fetch-Mode", "Sec-Fetch-Site"} {
		req.Header.Set(k, "value")
	}
	b.ReportAllocs()
	for b.Loop() {
		g.stripHeaders(req)
	}
}

// TestUnauthorizedChallenge: RFC 6750 §3. An API request without
// credentials gets the bare challenge (realm and resource metadata, RFC
// 9728 §5.1) and no error code (§3.1), in neither the header nor a body;
// a request with credentials that fail gets the code that says why.
func TestUnauthorizedChallenge(t *testing.T) {
	const metadata = `resource_metadata="` + testOrigin + `/.well-known/oauth-protected-resource"`
	tests := []struct {
		name          string
		method        string
		authorization string
		wantCode      string // "" for none
	}{
		{"no credentials", http.MethodGet, "", ""},
		{"no credentials, POST", http.MethodPost, "", ""},
		{"Basic credentials", http.MethodGet, "Basic YWxpY2U6cHc=", "invalid_request"},
		{"empty Bearer", http.MethodGet, "Bearer ", "invalid_request"},
		{"a token that fails", http.MethodGet, "Bearer not.a.jwt", "invalid_token"},
	}
	g := newTestGate(t, &fakeProvider{}, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, testOrigin+"/api", nil)
			r.Header.Set("Accept", "application/json")
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			resp, id := serve(g, new(jar), r)
			body := readAll(t, resp)
			wa := resp.Header.Get("WWW-Authenticate")
			if id != nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d, Cache-Control %q, let through %v", resp.StatusCode, resp.Header.Get("Cache-Control"), id != nil)
			}
			if tc.wantCode == "" {
				if want := `Bearer realm="` + testOrigin + `", ` + metadata; wa != want {
					t.Errorf("WWW-Authenticate = %q, want %q", wa, want)
				}
				if body != "" {
					t.Errorf("body %q, want none", body)
				}
				return
			}
			var e struct {
				Error string `json:"error"`
			}
			if !strings.Contains(wa, `error="`+tc.wantCode+`"`) || !strings.Contains(wa, metadata) {
				t.Errorf("WWW-Authenticate = %q, want %s and the metadata", wa, tc.wantCode)
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != tc.wantCode {
				t.Errorf("body %q, want error %s", body, tc.wantCode)
			}
		})
	}
}
