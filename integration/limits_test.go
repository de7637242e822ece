package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRequestSizeLimits: every endpoint that reads a body refuses one
// over 64 KiB with 413 (the authorization endpoint, which must never
// redirect an unparsed request, with its 400 error page), the admin API
// included; headers, cookies and URLs over Caddy's max_header_size (16 KiB
// by default since Caddy 2.11) get 431 before Gatehouse sees them; an
// oversized or forged cookie is simply no session.
func TestRequestSizeLimits(t *testing.T) {
	echo := newEcho(t)
	li := startLoggedExample(t, echo.addr())
	in := li.instance
	big := strings.Repeat("a", 100<<10)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, url, contentType, body string
		wantStatus                   int
		wantError                    string // JSON error code, when the answer is JSON
	}{
		{"authorize", in.issuer + "/authorize", form, "client_id=demo-web&pad=" + big, 400, ""},
		{"login", in.issuer + "/login", form, "ar=x&pad=" + big, 413, ""},
		{"consent", in.issuer + "/consent", form, "ar=x&pad=" + big, 413, ""},
		{"token", in.issuer + "/token", form, "grant_type=refresh_token&pad=" + big, 413, "invalid_request"},
		{"introspect", in.issuer + "/introspect", form, "token=x&pad=" + big, 413, "invalid_request"},
		{"revoke", in.issuer + "/revoke", form, "token=x&pad=" + big, 413, "invalid_request"},
		{"userinfo", in.issuer + "/userinfo", form, "access_token=x&pad=" + big, 413, "invalid_request"},
		{"logout", in.issuer + "/logout", form, "client_id=demo-web&pad=" + big, 413, ""},
		{"account", in.issuer + "/account/apps", form, "action=revoke&pad=" + big, 413, ""},
		{"register", in.issuer + "/register", "application/json", `{"redirect_uris":["https://a.example/cb"],"pad":"` + big + `"}`, 413, "invalid_request"},
		{"admin API", li.admin + "/gatehouse/clients", "application/json", `{"name":"x","pad":"` + big + `"}`, 413, "invalid_request"},
		{"malformed login form", in.issuer + "/login", form, "ar=%zz", 400, ""},
		{"login as JSON", in.issuer + "/login", "application/json", `{"ar":"x"}`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := in.client
			if strings.HasPrefix(tc.url, "http://") {
				client = http.DefaultClient
			}
			req, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			noFollow := *client
			noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q; want %d and no redirect. Body: %.200s", resp.StatusCode, resp.Header.Get("Location"), tc.wantStatus, raw)
			}
			if tc.wantError != "" {
				var e struct {
					Error string `json:"error"`
				}
				if json.Unmarshal(raw, &e) != nil || e.Error != tc.wantError {
					t.Errorf("body %.200s, want error %q", raw, tc.wantError)
				}
			} else if !strings.Contains(string(raw), "<html") {
				t.Errorf("not an HTML page: %.200s", raw)
			}
		})
	}

	t.Run("header, URL and cookie over max_header_size", func(t *testing.T) {
		huge := strings.Repeat("h", 24<<10)
		for name, tc := range map[string]struct{ host, target, header string }{
			"header":             {in.issuer, "/.well-known/openid-configuration", "X-Padding: " + huge},
			"URL":                {in.issuer, "/authorize?client_id=demo-web&state=" + huge, ""},
			"cookie at the gate": {li.gate, "/", "Cookie: __Host-gatehouse_gate=" + huge},
		} {
			if st := rawHTTP1(t, in, tc.host, tc.target, tc.header); st != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s of 24 KiB: %d, want 431", name, st)
			}
		}
	})

	t.Run("oversized or forged cookies are no session", func(t *testing.T) {
		hits := echo.count()
		for name, cookie := range map[string]string{
			"gate cookie of 10 KiB":   "__Host-gatehouse_gate=" + strings.Repeat("A", 10<<10),
			"issuer cookie of 10 KiB": "__Host-gatehouse_session=" + strings.Repeat("A", 10<<10),
			"many cookies":            strings.Repeat("c=1; ", 250) + "__Host-gatehouse_gate=x",
		} {
			resp := in.request(t, http.MethodGet, li.gate+"/", nil, map[string]string{"Cookie": cookie, "Accept": "application/json"})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s at the gate: %d, want 401", name, resp.StatusCode)
			}
			resp = in.request(t, http.MethodGet, in.issuer+"/authorize?"+url.Values{"client_id": {"demo-internal"}, "redirect_uri": {"http://127.0.0.1:9/callback"},
				"response_type": {"code"}, "prompt": {"none"}}.Encode(), nil, map[string]string{"Cookie": cookie})
			if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=login_required") {
				t.Errorf("%s at the issuer: %d %q, want login_required", name, resp.StatusCode, loc)
			}
		}
		if echo.count() != hits {
			t.Error("a request without a session reached the upstream")
		}
	})

	t.Run("state at the gate callback is bounded", func(t *testing.T) {
		resp := in.request(t, http.MethodGet, li.gate+"/.gatehouse/callback?code=x&state="+strings.Repeat("s", 300), nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a 300-byte state: %d, want 400", resp.StatusCode)
		}
	})
}
