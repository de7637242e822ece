package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"golang.org/x/net/html"

	_ "github.com/gatehouse-auth/gatehouse/caddymodule"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned: the kernel may hand the
// same ephemeral port out twice in a row once it is closed, and two sites
// of one Caddyfile on one port make an ambiguous config.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("no unused free port found")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
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

// browser is a cookie-keeping user agent that fills in forms.
type browser struct {
	t      testing.TB
	in     *instance
	client *http.Client
}

func (in *instance) newBrowser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		in.t.Fatal(err)
	}
	return &browser{t: in.t, in: in, client: in.httpClient(jar)}
}

// page is a fetched HTML page (or a redirect to a client).
type page struct {
	status   int
	url      *url.URL
	location string // set when the response redirected to a client
	header   http.Header
	body     string
	forms    []form
}

type form struct {
	action string
	fields url.Values
	// buttons are submit buttons: name -> values.
	buttons map[string][]string
}

func (b *browser) get(rawURL string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	// What a browser sends on navigation, so a gate sees a person.
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", rawURL, err)
	}
	return b.read(resp)
}

func (b *browser) post(rawURL string, v url.Values) *page {
	b.t.Helper()
	resp, err := b.client.PostForm(rawURL, v)
	if err != nil {
		b.t.Fatalf("POST %s: %v", rawURL, err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) *page {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.location = resp.Header.Get("Location")
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.forms = parseForms(b.t, p.body)
	}
	return p
}

// submit fills the page's only form with values and posts it, pressing
// the submit button with the given name/value when button is non-empty.
func (b *browser) submit(p *page, values map[string]string, button ...string) *page {
	b.t.Helper()
	if len(p.forms) != 1 {
		b.t.Fatalf("want one form on %s, found %d; page:\n%s", p.url, len(p.forms), p.body)
	}
	f := p.forms[0]
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	if len(button) == 2 {
		if !contains(f.buttons[button[0]], button[1]) {
			b.t.Fatalf("no button %s=%s on %s", button[0], button[1], p.url)
		}
		v.Set(button[0], button[1])
	}
	action, err := p.url.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.post(action.String(), v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseForms(t testing.TB, body string) []form {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var forms []form
	var cur *form
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				forms = append(forms, form{action: attr("action"), fields: url.Values{}, buttons: map[string][]string{}})
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr("name") != "" && attr("type") != "submit" {
					cur.fields.Add(attr("name"), attr("value"))
				}
			case "button":
				if cur != nil && attr("name") != "" {
					cur.buttons[attr("name")] = append(cur.buttons[attr("name")], attr("value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}
