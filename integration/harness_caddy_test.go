package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"

	// The modules of every test Caddyfile.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/gatehouse-auth/gatehouse/caddymodule"
)

// The harness: Caddy itself. Free loopback ports, the preamble every test
// Caddyfile's global block starts with, starting Caddy in process and
// clients that trust its local CA; plain and raw HTTP requests and JSON
// API calls; the instance's store and signing keys; password and secret
// hashes for Caddyfiles; the authorization server core outside Caddy; and
// the `caddy gatehouse` CLI in process. Caddyfile.example is in
// harness_example_test.go, browsers in harness_browser_test.go, OAuth
// clients in harness_oauth_test.go, the multi-process cluster in
// harness_cluster_test.go and Chromium in browser_harness_test.go.

// freePort returns a port on 127.0.0.1, free for TCP and UDP (Caddy's
// HTTP/3 listener binds UDP on the same number) a moment ago, that no
// earlier call in this process returned. It picks below the kernel's
// ephemeral range: a port the kernel hands out for "127.0.0.1:0" can be
// taken again, between our check and Caddy's bind, as the local end of
// any outgoing connection or by another test process listening on :0
// (CI once failed on exactly that race).
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	low, high := belowEphemeralRange()
	for range 1000 {
		port := low + portsRand.IntN(high-low+1)
		if portsGiven[port] || !portFree(port) {
			continue
		}
		portsGiven[port] = true
		return port
	}
	t.Fatal("no unused free port found")
	return 0
}

// belowEphemeralRange is the span freePort picks from: the ports under
// the kernel's ephemeral range (ip_local_port_range, 32768-60999 by
// default on Linux), above the well-known and usual service ports.
func belowEphemeralRange() (low, high int) {
	const floor = 12000
	first := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				first = n
			}
		}
	}
	if first-1 < floor+1000 {
		// An unusual ephemeral range: take what is above it instead.
		return 61000, 65000
	}
	return floor, first - 1
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	u.Close()
	return true
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
	portsRand  = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
)

// instance is a running Caddy with Gatehouse.
type instance struct {
	t      testing.TB
	dir    string // Caddy storage and data directory
	issuer string
	gate   string // the gated demo site, when the config has one
	port   int
	roots  *x509.CertPool
	client *http.Client // trusts Caddy's local CA; no cookies
}

// preambleOptions says how a test Caddyfile's global options block
// starts; the zero value but dir is what most tests want.
type preambleOptions struct {
	dir string // Caddy's storage
	// adminPort, when set, turns Caddy's admin endpoint on at
	// 127.0.0.1:adminPort instead of off.
	adminPort int
	// ownAutoHTTPS: the Caddyfile sets auto_https itself (Caddyfile.example
	// disables the redirect server on its own), so the preamble does not.
	ownAutoHTTPS bool
	// plainHTTP: every site is http://, so there is nothing to say about
	// certificates (no local CA options, no auto_https).
	plainHTTP bool
	// logLevel, when set, is the level of Caddy's default log, which
	// carries Gatehouse's own.
	logLevel string
	// logFile, when set, sends Caddy's default log to this file, as JSON.
	logFile string
}

// globalPreamble is what every test Caddyfile starts its global block
// with: no admin endpoint (unless o.adminPort), loopback only, storage
// under the test's directory, no persisted config, Caddy's local CA
// without touching the system trust store, and no http->https redirect
// server (it would bind port 80, which a non-root user cannot and another
// program may hold).
func globalPreamble(o preambleOptions) string {
	var b strings.Builder
	if o.adminPort != 0 {
		fmt.Fprintf(&b, "\tadmin 127.0.0.1:%d\n", o.adminPort)
	} else {
		b.WriteString("\tadmin off\n")
	}
	b.WriteString("\tdefault_bind 127.0.0.1\n")
	fmt.Fprintf(&b, "\tstorage file_system %q\n", o.dir)
	if !o.plainHTTP {
		b.WriteString("\tlocal_certs\n\tskip_install_trust\n")
		if !o.ownAutoHTTPS {
			b.WriteString("\tauto_https disable_redirects\n")
		}
	}
	b.WriteString("\tpersist_config off\n")
	if o.logLevel != "" || o.logFile != "" {
		b.WriteString("\tlog {\n")
		if o.logFile != "" {
			fmt.Fprintf(&b, "\t\toutput file %q\n", o.logFile)
		}
		if o.logLevel != "" {
			fmt.Fprintf(&b, "\t\tlevel %s\n", o.logLevel)
		}
		if o.logFile != "" {
			b.WriteString("\t\tformat json\n")
		}
		b.WriteString("\t}\n")
	}
	return b.String()
}

