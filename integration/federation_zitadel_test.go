package integration

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// A second, independent OpenID Provider implementation as the upstream:
// the example OP of github.com/zitadel/oidc (its in-memory storage, its
// static "web" client, its login form and its test users). It is built
// outside our module, so zitadel never enters go.mod, and cached under
// the gitignored .cache/ keyed by version, so it is built once.

const zitadelOIDCVersion = "v3.52.0"

// zitadelMain is the example server's main (example/server/main.go) with
// one change: it listens on 127.0.0.1 only (the example listens on every
// interface) and prints "ready" once it does. The OP, its storage, its
// clients (REDIRECT_URI sets their redirect URIs) and its login pages are
// the example's own packages, unchanged.
const zitadelMain = `package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/config"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

func main() {
	cfg := config.FromEnvVars(&config.Config{Port: "9998"})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	issuer := fmt.Sprintf("http://localhost:%s/", cfg.Port)
	storage.RegisterClients(
		storage.NativeClient("native", cfg.RedirectURI...),
		storage.WebClient("web", "secret", cfg.RedirectURI...),
		storage.WebClient("api", "secret", cfg.RedirectURI...),
	)
	router := exampleop.SetupServer(issuer, storage.NewStorage(storage.NewUserStore(issuer)), logger, false)
	l, err := net.Listen("tcp", "127.0.0.1:"+cfg.Port)
	if err != nil {
		logger.Error("cannot listen", "error", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	logger.Error("server stopped", "error", (&http.Server{Handler: router}).Serve(l))
	os.Exit(1)
}
`

// zitadelOPBinary returns the example OP's binary, building it into
// .cache/zitadel-oidc-<version>-<hash>/ on first use. Without a Go toolchain or
// the module proxy the test skips with the reason (fails under CI).
func zitadelOPBinary(t *testing.T) string {
	t.Helper()
	// Keyed by the version and the main's text, so a change to either
	// builds anew.
	sum := sha256.Sum256([]byte(zitadelOIDCVersion + zitadelMain))
	dir, err := filepath.Abs(filepath.Join("..", ".cache", fmt.Sprintf("zitadel-oidc-%s-%x", zitadelOIDCVersion, sum[:4])))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "zitadel-op")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		requireOrSkip(t, "building the zitadel/oidc example OP: go not found")
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(zitadelMain), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(src, "go.mod"))
	_ = os.Remove(filepath.Join(src, "go.sum"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	start := time.Now()
	for _, args := range [][]string{
		{"mod", "init", "zitadelop"},
		{"get", "github.com/zitadel/oidc/v3/example/server@" + zitadelOIDCVersion},
		{"build", "-o", tmp, "."},
	} {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = src
		// Our module's settings (a workspace, -mod flags) stay out of it.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			msg := fmt.Sprintf("building the zitadel/oidc %s example OP (go %s) failed: %v\n%s",
				zitadelOIDCVersion, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s\n(CI=true: a missing test dependency is a failure)", msg)
			}
			t.Skipf("%s\nskipping: the test needs the Go module proxy (or a warm module cache) once", msg)
		}
	}
	// A rename is atomic: a concurrent run sees the whole binary or none.
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the zitadel/oidc %s example OP in %s", zitadelOIDCVersion, time.Since(start).Round(time.Second))
	return bin
}

// startZitadelOP runs the example OP on a free loopback port with its
// clients' redirect URI set to callback and returns its issuer (with the
// trailing slash the example gives it).
func startZitadelOP(t *testing.T, callback string) string {
	t.Helper()
	bin := zitadelOPBinary(t)
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "REDIRECT_URI="+callback)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "zitadel-op.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	// Registered before startUntilReady's kill, so it runs after it.
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("zitadel example OP log:\n%s", b)
			}
		}
	})
	startUntilReady(t, cmd, "the zitadel example OP", 20*time.Second)
	return fmt.Sprintf("http://localhost:%d/", port)
}

