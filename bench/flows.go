package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// What a browser and an app do against the issuer and the gate: real
// requests to the real endpoints, no shortcuts into the server.

const pkceVerifier = "bench-verifier-0123456789-0123456789-0123456789"

func pkceChallenge() string {
	s := sha256.Sum256([]byte(pkceVerifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	client *http.Client
	jar    *cookiejar.Jar
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := newClient(4, nil)
	c.Jar = jar
	return &browser{client: c, jar: jar}
}

var inputRE = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)

// formFields are a page's named inputs with values.
func formFields(page string) url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func (b *browser) get(u string, accept string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return b.do(req)
}

func (b *browser) do(req *http.Request) (*http.Response, string, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

// follow follows redirects (resolving relative ones) until an answer
// that is not one, or one to stop (the app's redirect URI), which it
// returns unfollowed.
func (b *browser) follow(resp *http.Response, body string, stop string) (*http.Response, string, error) {
	for range 10 {
		if resp.StatusCode/100 != 3 {
			return resp, body, nil
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, "", err
		}
		if strings.HasPrefix(loc.String(), stop) {
			return resp, body, nil
		}
		var err2 error
		if resp, body, err2 = b.get(loc.String(), "text/html"); err2 != nil {
			return nil, "", err2
		}
	}
	return nil, "", errors.New("too many redirects")
}

// authorizeURL is an authorization request of client for scope, with
// PKCE, for the resource (the gate's origin).
func authorizeURL(issuer, client, scope, resource string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {benchRedirect},
		"scope": {scope}, "state": {"s"}, "code_challenge": {pkceChallenge()}, "code_challenge_method": {"S256"},
	}
	if resource != "" {
		q.Set("resource", resource)
	}
	return issuer + "/authorize?" + q.Encode()
}

// signIn runs an authorization request to its code, signing in with
// password when the issuer asks (wrong passwords: the login page's
// status is returned with no code).
func (b *browser) signIn(authorize, password string) (code string, loginStatus int, err error) {
	resp, body, err := b.get(authorize, "text/html")
	if err != nil {
		return "", 0, err
	}
	if resp, body, err = b.follow(resp, body, benchRedirect); err != nil {
		return "", 0, err
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`) {
		f := formFields(body)
		f.Set("username", benchUser)
		f.Set("password", password)
		loginURL := resp.Request.URL.ResolveReference(&url.URL{Path: resp.Request.URL.Path})
		req, _ := http.NewRequest(http.MethodPost, loginURL.String(), strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, body, err = b.do(req); err != nil {
			return "", 0, err
		}
		loginStatus = resp.StatusCode
		if resp, body, err = b.follow(resp, body, benchRedirect); err != nil {
			return "", loginStatus, err
		}
	}
	loc, _ := resp.Location()
	if loc == nil || loc.Query().Get("code") == "" {
		return "", loginStatus, fmt.Errorf("no code: %d %s", resp.StatusCode, tail(body, 300))
	}
	return loc.Query().Get("code"), loginStatus, nil
}

// cookieHeader is the Cookie header b sends to u.
func (b *browser) cookieHeader(u string) string {
	parsed, _ := url.Parse(u)
	var parts []string
	for _, c := range b.jar.Cookies(parsed) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

func tokenRequest(issuer, client string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, benchSecret)
	return req
}

func exchangeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {benchRedirect}, "code_verifier": {pkceVerifier}}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// exchange redeems one code.
func exchange(c *http.Client, issuer, client, code string) (tokenResponse, error) {
	var t tokenResponse
	resp, err := c.Do(tokenRequest(issuer, client, exchangeForm(code)))
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("token endpoint: %d %s", resp.StatusCode, body)
	}
	return t, json.Unmarshal(body, &t)
}

// collectCodes issues codes through /authorize with b's session, for d
// with workers, and returns them with the rate.
func collectCodes(b *browser, issuer, client, scope, resource string, workers int, d time.Duration) ([]string, figures) {
	u := authorizeURL(issuer, client, scope, resource)
	cookie := b.cookieHeader(issuer)
	var mu sync.Mutex
	var codes []string
	hc := newClient(workers, nil)
	defer hc.CloseIdleConnections()
	f := run(hc, workers, d, request{
		want: http.StatusFound,
		build: func(int, int) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			r.Header.Set("Cookie", cookie)
			return r
		},
		seen: func(resp *http.Response, _ []byte) {
			if loc, err := resp.Location(); err == nil {
				if c := loc.Query().Get("code"); c != "" {
					mu.Lock()
					codes = append(codes, c)
					mu.Unlock()
				}
			}
		},
	})
	return codes, f
}

// exchangeAll redeems codes with workers for at most d.
func exchangeAll(issuer, client string, codes []string, workers int, d time.Duration) figures {
	var next atomic.Int64
	hc := newClient(workers, nil)
	defer hc.CloseIdleConnections()
	return run(hc, workers, d, request{
		want: http.StatusOK,
		build: func(int, int) *http.Request {
			i := int(next.Add(1)) - 1
			if i >= len(codes) {
				return nil
			}
			return tokenRequest(issuer, client, exchangeForm(codes[i]))
		},
	})
}

// refreshLoad refreshes one (non-rotating, confidential) refresh token
// with workers for d; keep, if set, gets each access token.
func refreshLoad(issuer, client, rt string, workers int, d time.Duration, keep func(string)) figures {
	req := request{
		want:  http.StatusOK,
		build: func(int, int) *http.Request { return tokenRequest(issuer, client, refreshForm(rt)) },
	}
	if keep != nil {
		req.seen = func(_ *http.Response, body []byte) {
			var t tokenResponse
			if json.Unmarshal(body, &t) == nil && t.AccessToken != "" {
				keep(t.AccessToken)
			}
		}
	}
	hc := newClient(workers, nil)
	defer hc.CloseIdleConnections()
	return run(hc, workers, d, req)
}

// gateSession signs a new browser in at the gate, reusing b's issuer
// session (no password), and returns the gate's session cookie.
func gateSession(b *browser, issuer, gate string) (string, error) {
	jar, _ := cookiejar.New(nil)
	iu, _ := url.Parse(issuer)
	jar.SetCookies(iu, b.jar.Cookies(iu))
	g := &browser{client: newClient(1, nil), jar: jar}
	g.client.Jar = jar
	// Each simulated browser's connections end with it: idle ones left
	// open would sit in Caddy (a goroutine and buffers each) and be
	// counted as the sessions' memory.
	defer g.client.CloseIdleConnections()
	resp, body, err := g.get(gate+"/", "text/html")
	if err != nil {
		return "", err
	}
	if _, _, err = g.follow(resp, body, "\x00"); err != nil {
		return "", err
	}
	gu, _ := url.Parse(gate)
	for _, c := range jar.Cookies(gu) {
		if strings.HasPrefix(c.Name, "gatehouse_gate") && !strings.Contains(c.Name, "_login_") {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", errors.New("no gate session cookie after the login")
}
