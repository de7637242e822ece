package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// Sign in with another identity provider, through a real Caddy: the
// upstream providers are other Gatehouse issuers (the authorization
// server core, as startExternalIssuer runs it), served on loopback.

const fedSecret = "federation-client-secret-0123456789"

// startUpstreamGatehouse runs a Gatehouse issuer with the user dana
// (groups eng, oncall) and the client "downstream" whose redirect URI is
// callback. wrap, when set, stands between the issuer and the network.
func startUpstreamGatehouse(t *testing.T, callback string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	l := httptest.NewUnstartedServer(nil)
	issuer := "http://localhost:" + strings.Split(l.Listener.Addr().String(), ":")[1]
	dana := identity.User{ID: "dana-at-upstream", Username: "dana", Name: "Dana Scully",
		Email: "dana@corp.example", EmailVerified: true, Groups: []string{"eng", "oncall"}}
	srv, _, _ := newCoreIssuerFor(t, issuer, dana, "Corp IdP", []*clients.Client{{ID: "downstream",
		SecretHashes: []string{clients.HashSecret(fedSecret)},
		Metadata:     clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{callback}}}})
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	l.Config.Handler = h
	l.Start()
	t.Cleanup(l.Close)
	return issuer
}

// rewriteIss changes the iss of the issuer's authorization responses, as
// an attacker's provider answering in its place would (mix-up).
func rewriteIss(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if loc, err := url.Parse(rec.Header().Get("Location")); err == nil && loc.Query().Get("iss") != "" {
			q := loc.Query()
			q.Set("iss", "https://attacker.example")
			loc.RawQuery = q.Encode()
			rec.Header().Set("Location", loc.String())
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// foreignKeys publishes a key set without the issuer's keys, so its ID
// tokens are signed by a key it does not publish.
func foreignKeys(t *testing.T) func(http.Handler) http.Handler {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "foreign", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/jwks.json" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(jwks)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type fedLab struct {
	*instance
	gate    string
	logFile string
	admin   string // http://127.0.0.1:port
}

func startFedLab(t *testing.T) *fedLab {
	t.Helper()
	dir := t.TempDir()
	issuerPort, gatePort, adminPort := freePort(t), freePort(t), freePort(t)
	issuer := fmt.Sprintf("https://localhost:%d", issuerPort)
	cb := func(name string) string { return issuer + "/federation/" + name + "/callback" }
	corp := startUpstreamGatehouse(t, cb("corp"), nil)
	mixup := startUpstreamGatehouse(t, cb("mixup"), rewriteIss)
	foreign := startUpstreamGatehouse(t, cb("foreign"), foreignKeys(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://localhost:" + strings.Split(l.Addr().String(), ":")[1]
	l.Close()
	echo := newEcho(t)
	provider := func(name, display, iss string) string {
		return fmt.Sprintf(`
		provider %s {
			type oidc
			issuer %s
			client_id downstream
			client_secret {env.GATEHOUSE_TEST_FED_SECRET}
			scopes openid email profile groups
			display_name %q
			jit
		}`, name, iss, display)
	}
	t.Setenv("GATEHOUSE_TEST_FED_SECRET", fedSecret)
	logFile := filepath.Join(dir, "caddy.log")
	cf := fmt.Sprintf(`{
%[1]s
	gatehouse {
		issuer %[2]s
		client demo-app {
			type first_party_public
			redirect_uris http://127.0.0.1/callback
		}%[5]s%[6]s%[7]s%[8]s
	}
}

%[2]s {
	tls internal
	authserver
}

https://localhost:%[3]d {
	tls internal
	handle /admins/* {
		authgate {
			allow group admins
		}
		reverse_proxy %[4]s
	}
	handle {
		authgate {
			allow group eng
		}
		reverse_proxy %[4]s
	}
}
`, globalPreamble(preambleOptions{dir: dir, logFile: logFile, logLevel: "INFO", adminPort: adminPort}), issuer, gatePort, echo.addr(),
		provider("corp", "Corp SSO", corp), provider("mixup", "Mixed Up", mixup),
		provider("foreign", "Foreign Keys", foreign), provider("down", "Down IdP", down))
	in := startCaddy(t, dir, cf, issuer)
	in.gate = fmt.Sprintf("https://localhost:%d", gatePort)
	return &fedLab{instance: in, gate: fmt.Sprintf("https://localhost:%d", gatePort), logFile: logFile,
		admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
}

// providerLink returns the login page's link to sign in with display.
func providerLink(t *testing.T, p *page, display string) string {
	t.Helper()
	i := strings.Index(p.body, "Sign in with "+display)
	if i < 0 {
		t.Fatalf("no button for %s on %s:\n%s", display, p.url, p.body)
	}
	j := strings.LastIndex(p.body[:i], `href="`)
	href := p.body[j+len(`href="`):]
	href = html.UnescapeString(href[:strings.IndexByte(href, '"')])
	u, err := p.url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// signInWith goes to the gated site, picks the provider on the login
// page, signs dana in at the provider and returns where that ends.
func (l *fedLab) signInWith(t *testing.T, b *browser, display string) *page {
	t.Helper()
	p := b.get(l.gate + "/hello")
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/login") {
		t.Fatalf("the gate did not lead to the login page: %d %s", p.status, p.url)
	}
	p = b.get(providerLink(t, p, display))
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.String(), "http://localhost:") || len(p.forms) != 1 {
		t.Fatalf("not the provider's login page: %d %s", p.status, p.url)
	}
	return followContinue(t, b, b.submit(p, map[string]string{"username": "dana", "password": labPassword}))
}

// followContinue moves on from the page shown after a sign-in at a
// provider (a meta refresh), as a browser does.
func followContinue(t *testing.T, b *browser, p *page) *page {
	t.Helper()
	const marker = `<meta http-equiv="refresh" content="0;url=`
	i := strings.Index(p.body, marker)
	if p.status != http.StatusOK || i < 0 {
		return p
	}
	next := p.body[i+len(marker):]
	u, err := p.url.Parse(html.UnescapeString(next[:strings.IndexByte(next, '"')]))
	if err != nil {
		t.Fatal(err)
	}
	return b.get(u.String())
}

func (l *fedLab) logs(t *testing.T) string {
	b, err := os.ReadFile(l.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFederationThroughCaddy: dana signs in at the gated site with the
// upstream Gatehouse: a user is made for her here, the gate admits her by
// the provider's group and tells the upstream she came through "corp";
// an app then gets tokens saying so; the upstream's failures end on a
// page, never a 500, with the cause in Caddy's log.
func TestFederationThroughCaddy(t *testing.T) {
	l := startFedLab(t)
	b := l.newBrowser()
	p := l.signInWith(t, b, "Corp SSO")
	got := decodeEcho(t, p)
	if got.Path != "/hello" {
		t.Errorf("landed on %s, want /hello", got.Path)
	}
	h := got.Headers
	if h.Get("X-Gatehouse-Idp") != "corp" || h.Get("X-Gatehouse-Groups") != "eng,oncall" ||
		h.Get("X-Gatehouse-Email") != "dana@corp.example" || h.Get("X-Gatehouse-User") != "dana" {
		t.Errorf("identity headers: %v", h)
	}
	sub := h.Get("X-Gatehouse-User-Id")
	if !strings.HasPrefix(sub, "usr_") {
		t.Errorf("user id %q is not a stored user's", sub)
	}
	if p := b.get(l.gate + "/admins/x"); p.status != http.StatusForbidden {
		t.Errorf("the admins route admitted a user without the group: %d", p.status)
	}
	// A header the client sends under the gate's name never arrives.
	resp := l.request(t, http.MethodGet, l.gate+"/hello", nil, map[string]string{"X-Gatehouse-Idp": "forged", "Accept": "application/json"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an anonymous request with a forged idp header: %d", resp.StatusCode)
	}

	// A signed-in browser's forged idp header is replaced by the gate's.
	req, _ := http.NewRequest(http.MethodGet, l.gate+"/hello", nil)
	req.Header.Set("X-Gatehouse-Idp", "forged")
	req.Header.Set("x_gatehouse_idp", "forged-too")
	r, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeEcho(t, b.read(r)).Headers.Values("X-Gatehouse-Idp"); len(got) != 1 || got[0] != "corp" {
		t.Errorf("upstream X-Gatehouse-Idp = %q, want only the gate's corp", got)
	}

	// The demo app's flow: the browser is signed in at the issuer, so the
	// app gets its code at once; its tokens name the provider.
	cfg := &oauth2.Config{ClientID: "demo-app", RedirectURL: "http://127.0.0.1/callback", Scopes: []string{"openid", "profile", "email", "groups"},
		Endpoint: oauth2.Endpoint{AuthURL: l.issuer + "/authorize", TokenURL: l.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	p = b.get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce")))
	loc, err := url.Parse(p.location)
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code for the app: %d %q\n%s", p.status, p.location, p.body)
	}
	tok, err := cfg.Exchange(l.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	op, err := oidc.NewProvider(l.ctx(), l.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: "demo-app"}).Verify(l.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		IDP    string   `json:"idp"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != sub || claims.IDP != "corp" || strings.Join(claims.Groups, ",") != "eng,oncall" {
		t.Errorf("ID token sub %s idp %q groups %v", idt.Subject, claims.IDP, claims.Groups)
	}

	// The admin API lists the linked identity; unlinking it keeps the
	// user (and her id); the next sign-in with it is a first one again,
	// refused because her email belongs to that user and linking by
	// email is off.
	var user struct {
		ID         string `json:"id"`
		Identities []struct {
			Provider        string `json:"provider"`
			UpstreamSubject string `json:"upstream_subject"`
			Email           string `json:"email"`
		} `json:"identities"`
	}
	mustJSONBody(t, call(t, http.DefaultClient, http.MethodGet, l.admin+"/gatehouse/users/"+sub, nil, nil), &user)
	if user.ID != sub || len(user.Identities) != 1 || user.Identities[0].Provider != "corp" ||
		user.Identities[0].UpstreamSubject != "dana-at-upstream" || user.Identities[0].Email != "dana@corp.example" {
		t.Fatalf("admin API user %+v", user)
	}
	unlink := l.admin + "/gatehouse/users/" + sub + "/identities/corp/dana-at-upstream"
	if r := call(t, http.DefaultClient, http.MethodDelete, unlink, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	call(t, http.DefaultClient, http.MethodDelete, unlink, nil, nil).errorIs(t, "unlink twice", http.StatusNotFound, "not_found", "the user has no such linked identity")
	user.Identities = nil
	mustJSONBody(t, call(t, http.DefaultClient, http.MethodGet, l.admin+"/gatehouse/users/"+sub, nil, nil), &user)
	if user.ID != sub || len(user.Identities) != 0 {
		t.Errorf("after unlinking: %+v", user)
	}
	if p := l.signInWith(t, l.newBrowser(), "Corp SSO"); p.status != http.StatusForbidden || !strings.Contains(p.body, "already uses this email") {
		t.Errorf("sign-in after unlinking: %d\n%s", p.status, p.body)
	}

	failures := []struct {
		display, cause, text string
		status               int
	}{
		{"Mixed Up", "issuer_mismatch", "could not sign you in with Mixed Up", http.StatusBadGateway},
		{"Foreign Keys", "id_token_signature", "could not sign you in with Foreign Keys", http.StatusBadGateway},
	}
	for _, f := range failures {
		t.Run(f.cause, func(t *testing.T) {
			b := l.newBrowser()
			p := l.signInWith(t, b, f.display)
			if p.status != f.status || !strings.Contains(p.body, f.text) {
				t.Fatalf("got %d at %s, want %d with %q:\n%s", p.status, p.url, f.status, f.text, p.body)
			}
			if !strings.Contains(l.logs(t), `"cause":"`+f.cause+`"`) {
				t.Errorf("no log line with cause %s", f.cause)
			}
		})
	}
	t.Run("provider_unreachable", func(t *testing.T) {
		b := l.newBrowser()
		p := b.get(l.gate + "/hello")
		p = b.get(providerLink(t, p, "Down IdP"))
		if p.status != http.StatusBadGateway || !strings.Contains(p.body, "could not sign you in with Down IdP") {
			t.Fatalf("got %d at %s:\n%s", p.status, p.url, p.body)
		}
		if !strings.Contains(l.logs(t), `"cause":"provider_unreachable"`) {
			t.Error("no log line with cause provider_unreachable")
		}
	})
}