// startCaddy runs caddyfile (with %[1]s... already substituted) until the
// test ends. issuer's /.well-known/openid-configuration must answer.
func startCaddy(t testing.TB, dir, caddyfile, issuer string) *instance {
	t.Helper()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg-data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg-config"))
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v", err)
	}
	for _, w := range warnings {
		t.Logf("caddyfile warning: %s", w.String())
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("starting Caddy: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Logf("stopping Caddy: %v", err)
		}
	})
	in := &instance{t: t, dir: dir, issuer: issuer}
	u, _ := url.Parse(issuer)
	fmt.Sscanf(u.Port(), "%d", &in.port)
	in.waitReady()
	return in
}

// waitReady waits until Caddy's local CA exists and the issuer answers.
func (in *instance) waitReady() {
	t := in.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	rootPath := filepath.Join(in.dir, "pki", "authorities", "local", "root.crt")
	for {
		if in.roots == nil {
			if pem, err := os.ReadFile(rootPath); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pem) {
					in.roots = pool
					in.client = in.httpClient(nil)
				}
			}
		}
		if in.client != nil {
			resp, err := in.client.Get(in.issuer + "/.well-known/openid-configuration")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy did not become ready at %s", in.issuer)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpClient returns a client that trusts Caddy's local CA and never
// follows redirects to the apps' loopback callbacks.
func (in *instance) httpClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Jar:     jar,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: in.roots},
			ForceAttemptHTTP2: true,
			DialContext:       dialIPv4Loopback,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() == "127.0.0.1" || req.URL.Hostname() == "::1" {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}
}