// TestFederationWithZitadelOP: sign in at a gated site through the
// zitadel/oidc example OP: our login page, its login form (a wrong
// password stays there), back to Gatehouse, a just-in-time user linked to
// the OP's subject, the gate saying idp=zitadel, and an app's code flow
// whose ID token carries idp.
func TestFederationWithZitadelOP(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the zitadel OP is built and run in the full suite")
	}
	dir := t.TempDir()
	issuerPort, gatePort, adminPort := freePort(t), freePort(t), freePort(t)
	issuer := fmt.Sprintf("https://localhost:%d", issuerPort)
	op := startZitadelOP(t, issuer+"/federation/zitadel/callback")
	echo := newEcho(t)
	cf := fmt.Sprintf(`{
%[1]s
	gatehouse {
		issuer %[2]s
		client demo-app {
			type first_party_public
			redirect_uris http://127.0.0.1/callback
		}
		provider zitadel {
			type oidc
			issuer %[5]s
			client_id web
			client_secret secret
			display_name "ZITADEL example"
			jit
		}
	}
}

%[2]s {
	tls internal
	authserver
}

https://localhost:%[3]d {
	tls internal
	authgate
	reverse_proxy %[4]s
}
`, globalPreamble(preambleOptions{dir: dir, adminPort: adminPort}), issuer, gatePort, echo.addr(), op)
	in := startCaddy(t, dir, cf, issuer)
	gate := fmt.Sprintf("https://localhost:%d", gatePort)
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	b := in.newBrowser()
	p := b.get(gate + "/hello")
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/login") {
		t.Fatalf("the gate did not lead to the login page: %d %s", p.status, p.url)
	}
	p = b.get(providerLink(t, p, "ZITADEL example"))
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.String(), op+"login/username") || len(p.forms) != 1 {
		t.Fatalf("not the zitadel OP's login page: %d %s\n%s", p.status, p.url, p.body)
	}
	login := p
	// The example's test user is test-user@<the issuer's host>.
	const user, password = "test-user@localhost", "verysecure"
	if p := b.submit(login, map[string]string{"username": user, "password": "wrong"}); p.status != http.StatusOK ||
		!strings.HasPrefix(p.url.String(), op) || len(p.forms) != 1 {
		t.Fatalf("a wrong password at the OP did not stay on its login form: %d %s\n%s", p.status, p.url, p.body)
	}
	p = followContinue(t, b, b.submit(login, map[string]string{"username": user, "password": password}))
	got := decodeEcho(t, p)
	if got.Path != "/hello" {
		t.Errorf("landed on %s, want /hello", got.Path)
	}
	h := got.Headers
	sub := h.Get("X-Gatehouse-User-Id")
	// The OP returns the profile and email claims from UserInfo only (OIDC
	// Core §5.4); the username is made from its preferred_username.
	if h.Get("X-Gatehouse-Idp") != "zitadel" || !strings.HasPrefix(sub, "usr_") ||
		h.Get("X-Gatehouse-User") != "test-userlocalhost" || h.Get("X-Gatehouse-Email") != "test-user@zitadel.ch" {
		t.Errorf("identity headers: %v", h)
	}

	// The user made here is linked to the OP's subject for its user.
	var linked struct {
		ID            string `json:"id"`
		Username      string `json:"username"`
		Name          string `json:"name"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Identities    []struct {
			Provider        string `json:"provider"`
			UpstreamSubject string `json:"upstream_subject"`
		} `json:"identities"`
	}
	mustJSONBody(t, call(t, http.DefaultClient, http.MethodGet, admin+"/gatehouse/users/"+url.PathEscape(sub), nil, nil), &linked)
	if linked.ID != sub || linked.Name != "Test User" || linked.Email != "test-user@zitadel.ch" || !linked.EmailVerified ||
		len(linked.Identities) != 1 || linked.Identities[0].Provider != "zitadel" ||
		linked.Identities[0].UpstreamSubject != "id1" {
		t.Fatalf("admin API user %+v", linked)
	}

	// An app's code flow: the browser is signed in at the issuer, so the
	// app gets its code at once; its ID token names the provider.
	cfg := &oauth2.Config{ClientID: "demo-app", RedirectURL: "http://127.0.0.1/callback", Scopes: []string{"openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: in.issuer + "/authorize", TokenURL: in.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	p = b.get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce")))
	loc, err := url.Parse(p.location)
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st4te" {
		t.Fatalf("no code for the app: %d %q\n%s", p.status, p.location, p.body)
	}
	tok, err := cfg.Exchange(in.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(in.ctx(), in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "demo-app"}).Verify(in.ctx(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		IDP      string `json:"idp"`
		Nonce    string `json:"nonce"`
		Email    string `json:"email"`
		Username string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != sub || claims.IDP != "zitadel" || claims.Nonce != "n0nce" ||
		claims.Email != "test-user@zitadel.ch" || claims.Username != "test-userlocalhost" {
		t.Errorf("ID token sub %s claims %+v, want %s with idp zitadel", idt.Subject, claims, sub)
	}
}
