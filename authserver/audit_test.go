package authserver_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAuditLog: a flow leaves one JSON record per event, with the
// documented fields, and not one credential: no password (right or
// wrong), code, access, refresh or ID token, or client secret.
func TestAuditLog(t *testing.T) {
	var buf lockedBuffer
	audit := authserver.AuditLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.Observers = []authserver.Observer{audit} }})
	client := ast.ThirdParty // confidential: its secret must not leak either

	b := f.NewBrowser(t)
	b.Password = "wrong-password-5678"
	q := f.AuthorizeQuery(client, "openid offline_access")
	if res := b.Login(b.Authorize(q)); res.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", res)
	}
	b.Password = ast.Password
	code := b.Code(q)
	tok := f.Exchange(t, client, code)
	next := f.Refresh(t, client, tok.RefreshToken)
	if res := f.ClientPost(t, "/revoke", client, url.Values{"token": {tok.RefreshToken}}); res.Code != http.StatusOK {
		t.Fatalf("revoke: %s", res)
	}
	credentials := []string{"wrong-password-5678", ast.Password, code, tok.AccessToken, tok.RefreshToken, tok.IDToken,
		next.AccessToken, next.RefreshToken, next.IDToken, f.Secret(client)}

	var msgs []string
	var records []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		if rec["msg"] != rec["event"] || rec["level"] != "INFO" {
			t.Errorf("record %v: msg and event differ, or not INFO", rec)
		}
		msgs = append(msgs, rec["msg"].(string))
		records = append(records, rec)
		for _, c := range credentials {
			if c != "" && strings.Contains(line, c) {
				t.Errorf("audit record carries a credential: %s", line)
			}
		}
	}
	want := []string{"authorization", "login", "authorization", "login", "authorization", "consent", "authorization", "token_issued", "token_issued", "token_revoked"}
	if !slices.Equal(msgs, want) {
		t.Fatalf("audit records %q, want %q", msgs, want)
	}
	for i, fields := range map[int]map[string]any{
		1: {"result": "failure", "method": "password", "username": "alice", "client_id": client},
		3: {"result": "success", "user_id": "user-alice", "username": "alice"},
		5: {"result": "granted", "user_id": "user-alice", "client_id": client, "scope": "openid offline_access"},
		8: {"grant_type": "refresh_token", "client_type": "third_party", "client_id": client},
		9: {"result": "refresh_token", "user_id": "user-alice"},
	} {
		for k, v := range fields {
			if records[i][k] != v {
				t.Errorf("record %d (%s): %s = %v, want %v", i, msgs[i], k, records[i][k], v)
			}
		}
	}
	if ip, _ := records[1]["client_ip"].(string); ip == "" {
		t.Errorf("the failed sign-in has no client_ip: %v", records[1])
	}
}