// dialIPv4Loopback dials localhost as 127.0.0.1. Caddyfile.example binds
// both loopback addresses, and a client that reached it over ::1 on one
// connection and 127.0.0.1 on the next would count as two addresses for
// the per-address login throttle.
func dialIPv4Loopback(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// ctx returns a context whose oauth2 HTTP client trusts Caddy's CA.
func (in *instance) ctx() context.Context {
	return contextWithClient(context.Background(), in.client)
}

func contextWithClient(ctx context.Context, c *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// request sends one request with the instance's CA and no cookie jar. A
// "Host" entry in headers replaces the Host header (TLS and SNI still go
// to rawURL's host).
func (in *instance) request(t testing.TB, method, rawURL string, body io.Reader, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := *in.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// send sends body to the issuer's path with method, and with the
// Content-Type and Authorization headers that are not empty, like
// request; it returns the answer and its body.
func (in *instance) send(t testing.TB, method, path, contentType, auth, body string) (*http.Response, []byte) {
	t.Helper()
	headers := map[string]string{}
	if contentType != "" {
		headers["Content-Type"] = contentType
	}
	if auth != "" {
		headers["Authorization"] = auth
	}
	resp := in.request(t, method, in.issuer+path, strings.NewReader(body), headers)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// basicAuth is the Authorization header of HTTP Basic client
// authentication: id and secret form-encoded, then joined (RFC 6749
// §2.3.1).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// fetch GETs rawURL like request and returns the body, failing the test
// unless the answer is 200.
func (in *instance) fetch(t testing.TB, rawURL string) string {
	t.Helper()
	resp := in.request(t, http.MethodGet, rawURL, nil, nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", rawURL, resp.StatusCode, b)
	}
	return string(b)
}

// getBody is fetch of path at the issuer.
func (in *instance) getBody(path string) string {
	in.t.Helper()
	return in.fetch(in.t, in.issuer+path)
}

// rawExchange writes a raw HTTP/1.1 request over TLS to the site at
// origin and returns the answer's status.
func rawExchange(t *testing.T, in *instance, origin, request string) int {
	t.Helper()
	u, _ := url.Parse(origin)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+u.Port(), &tls.Config{RootCAs: in.roots, ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(conn, request) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rawHTTP1 sends one HTTP/1.1 GET over TLS and returns the status. It
// writes and reads at once: the server answers an oversized request and
// closes before reading all of it, which makes net/http's client report
// the failed write instead of the answer. Over HTTP/2, Go's client
// refuses to send what the server advertised it would not take.
func rawHTTP1(t *testing.T, in *instance, origin, target, header string) int {
	t.Helper()
	u, _ := url.Parse(origin)
	req := "GET " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	if header != "" {
		req += header + "\r\n"
	}
	return rawExchange(t, in, origin, req+"Connection: close\r\n\r\n")
}

// apiResult is an admin or registration API response.
type apiResult struct {
	status int
	header http.Header
	body   []byte
}

// errorIs checks a JSON error response's status and code, and that its
// description starts with prefix.
func (r apiResult) errorIs(t *testing.T, what string, status int, code, prefix string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(r.body, &e)
	if r.status != status || e.Error != code || !strings.HasPrefix(e.Description, prefix) {
		t.Errorf("%s: HTTP %d %s %q, want HTTP %d %s %q...", what, r.status, e.Error, e.Description, status, code, prefix)
	}
}

// call sends body (JSON-encoded unless it is a string, sent as is) with
// the given content type.
func call(t *testing.T, c *http.Client, method, rawURL string, body any, header map[string]string) apiResult {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResult{status: resp.StatusCode, header: resp.Header, body: raw}
}

// decodeJSON decodes resp's JSON body into v, failing the test unless it
// can.
func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// mustJSONBody decodes a successful (2xx) JSON answer into v, failing the
// test unless it is one.
func mustJSONBody(t *testing.T, r apiResult, v any) {
	t.Helper()
	if r.status/100 != 2 || json.Unmarshal(r.body, v) != nil {
		t.Fatalf("HTTP %d %s", r.status, r.body)
	}
}

// gatehouseData is where Gatehouse keeps its files (SQLite database, key
// encryption key) in Caddy's data directory, which startCaddy puts under
// the test's directory.
func (in *instance) gatehouseData(name string) string {
	return filepath.Join(in.dir, "xdg-data", "caddy", "gatehouse", name)
}

// openStore opens the instance's SQLite store beside Caddy, as a second
// instance sharing the database would.
func (in *instance) openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), in.gatehouseData("gatehouse.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// minter signs tokens with the instance's real signing keys, read from its
// store, to build tokens the token endpoint would never issue.
func (in *instance) minter(t *testing.T) *token.KeyManager {
	t.Helper()
	st := in.openStore(t)
	kek, err := os.ReadFile(in.gatehouseData("kek"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.ParseKey(string(kek))
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	km := token.NewKeyManager(st, s, token.KeyOptions{})
	if err := km.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return km
}

// cheapHash hashes a test password with minimal argon2id cost.
func cheapHash(t testing.TB, password string) string {
	t.Helper()
	h, err := identity.HashPassword(password, identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sha256Secret is a client's secret_hash in the fast "sha256:<hex>" form.
func sha256Secret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(h[:])
}

const labPassword = "lab-password"

// newCoreIssuer builds the authorization server core on its own store,
// outside Caddy, with the user erin and the given clients.
func newCoreIssuer(t testing.TB, issuer string, configured []*clients.Client) (*authserver.Server, *token.KeyManager, store.Store) {
	t.Helper()
	erin := identity.User{ID: "erin-id", Username: "erin", Email: "erin@external.example", EmailVerified: true}
	return newCoreIssuerFor(t, issuer, erin, "External IdP", configured)
}

// newCoreIssuerFor is newCoreIssuer with user (password labPassword) and
// the product name its pages show.
func newCoreIssuerFor(t testing.TB, issuer string, user identity.User, product string, configured []*clients.Client) (*authserver.Server, *token.KeyManager, store.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "core.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeyManager(st, sealer, token.KeyOptions{})
	if err := keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ph, err := identity.ParsePasswordHash(cheapHash(t, labPassword))
	if err != nil {
		t.Fatal(err)
	}
	user.Password = ph
	users, err := identity.NewStaticDirectory([]*identity.User{&user})
	if err != nil {
		t.Fatal(err)
	}
	static, err := clients.NewStatic(configured, authserver.SupportedScopes())
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := ui.New(ui.Branding{ProductName: product}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(authserver.Config{
		Issuer: issuer, Store: st, Keys: keys, Users: users, Clients: static, UI: renderer,
		CookieSecrets: [][]byte{[]byte("external-issuer-cookie-secret-0123456789")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, keys, st
}

// runCLI runs `caddy gatehouse args...` in process, as the caddy binary
// would, and returns what it printed.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCLIInput(t, "", args...)
}

// runCLIInput is runCLI with stdin as the command's standard input.
func runCLIInput(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	gatehouse, ok := caddycmd.Commands()["gatehouse"]
	if !ok {
		t.Fatal("the gatehouse command is not registered")
	}
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	sub := &cobra.Command{Use: "gatehouse"}
	gatehouse.CobraFunc(sub)
	root.AddCommand(sub)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"gatehouse"}, args...))
	err := root.Execute()
	return out.String(), err
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("caddy gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// tableValue is the value of a row of the CLI's two-column output.
func tableValue(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` +(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s row in:\n%s", key, out)
	}
	return strings.TrimSpace(m[1])
}
