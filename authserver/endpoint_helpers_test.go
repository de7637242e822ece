package authserver_test

// Helpers of the endpoint tests (*_endpoint_test.go), which drive a real
// server over HTTP through authservertest and look only at what goes on
// the wire: statuses, headers, JSON error codes and redirects.

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// wantErrorPage checks that res is an error page, not a redirect: the
// status, an HTML page naming the error code, and the headers of every
// page.
func wantErrorPage(t *testing.T, res *ast.Response, status int, code string) {
	t.Helper()
	if res.Code != status {
		t.Errorf("status %d, want %d: %s", res.Code, status, res)
	}
	if loc := res.Header.Get("Location"); loc != "" {
		t.Errorf("redirected to %q, want an error page", loc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want an HTML page", ct)
	}
	if code != "" && !strings.Contains(res.Body, "<code>"+code+"</code>") {
		t.Errorf("the page does not name the error %s: %s", code, res)
	}
	wantPageHeaders(t, res)
}

// wantPageHeaders checks the headers every HTML page of the issuer has.
func wantPageHeaders(t *testing.T, res *ast.Response) {
	t.Helper()
	h := res.Header
	for name, want := range map[string]string{
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// wantRedirectError checks an error sent to the app's redirect URI
// (RFC 6749 §4.1.2.1) with state and iss (RFC 9207); state "" means none.
func wantRedirectError(t *testing.T, res *ast.Response, redirectURI, code, state string) {
	t.Helper()
	loc := res.Location()
	if res.Code != http.StatusFound && res.Code != http.StatusSeeOther || loc == nil {
		t.Fatalf("want a redirect to the app, got %s", res)
	}
	q := loc.Query()
	target := *loc
	target.RawQuery = ""
	if target.String() != redirectURI {
		t.Errorf("redirected to %q, want %q", target.String(), redirectURI)
	}
	if got := q.Get("error"); got != code {
		t.Errorf("error %q, want %q (%s)", got, code, q.Get("error_description"))
	}
	if got := q.Get("state"); got != state || (state == "" && q.Has("state")) {
		t.Errorf("state %q, want %q", got, state)
	}
	if got := q.Get("iss"); got != ast.Issuer {
		t.Errorf("iss %q, want %q", got, ast.Issuer)
	}
	if q.Has("code") {
		t.Errorf("an error response carries a code: %s", loc)
	}
}

// wantJSONError checks an RFC 6749 §5.2 error response.
func wantJSONError(t *testing.T, res *ast.Response, status int, code string) {
	t.Helper()
	if res.Code != status || res.OAuthError() != code {
		t.Errorf("got %d %q, want %d %q: %s", res.Code, res.OAuthError(), status, code, res)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

// wantLoginRedirect checks that res sends the browser to the login page
// with a sealed request.
func wantLoginRedirect(t *testing.T, res *ast.Response) {
	t.Helper()
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || loc.Path != "/login" || loc.Query().Get("ar") == "" {
		t.Fatalf("want a redirect to the login page, got %s", res)
	}
}

// pageText is the text of an HTML body with its entities decoded, for
// looking for words the page shows.
func pageText(res *ast.Response) string { return html.UnescapeString(res.Body) }

// query builds url.Values from pairs.
func query(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// del marks parameters for removal in an ast.Edit.
func del(names ...string) url.Values {
	v := url.Values{}
	for _, n := range names {
		v[n] = nil
	}
	return v
}

// bearer adds an Authorization: Bearer header to r.
func bearer(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// nopCloser is a request body.
func nopCloser(body string) io.ReadCloser { return io.NopCloser(strings.NewReader(body)) }

// tokensOf decodes a successful token response; the test fails on any
// other.
func tokensOf(t *testing.T, res *ast.Response) ast.Tokens {
	t.Helper()
	if res.Code != http.StatusOK {
		t.Fatalf("token request failed: %s", res)
	}
	var tok ast.Tokens
	res.JSON(&tok)
	return tok
}
