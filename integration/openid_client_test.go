package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openid-client (panva's certified relying party library for Node,
// integration/oidcclient, installed by scripts/test.sh with npm ci from
// its lockfile) against Gatehouse: pushed authorization requests (RFC
// 9126) and the device flow (RFC 8628).

// oidcClientDir is the installed openid-client, or the test is skipped
// (failed under CI) with the reason.
func oidcClientDir(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node is not installed (needed for the openid-client test)")
	}
	if dir, err = filepath.Abs("oidcclient"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		requireOrSkip(t, "openid-client is not installed: run scripts/test.sh, or npm ci in integration/oidcclient")
	}
	return node, dir
}

// nodeRP is a running client.mjs: JSON lines out, answers in.
type nodeRP struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan map[string]any
}

func startNodeRP(t *testing.T, in *instance, args ...string) *nodeRP {
	t.Helper()
	node, dir := oidcClientDir(t)
	cmd := exec.CommandContext(t.Context(), node, append([]string{"client.mjs"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+filepath.Join(in.dir, "pki", "authorities", "local", "root.crt"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rp := &nodeRP{t: t, stdin: stdin, lines: make(chan map[string]any, 4)}
	go func() {
		defer close(rp.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				rp.lines <- v
			}
		}
	}()
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	return rp
}

// next is the client's next line; the test fails on an error line, or
// when none comes within a minute.
func (rp *nodeRP) next() map[string]any {
	rp.t.Helper()
	select {
	case v, ok := <-rp.lines:
		if !ok {
			rp.t.Fatal("openid-client exited without an answer")
		}
		if _, failed := v["error"]; failed {
			rp.t.Fatalf("openid-client: %v", v)
		}
		return v
	case <-time.After(time.Minute):
		rp.t.Fatal("openid-client gave no answer within a minute")
	}
	return nil
}

// TestOpenIDClient (issue 17, items 2 and 3): openid-client pushes its
// authorization request to /par (for an app that must), the browser signs
// in through /authorize?client_id&request_uri, and the library redeems
// the code, checking state, iss and the ID token. Then the library runs
// the device flow while a browser approves the code.
func TestOpenIDClient(t *testing.T) {
	oidcClientDir(t)
	parApp := "client " + parClientID + " {\n\t\t\ttype first_party\n\t\t\tsecret_hash " + sha256Secret(parClientSecret) +
		"\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\trequire_pushed_authorization_requests\n\t\t}"
	tv := "client " + tvClientID + " {\n\t\t\tname \"" + tvName + "\"\n\t\t\ttype third_party_public" +
		"\n\t\t\tgrant_types urn:ietf:params:oauth:grant-type:device_code refresh_token\n\t\t\tscopes openid profile offline_access\n\t\t}"
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t),
		extraGatehouse: []string{"pushed_authorization_requests", "device_authorization", parApp, tv}})

	t.Run("pushed authorization request", func(t *testing.T) {
		rp := startNodeRP(t, in, "par", in.issuer, parClientID, parClientSecret, "http://127.0.0.1:49152/callback")
		authURL, _ := rp.next()["authorization_url"].(string)
		u, err := url.Parse(authURL)
		if err != nil || !strings.HasPrefix(u.Query().Get("request_uri"), "urn:ietf:params:oauth:request_uri:") || u.Query().Has("redirect_uri") {
			t.Fatalf("authorization URL %q: the request should travel by reference only", authURL)
		}
		res := in.newBrowser().authorize(authURL, "allow")
		if res.callback == nil {
			t.Fatalf("no callback; last page %d %s", res.last.status, res.last.url)
		}
		if _, err := io.WriteString(rp.stdin, res.callback.String()+"\n"); err != nil {
			t.Fatal(err)
		}
		tokens, _ := rp.next()["tokens"].(map[string]any)
		if tokens["sub"] != "alice" || tokens["id_token"] == nil || tokens["access_token"] == nil {
			t.Errorf("tokens %v", tokens)
		}
	})
	t.Run("device flow", func(t *testing.T) {
		rp := startNodeRP(t, in, "device", in.issuer, tvClientID)
		started := rp.next()
		code, _ := started["user_code"].(string)
		complete, _ := started["verification_uri_complete"].(string)
		if code == "" || !strings.HasPrefix(complete, in.issuer+"/device?") {
			t.Fatalf("device authorization %v", started)
		}
		done := answerDevice(t, in, complete, code, "allow")
		if !strings.Contains(done.body, "Device connected") {
			t.Fatalf("allowing:\n%s", done.body)
		}
		tokens, _ := rp.next()["tokens"].(map[string]any)
		if tokens["sub"] != "alice" || tokens["refresh_token"] == nil {
			t.Errorf("tokens %v", tokens)
		}
	})
}
