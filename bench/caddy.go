package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// One Caddy, a child process of this program running this program's own
// Caddy (standard modules and Gatehouse), pinned to one core with
// GOMAXPROCS=1 when the machine has two or more and taskset is there.

const (
	benchUser      = "bench"
	benchPassword  = "bench-password-7c1e"
	benchClient    = "bench-web"
	benchES256     = "bench-es"
	benchSecret    = "bench-secret-5b7d0f3e9a1c"
	benchRedirect  = "http://127.0.0.1/callback"
	tokenCacheSize = 16384 // more than the 10,001 tokens used, so none is evicted
)

// ports of one Caddy's sites.
type ports struct {
	issuer, plain, gate, forwardAuth int
}

func (p ports) issuerURL() string  { return fmt.Sprintf("http://localhost:%d", p.issuer) }
func (p ports) plainURL() string   { return fmt.Sprintf("http://127.0.0.1:%d", p.plain) }
func (p ports) gateURL() string    { return fmt.Sprintf("http://127.0.0.1:%d", p.gate) }
func (p ports) forwardURL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.forwardAuth) }

// caddyConfig is what one Caddy serves.
type caddyConfig struct {
	dir          string
	ports        ports
	upstream     string // host:port
	authService  string // host:port
	passwordHash string // the bench user's, at full cost
	postgres     *pgTarget
	adminPort    int // 0: admin off; else its pprof endpoints are served there
}

func (c caddyConfig) caddyfile() string {
	secretHash := sha256.Sum256([]byte(benchSecret))
	storage := fmt.Sprintf("storage sqlite %q", filepath.Join(c.dir, "gatehouse.db"))
	if c.postgres != nil {
		// Shared storage needs a key encryption key; any will do here.
		storage = fmt.Sprintf("storage postgres {\n\t\t\tdsn %q\n\t\t\tschema %s\n\t\t\tmax_conns 16\n\t\t}\n\t\tkey_encryption_key %s",
			c.postgres.dsn, c.postgres.schema, hex.EncodeToString(randomBytes(32)))
	}
	var b strings.Builder
	admin := "admin off"
	if c.adminPort != 0 {
		admin = fmt.Sprintf("admin 127.0.0.1:%d", c.adminPort)
	}
	fmt.Fprintf(&b, `{
	%s
	default_bind 127.0.0.1
	storage file_system %q
	persist_config off
	log {
		level ERROR
	}
	gatehouse {
		issuer %s
		%s
		user %s {
			email bench@example.com
			email_verified
			name "Bench User"
			groups staff admins
			password_hash %s
		}
		client %s {
			type first_party
			secret_hash sha256:%s
			redirect_uris %s
			bypass_consent_for_offline_access
		}
		client %s {
			type first_party
			secret_hash sha256:%[8]s
			redirect_uris %[9]s
			id_token_signed_response_alg ES256
			bypass_consent_for_offline_access
		}
	}
}

%[3]s {
	authserver
}
`, admin, filepath.Join(c.dir, "caddy"), c.ports.issuerURL(), storage, benchUser, c.passwordHash,
		benchClient, hex.EncodeToString(secretHash[:]), benchRedirect, benchES256)
	fmt.Fprintf(&b, `
%[1]s {
	reverse_proxy %[2]s
}

%[3]s {
	authgate {
		token_cache_size %[4]d
		session_cache_size %[4]d
	}
	reverse_proxy %[2]s
}

%[5]s {
	forward_auth %[6]s {
		uri /check
		copy_headers X-User
	}
	reverse_proxy %[2]s
}
`, c.ports.plainURL(), c.upstream, c.ports.gateURL(), tokenCacheSize, c.ports.forwardURL(), c.authService)
	return b.String()
}

// child is a running Caddy.
type child struct {
	cmd    *exec.Cmd
	pinned bool
	log    *bytes.Buffer
}

// canPin reports whether children can be pinned to core 0 (and this
// process kept off it).
func canPin() bool {
	if runtime.NumCPU() < 2 {
		return false
	}
	_, err := exec.LookPath("taskset")
	return err == nil
}

// pinSelf keeps this process (the load generator, upstream and auth
// service) off core 0, best effort.
func pinSelf() {
	if !canPin() {
		return
	}
	cores := fmt.Sprintf("1-%d", runtime.NumCPU()-1)
	_ = exec.Command("taskset", "-a", "-p", "-c", cores, strconv.Itoa(os.Getpid())).Run()
}

// startChild runs this program in a child mode (args after the mode
// flag), pinned to core 0 with GOMAXPROCS=1 when possible.
func startChild(args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &child{log: new(bytes.Buffer), pinned: canPin()}
	if c.pinned {
		c.cmd = exec.Command("taskset", append([]string{"-c", "0", exe}, args...)...)
	} else {
		c.cmd = exec.Command(exe, args...)
	}
	c.cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// startCaddy writes cfg's Caddyfile and runs Caddy on it, waiting until
// the issuer answers.
func startCaddy(cfg caddyConfig) (*child, error) {
	if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg.caddyfile()), 0o600); err != nil {
		return nil, err
	}
	c, err := startChild("-child-caddy", path, "-child-dir", cfg.dir)
	if err != nil {
		return nil, err
	}
	client := newClient(1, nil)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(cfg.ports.issuerURL() + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if c.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("caddy did not come up: %s", tail(c.log.String(), 2000))
}

// stop ends the child and waits for it.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// rssMiB is the child's resident set size. With taskset in between,
// the Caddy process is taskset's (exec'd) image, same pid.
func (c *child) rssMiB() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// settledRSSMiB is the child's resident size after it has collected
// garbage and returned free memory to the OS (SIGUSR1).
func (c *child) settledRSSMiB() float64 {
	_ = c.cmd.Process.Signal(syscall.SIGUSR1)
	time.Sleep(500 * time.Millisecond)
	return c.rssMiB()
}

// cpuSeconds is the child's user+system CPU time so far.
func (c *child) cpuSeconds() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// freePorts returns n free loopback ports.
func freePorts(n int) ([]int, error) {
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
