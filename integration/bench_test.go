package integration

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/gate"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// BenchmarkGateHandle measures the gate's own work per request, outside
// Caddy: the Bearer and session paths with their caches warm, and the
// Bearer path verifying a signature every time (cache defeated), which is
// what the cache saves.
//
//	go test ./integration -run '^$' -bench BenchmarkGateHandle
func BenchmarkGateHandle(b *testing.B) {
	issuerSrv := httptest.NewUnstartedServer(nil)
	issuer := "http://localhost:" + strings.Split(issuerSrv.Listener.Addr().String(), ":")[1]
	srv, keys, _ := newCoreIssuer(b, issuer, nil)
	renderer, _ := ui.New(ui.Branding{}, "")
	// The issuer is served over HTTP, as an external provider would be:
	// the gate finds its keys by discovery and JWKS.
	g, err := gate.New(gate.Config{
		Provider:      &gate.OIDCProvider{IssuerURL: issuer, ClientID: "bench"},
		CookieSecrets: [][]byte{[]byte("benchmark-cookie-secret-0123456789abcdef")},
		UI:            renderer,
	})
	if err != nil {
		b.Fatal(err)
	}
	issuerSrv.Config.Handler = srv
	issuerSrv.Start()
	b.Cleanup(issuerSrv.Close)
	const origin = "https://app.example"
	now := time.Now()
	mint := func(jti string) string {
		raw, err := keys.Sign("ES256", "at+jwt", token.AccessTokenClaims{
			Issuer: issuer, Subject: "erin-id", Audience: token.Audience{origin}, ClientID: "bench", Scope: "openid email",
			Expiry: token.NewNumericDate(now.Add(time.Hour)), IssuedAt: token.NewNumericDate(now), JWTID: jti,
		})
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	tok := mint("one")
	run := func(b *testing.B, prepare func(r *http.Request)) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := httptest.NewRequest(http.MethodGet, origin+"/api", nil)
				r.Header.Set("Accept", "application/json")
				prepare(r)
				w := httptest.NewRecorder()
				if g.Handle(w, r, origin) == nil {
					b.Fatalf("gate refused: %d %s", w.Code, w.Body)
				}
			}
		})
	}
	b.Run("bearer-cached", func(b *testing.B) {
		run(b, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) })
	})
	// Distinct tokens defeat the cache: every request verifies ES256.
	b.Run("bearer-uncached", func(b *testing.B) {
		fresh := make([]string, b.N)
		for i := range fresh {
			fresh[i] = mint(fmt.Sprint("jti-", b.N, "-", i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			r := httptest.NewRequest(http.MethodGet, origin+"/api", nil)
			r.Header.Set("Authorization", "Bearer "+fresh[i])
			if g.Handle(httptest.NewRecorder(), r, origin) == nil {
				b.Fatal("gate refused")
			}
		}
	})
}

// BenchmarkCaddyGate compares, through a real Caddy and over real TLS
// connections, plain reverse_proxy with the same proxy behind authgate
// (Bearer token, session cookie). Read it as ratios to "plain" from the
// same run:
//
//	go test ./integration -run '^$' -bench BenchmarkCaddyGate -benchtime 3000x
func BenchmarkCaddyGate(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(upstream.Close)
	dir := b.TempDir()
	issuerPort, gatePort, plainPort := freePort(b), freePort(b), freePort(b)
	up := strings.TrimPrefix(upstream.URL, "http://")
	cf := fmt.Sprintf(`{
%s
	gatehouse {
		issuer https://localhost:%d
		user erin {
			email erin@example.com
			password_hash %s
		}
		client bench-app {
			type first_party_public
			redirect_uris http://127.0.0.1/callback
		}
	}
}
https://localhost:%[2]d {
	tls internal
	authserver
}
https://localhost:%[4]d {
	tls internal
	authgate
	reverse_proxy %[6]s
}
https://localhost:%[5]d {
	tls internal
	reverse_proxy %[6]s
}
`, globalPreamble(preambleOptions{dir: dir, logLevel: "ERROR"}), issuerPort, cheapHash(b, labPassword), gatePort, plainPort, up)
	in := startCaddy(b, dir, cf, fmt.Sprintf("https://localhost:%d", issuerPort))
	gateURL := fmt.Sprintf("https://localhost:%d", gatePort)
	plainURL := fmt.Sprintf("https://localhost:%d", plainPort)

	// A session cookie and a Bearer token for the gated site.
	br := in.newBrowser()
	p := br.get(gateURL + "/")
	p = br.submit(p, map[string]string{"username": "erin", "password": labPassword})
	if p.status != http.StatusOK {
		b.Fatalf("login through the gate: %d %s", p.status, p.url)
	}
	cookie := cookieHeader(br, gateURL)
	cfg := &oauth2.Config{ClientID: "bench-app", Endpoint: oauth2.Endpoint{AuthURL: in.issuer + "/authorize", TokenURL: in.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:1/callback", Scopes: []string{"openid"}}
	v := oauth2.GenerateVerifier()
	res := br.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", gateURL)), "")
	tok, err := cfg.Exchange(in.ctx(), res.callback.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		b.Fatal(err)
	}

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: in.roots}, MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: transport}
	run := func(b *testing.B, url string, headers map[string]string) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				for k, v := range headers {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", url, resp.StatusCode)
				}
			}
		})
	}
	b.Run("plain", func(b *testing.B) { run(b, plainURL+"/", nil) })
	b.Run("gate-bearer", func(b *testing.B) {
		run(b, gateURL+"/", map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Accept": "application/json"})
	})
	b.Run("gate-session", func(b *testing.B) {
		run(b, gateURL+"/", map[string]string{"Cookie": cookie, "Accept": "application/json"})
	})
}

