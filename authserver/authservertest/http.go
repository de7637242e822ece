package authservertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Response is an answer of the server, read in full.
type Response struct {
	Code   int
	Header http.Header
	Body   string

	t       testing.TB
	cookies []*http.Cookie
}

// String describes the response for failure messages: status, Location
// and the start of the body.
func (r *Response) String() string {
	body := r.Body
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	s := fmt.Sprintf("%d", r.Code)
	if loc := r.Header.Get("Location"); loc != "" {
		s += " Location: " + loc
	}
	return s + " " + body
}

// Cookies are the cookies the response sets.
func (r *Response) Cookies() []*http.Cookie { return r.cookies }

// Location is the response's parsed Location header, nil without one.
func (r *Response) Location() *url.URL {
	loc := r.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		r.t.Fatalf("bad Location %q: %v", loc, err)
	}
	return u
}

// RedirectQuery is the query of the Location header; the test fails when
// the response is not a redirect.
func (r *Response) RedirectQuery() url.Values {
	r.t.Helper()
	u := r.Location()
	if u == nil || r.Code/100 != 3 {
		r.t.Fatalf("want a redirect, got %s", r)
	}
	return u.Query()
}

// OAuthError is the OAuth error code of the response: the "error" member
// of a JSON body, or the "error" parameter of a redirect; "" when it has
// neither.
func (r *Response) OAuthError() string {
	if u := r.Location(); u != nil {
		return u.Query().Get("error")
	}
	var e struct {
		Error string `json:"error"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && json.Unmarshal([]byte(r.Body), &e) == nil {
		return e.Error
	}
	return ""
}

// JSON decodes the body into v; the test fails when it is not JSON.
func (r *Response) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		r.t.Fatalf("response is not JSON (%v): %s", err, r)
	}
}

// Form is an HTML form of a page: where it posts and the values of its
// inputs (submit buttons excluded: the test says which was pressed).
type Form struct {
	Action, Method string
	Values         url.Values
}

// Forms returns the page's forms in document order.
func (r *Response) Forms() []Form {
	var forms []Form
	z := html.NewTokenizer(strings.NewReader(r.Body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return forms
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		attr := func(name string) (string, bool) {
			for _, a := range tok.Attr {
				if a.Key == name {
					return a.Val, true
				}
			}
			return "", false
		}
		switch tok.Data {
		case "form":
			action, _ := attr("action")
			method, _ := attr("method")
			forms = append(forms, Form{Action: action, Method: strings.ToUpper(method), Values: url.Values{}})
		case "input":
			name, ok := attr("name")
			if typ, _ := attr("type"); !ok || len(forms) == 0 || typ == "submit" {
				continue
			}
			v, _ := attr("value")
			forms[len(forms)-1].Values.Add(name, v)
		}
	}
}

// Form returns the first form of the page that posts to action (a path
// such as "/login"); the test fails when there is none.
func (r *Response) Form(action string) Form {
	r.t.Helper()
	for _, f := range r.Forms() {
		if f.Action == action {
			return f
		}
	}
	r.t.Fatalf("no form posting to %s in %s", action, r)
	return Form{}
}

// record serves req and reads the answer.
func record(t testing.TB, h http.Handler, req *http.Request) *Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return &Response{Code: res.StatusCode, Header: res.Header, Body: string(body), t: t, cookies: res.Cookies()}
}

// NewRequest builds a request for path (with its query), relative to the
// issuer URL (see URL). A non-nil form is the body, as
// application/x-www-form-urlencoded.
func (f *Fixture) NewRequest(method, path string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, f.URL(path), body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r
}

// Serve runs req through the server.
func (f *Fixture) Serve(t testing.TB, req *http.Request) *Response {
	t.Helper()
	return record(t, f.Server, req)
}

// Get is a GET of path (with its query) without cookies or credentials.
func (f *Fixture) Get(t testing.TB, path string) *Response {
	t.Helper()
	return f.Serve(t, f.NewRequest(http.MethodGet, path, nil))
}

// ClientPost posts form to path as the client clientID would: with HTTP
// Basic and its secret when it has one (client_secret_basic), else with
// client_id in the form (public clients, token_endpoint_auth_method
// none).
func (f *Fixture) ClientPost(t testing.TB, path, clientID string, form url.Values) *Response {
	t.Helper()
	form = cloneValues(form)
	secret := f.secrets[clientID]
	if secret == "" {
		form.Set("client_id", clientID)
	}
	r := f.NewRequest(http.MethodPost, path, form)
	if secret != "" {
		r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	return f.Serve(t, r)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Edit returns base with edit applied: each key of edit replaces that
// parameter, and a key mapped to nil removes it. base is not changed.
func Edit(base, edit url.Values) url.Values {
	out := cloneValues(base)
	for k, vs := range edit {
		if len(vs) == 0 {
			delete(out, k)
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}
