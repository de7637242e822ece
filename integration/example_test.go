package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

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
