package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
)

// A cluster is Gatehouse as operators run it for availability: several
// Caddy processes on one PostgreSQL schema behind a load balancer. Caddy
// runs one configuration per process, so each instance is a real process
// of the Caddy binary built from ./cmd/caddy.
//
// The setup, chosen as the simplest faithful one: the issuer is the load
// balancer's plain-http loopback URL (authserver allows http issuers on
// loopback only, so cookies lose Secure and the __Host- prefix), and the
// test decides which instance serves each request through it. Each
// instance also serves a gated site on its own port, with the same
// resource (audience) on all of them.

// clusterResource is the audience the gates on every instance accept.
const clusterResource = "https://api.gatehouse.test"

// Timing of the cluster's background work, short so tests see it happen.
const (
	clusterRevocationPoll = time.Second
	// Keys rotate every 6 s and are published 3 s before they sign; every
	// instance reloads them every second.
	clusterKeyRotation = 6 * time.Second
	clusterKeyPrePub   = 3 * time.Second
	clusterKeyReload   = time.Second
)

// buildCaddy builds the Caddy binary with Gatehouse into dir.
func buildCaddy(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "caddy")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Caddy: %v\n%s", err, out)
	}
	return bin
}

// balancer is a reverse proxy in front of the instances that sends each
// request to the instance the test names, keeping the public Host.
type balancer struct {
	srv *httptest.Server

	mu      sync.Mutex
	targets map[string]*url.URL
	route   string         // where requests go
	served  map[string]int // requests per instance
}

func newBalancer(t *testing.T) *balancer {
	lb := &balancer{targets: map[string]*url.URL{}, served: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			lb.mu.Lock()
			target := lb.targets[lb.route]
			lb.served[lb.route]++
			lb.mu.Unlock()
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
	}
	lb.srv = httptest.NewServer(proxy)
	t.Cleanup(lb.srv.Close)
	return lb
}

// routeTo sends the following requests to the named instance.
func (lb *balancer) routeTo(name string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.route = name
}

// servedBy returns how many requests each instance got through the
// balancer so far.
func (lb *balancer) servedBy(name string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.served[name]
}

// node is one Caddy instance of the cluster.
type node struct {
	name     string
	port     int // the authorization server's site
	gatePort int // the gated site
	dir      string
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{}
}

func (n *node) url() string  { return fmt.Sprintf("http://127.0.0.1:%d", n.port) }
func (n *node) gate() string { return fmt.Sprintf("http://127.0.0.1:%d", n.gatePort) }

type cluster struct {
	t        *testing.T
	bin      string
	dsn      string // contains password, which must never be logged
	password string
	schema   string
	kek      string
	lb       *balancer
	issuer   string
	echo     *echoUpstream
	nodes    map[string]*node
	client   *http.Client // no cookies, no redirects followed
}

// newCluster starts instances a and b on a fresh schema, behind a
// balancer routed to a.
func newCluster(t *testing.T, bin string) *cluster {
	t.Helper()
	dsn, schema := pgtest.Schema(t)
	dsn, password := withPassword(t, dsn)
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	c := &cluster{
		t: t, bin: bin, dsn: dsn, password: password, schema: schema, kek: hex.EncodeToString(kek),
		lb: newBalancer(t), echo: newEcho(t), nodes: map[string]*node{},
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	c.issuer = c.lb.srv.URL
	for _, name := range []string{"a", "b"} {
		n := &node{name: name, port: freePort(t), gatePort: freePort(t), dir: filepath.Join(t.TempDir(), name)}
		n.logPath = filepath.Join(n.dir, "caddy.log")
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.nodes[name] = n
		u, _ := url.Parse(n.url())
		c.lb.targets[name] = u
	}
	c.lb.routeTo("a")
	// Both start at once: migrations and the first signing keys race.
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		c.launch(n)
		wg.Go(func() { c.waitReady(n) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(c.stopAll)
	return c
}

// withPassword gives a URL DSN a password when it has none: the test
// server trusts loopback connections and ignores it, and the tests check
// that it never reaches a log.
func withPassword(t *testing.T, dsn string) (string, string) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("multi-instance tests need a URL DSN in %s", pgtest.EnvDSN)
	}
	if pw, ok := u.User.Password(); ok {
		return dsn, pw
	}
	pw := "gh-pw-" + strings.ToLower(rand.Text()[:16])
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), pw
}