// BenchmarkCaddyToken measures the token endpoint through a real Caddy,
// against a plain `respond` on the same server as the baseline:
//
//	go test ./integration -run '^$' -bench BenchmarkCaddyToken -benchtime 2000x
//
// refresh-* use a confidential client (secret checked from its SHA-256
// cache after the first argon2id check) whose refresh token slides; with
// openid every response carries an RS256 ID token, the dominant cost.
func BenchmarkCaddyToken(b *testing.B) {
	dir := b.TempDir()
	issuerPort := freePort(b)
	cf := fmt.Sprintf(`{
%s
	gatehouse {
		issuer https://localhost:%d
		user erin {
			email erin@example.com
			password_hash %s
		}
		client bench-web {
			type first_party
			secret_hash %s
			redirect_uris http://127.0.0.1/callback
		}
	}
}
https://localhost:%[2]d {
	tls internal
	authserver
	respond /plain "ok"
}
`, globalPreamble(preambleOptions{dir: dir, logLevel: "ERROR"}), issuerPort, cheapHash(b, labPassword), cheapHash(b, "bench-secret"))
	in := startCaddy(b, dir, cf, fmt.Sprintf("https://localhost:%d", issuerPort))
	br := in.newBrowser()
	refreshToken := func(scopes ...string) string {
		cfg := &oauth2.Config{ClientID: "bench-web", ClientSecret: "bench-secret", RedirectURL: "http://127.0.0.1:1/callback", Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: in.issuer + "/authorize", TokenURL: in.issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
		p := br.get(cfg.AuthCodeURL("s"))
		if strings.HasSuffix(p.url.Path, "/login") {
			p = br.submit(p, map[string]string{"username": "erin", "password": labPassword})
		}
		if strings.HasSuffix(p.url.Path, "/consent") { // offline_access asks even first-party apps
			p = br.submit(p, nil, "decision", "allow")
		}
		u, _ := url.Parse(p.location)
		tok, err := cfg.Exchange(in.ctx(), u.Query().Get("code"))
		if err != nil {
			b.Fatal(err)
		}
		return tok.RefreshToken
	}
	withOpenID := refreshToken("openid", "offline_access")
	withoutOpenID := refreshToken("email", "offline_access")

	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: in.roots}, MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: transport}
	post := func(b *testing.B, body string, auth string, want int) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, in.issuer+"/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Fatalf("status %d, want %d", resp.StatusCode, want)
				}
			}
		})
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bench-web:bench-secret"))
	b.Run("plain", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(in.issuer + "/plain")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
	b.Run("refresh-access-token-only", func(b *testing.B) {
		post(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {withoutOpenID}}.Encode(), basic, 200)
	})
	b.Run("refresh-with-id-token", func(b *testing.B) {
		post(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {withOpenID}}.Encode(), basic, 200)
	})
	b.Run("invalid-grant", func(b *testing.B) {
		post(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"gh_rt_unknown"}}.Encode(), basic, 400)
	})
}
