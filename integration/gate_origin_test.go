package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// requestWithHost sends a GET to rawURL with its Host header replaced.
func (in *instance) requestWithHost(t *testing.T, rawURL, host string, headers map[string]string) *http.Response {
	t.Helper()
	h := map[string]string{"Host": host}
	for k, v := range headers {
		h[k] = v
	}
	return in.request(t, http.MethodGet, rawURL, nil, h)
}

// TestGateOriginFromConfig (issue 11, HIGH): the gate's origin, audience
// and callback URL come from its site's address, never from the Host
// header. Caddy's host matcher ignores the port, so on today's Caddy a
// request for another port of the same host name reaches the gate; it
// must be refused before the gate does anything with it.
func TestGateOriginFromConfig(t *testing.T) {
	in, echo := startGatedExample(t)
	gate, _ := url.Parse(in.gate)
	issuer, _ := url.Parse(in.issuer)

	t.Run("an issuer-audience token is not accepted under the issuer's Host", func(t *testing.T) {
		// A token requested without resource has aud = the issuer.
		cfg := in.oauthConfig(demoCLI, "openid", "profile")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		v := oauth2.GenerateVerifier()
		code := mustCode(t, in.newBrowser().authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "allow"), "s")
		tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		hits := echo.count()
		resp := in.requestWithHost(t, in.gate+"/api", issuer.Host, map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"})
		if resp.StatusCode != http.StatusMisdirectedRequest || echo.count() != hits {
			t.Fatalf("token for %s sent to the gate with Host %s: %d (upstream reached: %v), want 421 and no upstream request",
				in.issuer, issuer.Host, resp.StatusCode, echo.count() != hits)
		}
		// The same token at the gate's own Host is refused for its audience.
		resp = in.request(t, http.MethodGet, in.gate+"/api", nil, map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("issuer-audience token at the gate: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("an anonymous request cannot add a redirect URI to the gate's client", func(t *testing.T) {
		attacker := fmt.Sprintf("localhost:%d", freePort(t))
		for i := range 20 {
			host := attacker
			if i > 0 {
				host = fmt.Sprintf("localhost:%d", 20000+i)
			}
			resp := in.requestWithHost(t, in.gate+"/", host, map[string]string{"Accept": "text/html"})
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("Host %s: %d, want 421", host, resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("Host %s was answered with a redirect to %s", host, loc)
			}
		}
		// A signed-in victim sent to the gate client's authorization with
		// the attacker's callback gets an error page, not a code.
		b := in.newBrowser()
		b.authorize(in.gate+"/", "") // signs alice in through the gate
		v := oauth2.GenerateVerifier()
		q := url.Values{
			"client_id": {"gatehouse-gate"}, "response_type": {"code"}, "scope": {"openid"}, "prompt": {"none"},
			"redirect_uri":   {"https://" + attacker + "/.gatehouse/callback"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"}, "state": {"x"},
		}
		noFollow := *b.client
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		authorize := func() *http.Response {
			resp, err := noFollow.Get(in.issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if resp := authorize(); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("authorize with the attacker's callback: %d, Location %q; want the 400 error page", resp.StatusCode, resp.Header.Get("Location"))
		}
		// The gate's own callback still works for the same browser.
		q.Set("redirect_uri", in.gate+"/.gatehouse/callback")
		if resp := authorize(); !strings.HasPrefix(resp.Header.Get("Location"), in.gate+"/.gatehouse/callback?") {
			t.Fatalf("authorize with the gate's own callback: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("Host variants", func(t *testing.T) {
		// Misdirected: every spelling but the site's own origin. Caddy
		// routes some of them to no site at all (its empty 200); the rest
		// reach the gate's site and must be refused before the gate.
		for _, host := range []string{
			issuer.Host,                       // another port of the same host name
			"localhost",                       // no port (means 443)
			"localhost:443",                   // the default port, not the site's
			"localhost.:" + gate.Port(),       // trailing dot
			"localhost:0" + gate.Port(),       // zero-padded port
			"[::1]:" + gate.Port(),            // IPv6 literal
			"127.0.0.1:" + gate.Port(),        // the address instead of the name
			"localhost:" + gate.Port() + ":1", // junk after the port
		} {
			hits := echo.count()
			resp := in.requestWithHost(t, in.gate+"/", host, map[string]string{"Accept": "application/json"})
			body, _ := io.ReadAll(resp.Body)
			noRoute := resp.StatusCode == http.StatusOK && len(body) == 0
			if (resp.StatusCode != http.StatusMisdirectedRequest && !noRoute) || echo.count() != hits {
				t.Errorf("Host %q: %d %q (upstream reached: %v), want 421 or no route", host, resp.StatusCode, body, echo.count() != hits)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); wa != "" {
				t.Errorf("Host %q: the gate answered (WWW-Authenticate %q); want it refused before the gate", host, wa)
			}
		}
		// The site's own origin, in any letter case, is the gate's.
		for _, host := range []string{gate.Host, strings.ToUpper(gate.Host)} {
			resp := in.requestWithHost(t, in.gate+"/", host, map[string]string{"Accept": "application/json"})
			want := fmt.Sprintf(`resource_metadata="%s/.well-known/oauth-protected-resource"`, in.gate)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
				t.Errorf("Host %q: %d %q, want 401 naming %s", host, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), in.gate)
			}
		}
	})

	t.Run("absolute-form request target for another origin", func(t *testing.T) {
		hits := echo.count()
		st := rawExchange(t, in, in.gate, "GET "+in.issuer+"/.well-known/oauth-protected-resource HTTP/1.1\r\nHost: "+gate.Host+"\r\nConnection: close\r\n\r\n")
		if st != http.StatusMisdirectedRequest || echo.count() != hits {
			t.Fatalf("absolute-form target %s at the gate: %d, want 421", in.issuer, st)
		}
		st = rawExchange(t, in, in.gate, "GET "+in.gate+"/.well-known/oauth-protected-resource HTTP/1.1\r\nHost: "+issuer.Host+"\r\nConnection: close\r\n\r\n")
		if st != http.StatusOK {
			t.Fatalf("absolute-form target naming the gate itself: %d, want 200 (the target's authority wins over Host, RFC 9112 §3.2.2)", st)
		}
	})
}
