package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// The harness: Caddyfile.example as the tests run it. Its demo user and
// apps; startExample and its variants (another state directory or port,
// an upstream, an edit, the admin endpoint, logs to files); the echoing
// upstream behind its gate.

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

// echoUpstream is the application behind the gate: it records and echoes
// what it received.
type echoUpstream struct {
	t    testing.TB
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
	last http.Header
}

type echoed struct {
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Headers http.Header `json:"headers"`
}

func newEcho(t testing.TB) *echoUpstream {
	e := &echoUpstream{t: t}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits++
		e.last = r.Header.Clone()
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echoUpstream) addr() string { return strings.TrimPrefix(e.srv.URL, "http://") }

func (e *echoUpstream) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}

func decodeEcho(t testing.TB, p *page) echoed {
	t.Helper()
	var got echoed
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &got) != nil {
		t.Fatalf("not the upstream's answer: %d %s\n%s", p.status, p.url, p.body)
	}
	return got
}

// startGatedExample runs Caddyfile.example with the gated site proxying to
// an echoing upstream.
func startGatedExample(t *testing.T, extraGatehouse ...string) (*instance, *echoUpstream) {
	t.Helper()
	echo := newEcho(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), upstream: echo.addr(), extraGatehouse: extraGatehouse})
	return in, echo
}

// gatePolicyPath is a part of the gated demo site that alice may not see,
// for the gate's 403 page.
const gatePolicyPath = "/staff-only/"

// withGatePolicy adds a second authgate to the gated demo site, with a
// policy alice fails, on gatePolicyPath only.
func withGatePolicy(cf string) string {
	return strings.Replace(cf, "\tauthgate\n", "\tauthgate "+gatePolicyPath+"* {\n\t\tallow group auditors\n\t}\n\tauthgate\n", 1)
}

// adminInstance is the example Caddyfile running with Caddy's admin
// endpoint on a free loopback port, so the admin API can be driven.
type adminInstance struct {
	*instance
	admin string // http://127.0.0.1:port
	addr  string // 127.0.0.1:port
}

// startWithAdmin runs Caddyfile.example like startExampleIn, but with the
// admin endpoint on adminPort instead of off. Other tests are unaffected.
func startWithAdmin(t *testing.T, dir string, port, adminPort int, extraGatehouse ...string) *adminInstance {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", adminPort)
	in := startExampleWith(t, exampleSetup{dir: dir, port: port, adminPort: adminPort, extraGatehouse: extraGatehouse})
	return &adminInstance{instance: in, admin: "http://" + addr, addr: addr}
}

func startAdmin(t *testing.T, extraGatehouse ...string) *adminInstance {
	t.Helper()
	return startWithAdmin(t, t.TempDir(), freePort(t), freePort(t), extraGatehouse...)
}

// loggedInstance is Caddyfile.example with everything logged to files:
// Caddy's default log (which carries Gatehouse's own log) at DEBUG, and
// for each site two access logs, one plain and one with the filter that
// SECURITY.md recommends.
type loggedInstance struct {
	*instance
	admin                        string
	logFile, rawAccess, filtered string
}

// accessLogFilter is the access log configuration SECURITY.md recommends,
// read from it so the documented block is the tested one.
func accessLogFilter(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- access-log-filter: begin.*?```caddyfile\n(.*?)```\n<!-- access-log-filter: end -->").FindSubmatch(doc)
	if m == nil {
		t.Fatal("SECURITY.md has no access-log-filter block")
	}
	return string(m[1])
}

// startLoggedExample runs Caddyfile.example (with open registration, the
// gated site proxying to upstream, and the admin endpoint on) logging as
// loggedInstance says.
func startLoggedExample(t *testing.T, upstream string) *loggedInstance {
	t.Helper()
	dir := t.TempDir()
	port, gatePort, adminPort := freePort(t), freePort(t), freePort(t)
	li := &loggedInstance{
		admin:     fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		logFile:   filepath.Join(dir, "caddy.log"),
		rawAccess: filepath.Join(dir, "access-raw.log"),
		filtered:  filepath.Join(dir, "access-filtered.log"),
	}
	filtered := strings.Replace(accessLogFilter(t), "log {", "log filtered {", 1)
	filtered = "\t" + strings.ReplaceAll(strings.TrimSuffix(filtered, "\n"), "\n", "\n\t") + "\n"
	filtered = regexp.MustCompile(`output file \S+`).ReplaceAllString(filtered, fmt.Sprintf("output file %q", li.filtered))
	siteLogs := fmt.Sprintf("\tlog raw {\n\t\toutput file %q\n\t}\n", li.rawAccess) + filtered
	li.instance = startExampleWith(t, exampleSetup{
		dir: dir, port: port, gatePort: gatePort, adminPort: adminPort, upstream: upstream,
		logLevel: "DEBUG", logFile: li.logFile,
		extraGatehouse: []string{"registration open"},
		edit: func(cf string) string {
			for _, site := range []string{fmt.Sprintf("https://localhost:%d {\n", port), fmt.Sprintf("https://localhost:%d {\n", gatePort)} {
				if !strings.Contains(cf, site) {
					t.Fatalf("no site block %q", site)
				}
				cf = strings.Replace(cf, site, site+siteLogs, 1)
			}
			return cf
		},
	})
	return li
}
