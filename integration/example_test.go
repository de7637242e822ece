package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"golang.org/x/oauth2"
)

const (
	alicePassword = "alice-demo-password"
	exampleIssuer = "https://localhost:8443"
)

// demoApp is one of the clients of Caddyfile.example.
type demoApp struct {
	id, secret string
}

var (
	demoWeb      = demoApp{"demo-web", "demo-web-secret"}
	demoInternal = demoApp{"demo-internal", "demo-internal-secret"}
	demoSPA      = demoApp{"demo-spa", ""}
	demoCLI      = demoApp{"demo-cli", ""}
)

// startExample runs Caddyfile.example itself, changed only as a test must:
// a free port instead of 8443, loopback only, storage in a temporary
// directory, no admin endpoint. extraGatehouse lines are added to the
// gatehouse block (e.g. shorter lifetimes).
func startExample(t testing.TB, extraGatehouse ...string) *instance {
	t.Helper()
	return startExampleIn(t, t.TempDir(), freePort(t), extraGatehouse...)
}

// startExampleIn is startExample with a given state directory and port, so
// a test can restart the same instance.
func startExampleIn(t testing.TB, dir string, port int, extraGatehouse ...string) *instance {
	t.Helper()
	return startExampleWith(t, exampleSetup{dir: dir, port: port, extraGatehouse: extraGatehouse})
}

// exampleSetup says how a test runs Caddyfile.example.
type exampleSetup struct {
	dir            string
	port           int    // the issuer's, instead of 8443
	gatePort       int    // the gated demo site's, instead of 9443 (0: a free one)
	upstream       string // host:port the gate proxies to, instead of the demo echo
	extraGatehouse []string
	// adminPort, when set, turns Caddy's admin endpoint on at
	// 127.0.0.1:adminPort instead of off (and off again when the test
	// ends).
	adminPort int
	// logLevel and logFile, when set, configure Caddy's default log (see
	// preambleOptions).
	logLevel, logFile string
	// edit, when set, changes the Caddyfile after the substitutions above
	// (e.g. a policy on part of the gated site).
	edit func(caddyfile string) string
}

func startExampleWith(t testing.TB, o exampleSetup) *instance {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	dir, port, extraGatehouse := o.dir, o.port, o.extraGatehouse
	if o.gatePort == 0 {
		o.gatePort = freePort(t)
	}
	cf := string(src)
	if o.upstream != "" {
		cf = strings.Replace(cf, "reverse_proxy 127.0.0.1:9444", "reverse_proxy "+o.upstream, 1)
	}
	cf = strings.ReplaceAll(cf, "127.0.0.1:9444", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	cf = strings.ReplaceAll(cf, "localhost:9443", fmt.Sprintf("localhost:%d", o.gatePort))
	cf = strings.ReplaceAll(cf, "localhost:8443", fmt.Sprintf("localhost:%d", port))
	// Insert the test preamble at the top of the global options block.
	global := regexp.MustCompile(`(?m)^\{\n`)
	loc := global.FindStringIndex(cf)
	if loc == nil {
		t.Fatal("Caddyfile.example has no global options block")
	}
	// Caddyfile.example disables the redirect server itself.
	preamble := globalPreamble(preambleOptions{dir: dir, adminPort: o.adminPort, ownAutoHTTPS: true, logLevel: o.logLevel, logFile: o.logFile})
	cf = cf[:loc[1]] + preamble + cf[loc[1]:]
	if len(extraGatehouse) > 0 {
		// An extra one-line option replaces the example's own setting of
		// it; blocks (user, client) are added beside the example's.
		for _, line := range extraGatehouse {
			if strings.ContainsAny(line, "{\n") {
				continue
			}
			key, _, _ := strings.Cut(line, " ")
			cf = regexp.MustCompile(`(?m)^\t\t`+regexp.QuoteMeta(key)+`( .*)?\n`).ReplaceAllString(cf, "")
		}
		cf = strings.Replace(cf, "\tgatehouse {\n", "\tgatehouse {\n\t\t"+strings.Join(extraGatehouse, "\n\t\t")+"\n", 1)
	}
	if o.edit != nil {
		cf = o.edit(cf)
	}
	if o.adminPort != 0 {
		// caddy.Stop leaves the admin endpoint running; a config with the
		// endpoint disabled stops it. Registered first, so it runs after
		// the Stop that startCaddy registers.
		t.Cleanup(func() {
			if err := caddy.Load([]byte(`{"admin":{"disabled":true,"config":{"persist":false}}}`), true); err != nil {
				t.Logf("stopping the admin endpoint: %v", err)
			}
			_ = caddy.Stop()
		})
	}
	in := startCaddy(t, dir, cf, fmt.Sprintf("https://localhost:%d", port))
	in.gate = fmt.Sprintf("https://localhost:%d", o.gatePort)
	return in
}

// oauthConfig is an x/oauth2 configuration for a demo app, redirecting to
// a loopback callback on an arbitrary port (RFC 8252 §7.3).
func (in *instance) oauthConfig(a demoApp, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email"}
	}
	return &oauth2.Config{
		ClientID:     a.id,
		ClientSecret: a.secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   in.issuer + "/authorize",
			TokenURL:  in.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes:      scopes,
	}
}

func contextWithClient(ctx context.Context, c *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// TestExampleNeedsNoPrivilegedPort: Caddyfile.example, unchanged, starts as
// an unprivileged user: it listens on no port below 1024, and Caddy's
// automatic http->https redirect server (port 80) is disabled. Its demo
// password and open registration are reachable from this machine only:
// every listener is on a loopback address.
func TestExampleNeedsNoPrivilegedPort(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": "Caddyfile.example"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen         []string `json:"listen"`
					AutomaticHTTPS *struct {
						DisableRedirects bool `json:"disable_redirects"`
						Disable          bool `json:"disable"`
					} `json:"automatic_https"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for name, srv := range cfg.Apps.HTTP.Servers {
		for _, l := range srv.Listen {
			_, port, _ := strings.Cut(l[strings.LastIndex(l, ":"):], ":")
			if n, _ := strconv.Atoi(port); n < 1024 {
				t.Errorf("server %s listens on %s, a privileged port", name, l)
			}
			host := strings.Trim(l[strings.Index(l, "/")+1:strings.LastIndex(l, ":")], "[]")
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				t.Errorf("server %s listens on %s, not a loopback address", name, l)
			}
		}
		if a := srv.AutomaticHTTPS; a == nil || !(a.DisableRedirects || a.Disable) {
			t.Errorf("server %s keeps Caddy's redirect server on port 80", name)
		}
	}
}
