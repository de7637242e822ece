package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
)

// healthJSON is GET /gatehouse/health's answer.
type healthJSON struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

func (h healthJSON) check(name string) (ok bool, detail string, found bool) {
	for _, c := range h.Checks {
		if c.Name == name {
			return c.OK, c.Detail, true
		}
	}
	return false, "", false
}

func getHealth(t *testing.T, admin string) (int, healthJSON) {
	t.Helper()
	r := call(t, http.DefaultClient, http.MethodGet, admin+"/gatehouse/health", nil, nil)
	var h healthJSON
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatalf("health: not JSON (%d): %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("health Cache-Control %q", cc)
	}
	return r.status, h
}

// TestHealthDuringOutage: the admin endpoint's health report is 200 with
// every check passing, 503 naming the store while PostgreSQL does not
// answer (the proxy in front of it frozen), and 200 again once it does;
// a report during the outage comes within the check's bound.
func TestHealthDuringOutage(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, net.JoinHostPort(pgCfg.Host, strconv.Itoa(int(pgCfg.Port))))
	storage := fmt.Sprintf("storage postgres {\n\t\t\tdsn %q\n\t\t\tschema %s\n\t\t\ttimeout 5s\n\t\t}", throughProxy(t, dsn, proxy.addr()), schema)
	adminPort := freePort(t)
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), adminPort: adminPort,
		extraGatehouse: []string{storage, "key_encryption_key " + strings.Repeat("cd", 32), "health_path /healthz"}})
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	// The site's probe for load balancers: status only.
	healthz := func() (int, string) {
		t.Helper()
		resp, body := in.send(t, http.MethodGet, "/healthz", "", "", "")
		return resp.StatusCode, string(body)
	}
	if st, body := healthz(); st != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while healthy: %d %q", st, body)
	}

	status, h := getHealth(t, admin)
	if status != http.StatusOK || !h.OK || len(h.Checks) != 3 {
		t.Fatalf("healthy: %d %+v", status, h)
	}
	for _, name := range []string{"store", "signing_keys", "revocation_feed"} {
		if ok, detail, found := h.check(name); !found || !ok {
			t.Errorf("check %s: found %v ok %v %q", name, found, ok, detail)
		}
	}

	proxy.freeze()
	start := time.Now()
	status, h = getHealth(t, admin)
	took := time.Since(start)
	st, body := healthz()
	proxy.restore()
	if st != http.StatusServiceUnavailable || body != "unavailable\n" {
		t.Errorf("/healthz during the outage: %d %q", st, body)
	}
	if status != http.StatusServiceUnavailable || h.OK {
		t.Errorf("store frozen: %d %+v", status, h)
	}
	if ok, detail, _ := h.check("store"); ok || detail == "" {
		t.Errorf("store check during the outage: ok %v %q", ok, detail)
	}
	if ok, _, _ := h.check("signing_keys"); !ok {
		t.Error("signing keys reported missing during a store outage (they are in memory)")
	}
	if took > 10*time.Second {
		t.Errorf("the health report took %v during the outage", took)
	}

	// Back: the pool reconnects; within a bounded number of tries the
	// report is healthy again.
	for i := 0; ; i++ {
		if status, h = getHealth(t, admin); status == http.StatusOK {
			break
		}
		if i == 20 {
			t.Fatalf("still unhealthy after the outage: %d %+v", status, h)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// keyJSON is one key of GET /gatehouse/keys.
type keyJSON struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	SignsFrom time.Time `json:"signs_from"`
	RetiresAt time.Time `json:"retires_at"`
	Signing   bool      `json:"signing"`
}

// TestAdminKeys: GET /gatehouse/keys lists one signing key per algorithm;
// POST /gatehouse/keys/rotate adds a successor per algorithm that is
// published at once (in the JWKS) but signs only after pre-publication,
// so the current keys keep signing; wrong methods are 405.
func TestAdminKeys(t *testing.T) {
	ai := startAdmin(t)
	list := func(r apiResult) []keyJSON {
		t.Helper()
		var body struct {
			Keys []keyJSON `json:"keys"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
			t.Fatalf("keys: %d %s", r.status, r.body)
		}
		return body.Keys
	}
	before := list(ai.api(t, http.MethodGet, "/gatehouse/keys", nil))
	signing := map[string]string{} // alg -> kid
	for _, k := range before {
		if k.Signing {
			if signing[k.Alg] != "" {
				t.Errorf("two signing keys for %s", k.Alg)
			}
			signing[k.Alg] = k.KID
		}
	}
	if len(signing) != 2 || signing["ES256"] == "" || signing["RS256"] == "" || len(before) != 2 {
		t.Fatalf("keys before rotation: %+v", before)
	}

	after := list(ai.api(t, http.MethodPost, "/gatehouse/keys/rotate", nil))
	if len(after) != 4 {
		t.Fatalf("keys after rotation: %+v", after)
	}
	jwks := ai.fetch(t, ai.issuer+"/jwks.json")
	for _, k := range after {
		if !strings.Contains(jwks, k.KID) {
			t.Errorf("key %s is not in the JWKS", k.KID)
		}
		isOld := signing[k.Alg] == k.KID
		switch {
		case isOld && !k.Signing:
			t.Errorf("the current %s key stopped signing at once", k.Alg)
		case !isOld && k.Signing:
			t.Errorf("the new %s key signs before its pre-publication ended", k.Alg)
		case !isOld && !k.SignsFrom.After(time.Now()):
			t.Errorf("the new %s key signs from %v", k.Alg, k.SignsFrom)
		}
	}
	// A second rotation while successors wait adds nothing.
	if again := list(ai.api(t, http.MethodPost, "/gatehouse/keys/rotate", nil)); len(again) != 4 {
		t.Errorf("a second rotation: %+v", again)
	}
	// The CLI shows the same keys.
	out := mustCLI(t, "keys", "list", "--address", ai.addr)
	for _, k := range after {
		if !strings.Contains(out, k.KID) {
			t.Errorf("keys list lacks %s:\n%s", k.KID, out)
		}
	}
	if out := mustCLI(t, "health", "--address", ai.addr); !strings.HasPrefix(strings.Join(strings.Fields(out), ""), `{"ok":true,`) {
		t.Errorf("health: %s", out)
	}
	ai.api(t, http.MethodGet, "/gatehouse/keys/rotate", nil).errorIs(t, "GET rotate", http.StatusMethodNotAllowed, "invalid_request", "")
	ai.api(t, http.MethodDelete, "/gatehouse/keys", nil).errorIs(t, "DELETE keys", http.StatusMethodNotAllowed, "invalid_request", "")
}

// TestAuditLogFile: with Caddy's own `log` block including
// gatehouse.audit, sign-ins, consents, tokens and admin actions land in
// that file as JSON records under the gatehouse.audit logger, with the
// admin caller's address, and not one credential.
func TestAuditLogFile(t *testing.T) {
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.log")
	adminPort := freePort(t)
	in := startExampleWith(t, exampleSetup{dir: dir, port: freePort(t), adminPort: adminPort, edit: func(cf string) string {
		block := fmt.Sprintf("\tlog audit {\n\t\tinclude gatehouse.audit\n\t\toutput file %q\n\t\tformat json\n\t}\n", auditFile)
		return strings.Replace(cf, "\tgatehouse {\n", block+"\tgatehouse {\n", 1)
	}})
	ai := &adminInstance{instance: in, admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort)}

	b := in.newBrowser()
	cfg := in.oauthConfig(demoWeb, "openid", "offline_access")
	p := b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	b.submit(p, map[string]string{"username": "alice", "password": "guess-1234"})
	tok := in.tokensFor(t, b, demoWeb, "openid", "offline_access")
	if st := in.revoke(t, demoWeb, tok.RefreshToken); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	created := ai.createClient(t, map[string]any{"name": "Audited", "type": "third_party", "redirect_uris": []string{"https://app.example/cb"}})
	ai.api(t, http.MethodPost, "/gatehouse/keys/rotate", nil)

	credentials := []string{"guess-1234", alicePassword, demoWeb.secret, tok.AccessToken, tok.RefreshToken, tok.IDToken, created.ClientSecret}
	want := []string{"login/failure", "login/success", "consent/granted", "token_issued/", "token_revoked/refresh_token",
		"client_admin/created", "key_rotation/started"}
	var got []string
	var records []map[string]any
	// The file is written as events happen; a bounded wait covers the
	// writer's buffering.
	for i := 0; ; i++ {
		raw, _ := os.ReadFile(auditFile)
		got, records = nil, nil
		for line := range strings.SplitSeq(strings.TrimSpace(string(raw)), "\n") {
			if line == "" {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			if rec["logger"] != "gatehouse.audit" {
				t.Errorf("record from logger %v in the audit file", rec["logger"])
			}
			for _, c := range credentials {
				if c != "" && strings.Contains(line, c) {
					t.Errorf("audit record carries a credential: %s", line)
				}
			}
			if rec["msg"] == "authorization" {
				continue // decisions of the endpoint: many, checked in the core's test
			}
			result, _ := rec["result"].(string)
			got = append(got, fmt.Sprint(rec["msg"], "/", result))
			records = append(records, rec)
		}
		if len(got) >= len(want) || i == 40 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit records %q, want %q", got, want)
	}
	if records[5]["client_id"] != created.ClientID || records[5]["client_ip"] != "127.0.0.1" {
		t.Errorf("client creation record: %v", records[5])
	}
	if records[6]["client_ip"] != "127.0.0.1" {
		t.Errorf("key rotation record without the caller's address: %v", records[6])
	}
	if records[3]["grant_type"] != "authorization_code" || records[3]["client_type"] != "third_party" || records[3]["user_id"] != nil && records[3]["user_id"] != "alice" {
		t.Errorf("token record: %v", records[3])
	}
}