func (c *cluster) caddyfile(n *node) string {
	return fmt.Sprintf(`{
%[1]s	gatehouse {
		issuer %[2]s
		storage postgres {
			dsn {env.GATEHOUSE_DATABASE_URL}
			schema %[3]s
			max_conns 8
			statement_timeout 5s
		}
		key_encryption_key {env.GATEHOUSE_KEK}
		revocation_poll_interval %[4]s
		key_rotation_interval %[5]s
		key_prepublication %[6]s
		key_reload_interval %[7]s
		user alice {
			email alice@example.com
			email_verified
			name "Alice Example"
			password_hash %[8]s
		}
		client spa {
			type third_party_public
			redirect_uris http://127.0.0.1/callback
		}
		client cli {
			type first_party_public
			redirect_uris http://127.0.0.1/callback
			bypass_consent_for_offline_access
		}
	}
}

http://127.0.0.1:%[9]d {
	authserver
}

http://127.0.0.1:%[10]d {
	authgate {
		resource %[11]s
	}
	reverse_proxy %[12]s
}
`, globalPreamble(preambleOptions{dir: filepath.Join(n.dir, "caddy-storage"), plainHTTP: true}), c.issuer, c.schema,
		clusterRevocationPoll, clusterKeyRotation, clusterKeyPrePub, clusterKeyReload,
		cheapHash(c.t, alicePassword), n.port, n.gatePort, clusterResource, c.echo.addr())
}

// launch starts n's process (again, after a kill) without waiting.
func (c *cluster) launch(n *node) {
	t := c.t
	t.Helper()
	cfPath := filepath.Join(n.dir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(c.caddyfile(n)), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "run", "--config", cfPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(n.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(n.dir, "config"),
		"GATEHOUSE_DATABASE_URL="+c.dsn,
		"GATEHOUSE_KEK="+c.kek,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting instance %s: %v", n.name, err)
	}
	logf.Close() // the child has its own descriptor
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(cmd, n.exited)
}

// waitReady waits until n answers discovery.
func (c *cluster) waitReady(n *node) {
	t := c.t
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-n.exited:
			t.Errorf("instance %s exited while starting; log:\n%s", n.name, tail(n.logPath))
			return
		default:
		}
		resp, err := c.client.Get(n.url() + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("instance %s did not become ready; log:\n%s", n.name, tail(n.logPath))
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// kill ends n with SIGKILL: no shutdown, open transactions and responses
// cut off.
func (c *cluster) kill(n *node) {
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("killing instance %s: %v", n.name, err)
	}
	<-n.exited
}

func (c *cluster) stopAll() {
	for _, n := range c.nodes {
		select {
		case <-n.exited:
			continue
		default:
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	}
	// Whatever happened, the DSN's password never reached a log.
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			c.t.Errorf("reading instance %s's log: %v", n.name, err)
			continue
		}
		if bytes.Contains(b, []byte(c.password)) || bytes.Contains(b, []byte(c.dsn)) {
			c.t.Errorf("instance %s logged the database password", n.name)
		}
	}
}

// tail returns the end of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// browser is a cookie-keeping user agent that talks to the cluster
// through the balancer.
func (c *cluster) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return &browser{t: c.t, client: &http.Client{
		Timeout: 10 * time.Second,
		Jar:     jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == "/callback" {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}}
}

// tokenAt posts form to the token endpoint of base (an instance, or the
// issuer for the balancer). A transport error is returned, not fatal: an
// instance may be down on purpose.
func (c *cluster) tokenAt(base string, form url.Values) (*tokenJSON, int, error) {
	resp, err := c.client.PostForm(base+"/token", form)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	var tj tokenJSON
	if err := json.Unmarshal(body, &tj); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("token response %d is not JSON: %.200s", resp.StatusCode, body)
	}
	return &tj, resp.StatusCode, nil
}

// bearerStatus sends an access token to base+path and returns the status.
func (c *cluster) bearerStatus(base, path, accessToken string) int {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s%s: %v", base, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// jwksOf returns the kids an instance publishes, in its order.
func (c *cluster) jwksOf(n *node) []string {
	c.t.Helper()
	resp, err := c.client.Get(n.url() + "/jwks.json")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		c.t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// converged waits until every instance publishes the same JWKS, which
// must happen within a key reload interval (plus slack for the check),
// and returns it.
func (c *cluster) converged() []string {
	c.t.Helper()
	deadline := time.Now().Add(clusterKeyReload + 2*time.Second)
	for {
		a, b := c.jwksOf(c.nodes["a"]), c.jwksOf(c.nodes["b"])
		if strings.Join(a, ",") == strings.Join(b, ",") {
			return a
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("instances publish different keys for longer than the reload interval: a %v, b %v", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctx returns a context whose oauth2 HTTP client is the cluster's (see
// instance.ctx).
func (c *cluster) ctx() context.Context {
	return contextWithClient(context.Background(), c.client)
}
