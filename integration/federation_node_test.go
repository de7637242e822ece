package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startOIDCProvider runs the npm oidc-provider (integration/oidcprovider,
// installed from its lockfile by scripts/test.sh) on a free loopback port
// and returns its issuer. Without Node or the package the test skips
// (fails under CI).
func startOIDCProvider(t *testing.T, callback, secret string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found")
	}
	dir, _ := filepath.Abs(filepath.Join("oidcprovider"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		requireOrSkip(t, "oidc-provider not installed in %s (npm ci --prefix integration/oidcprovider)", dir)
	}
	port := freePort(t)
	issuer := fmt.Sprintf("http://localhost:%d", port)
	cmd := exec.Command(node, "server.mjs", issuer, fmt.Sprint(port), secret, callback)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	startUntilReady(t, cmd, "oidc-provider", 30*time.Second)
	return issuer
}

// TestFederationWithOIDCProvider: a real, certified third-party OpenID
// Provider (oidc-provider) as the upstream, in Chromium: its own login and
// consent pages, back to Gatehouse, a JIT user, and the provider's groups
// at the gate.
func TestFederationWithOIDCProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the browser tests run in the full suite")
	}
	dir := t.TempDir()
	issuerPort, gatePort := freePort(t), freePort(t)
	issuer := fmt.Sprintf("https://localhost:%d", issuerPort)
	op := startOIDCProvider(t, issuer+"/federation/node/callback", fedSecret)
	echo := newEcho(t)
	cf := fmt.Sprintf(`{
%[1]s
	gatehouse {
		issuer %[2]s
		provider node {
			type oidc
			issuer %[5]s
			client_id gatehouse
			client_secret %[6]s
			scopes openid email profile groups
			display_name "oidc-provider"
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
	authgate {
		allow group node
	}
	reverse_proxy %[4]s
}
`, globalPreamble(preambleOptions{dir: dir}), issuer, gatePort, echo.addr(), op, fedSecret)
	in := startCaddy(t, dir, cf, issuer)
	in.gate = fmt.Sprintf("https://localhost:%d", gatePort)
	s := &browserSuite{in: in, browser: startChromium(t, in), shotDir: t.TempDir()}
	b := s.newTab(t, desktopLight)

	b.open(in.gate + "/report")
	b.click(`a.gh-provider[href*="/federation/node/start"]`)
	if loc := b.location(); !strings.HasPrefix(loc, op+"/interaction/") || !b.has(`input[name="login"]`) {
		t.Fatalf("not oidc-provider's login page: %s", loc)
	}
	b.fill(`input[name="login"]`, "frank")
	b.fill(`input[name="password"]`, "any-password")
	b.click(`button[type="submit"]`)
	if !strings.HasPrefix(b.location(), op+"/interaction/") || !b.has(`button[type="submit"]`) {
		t.Fatalf("not oidc-provider's consent page: %s\n%s", b.location(), b.text("body"))
	}
	b.click(`button[type="submit"]`)
	for i := 0; i < 100 && !strings.HasPrefix(b.location(), in.gate+"/report"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if loc := b.location(); !strings.HasPrefix(loc, in.gate+"/report") {
		b.shot("after-consent")
		t.Fatalf("did not land on the gated page: %s\n%s", loc, b.text("body"))
	}
	var got echoed
	if err := json.Unmarshal([]byte(b.text("body")), &got); err != nil {
		t.Fatalf("not the upstream's answer: %v\n%s", err, b.text("body"))
	}
	h := got.Headers
	if h.Get("X-Gatehouse-Idp") != "node" || h.Get("X-Gatehouse-Groups") != "eng,node" ||
		h.Get("X-Gatehouse-User") != "frank" || h.Get("X-Gatehouse-Email") != "frank@node.example" ||
		!strings.HasPrefix(h.Get("X-Gatehouse-User-Id"), "usr_") {
		t.Errorf("identity headers: %v", h)
	}
}

// startUntilReady starts cmd, whose stdout must print a line "ready" once
// it serves, and waits for that line at most timeout; cmd is killed when
// the test ends. what names it in failures.
func startUntilReady(t *testing.T, cmd *exec.Cmd, what string, timeout time.Duration) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("%s exited before it was ready", what)
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not start within %s", what, timeout)
	}
}
