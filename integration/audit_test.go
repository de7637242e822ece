package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditRecordJSON is one record of GET /gatehouse/audit.
type auditRecordJSON struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Result     string    `json:"result"`
	GrantType  string    `json:"grant_type"`
	ClientType string    `json:"client_type"`
	UserID     string    `json:"user_id"`
	ClientID   string    `json:"client_id"`
	GrantID    string    `json:"grant_id"`
	Scope      string    `json:"scope"`
	ClientIP   string    `json:"client_ip"`
}

type auditPageJSON struct {
	Records []auditRecordJSON `json:"records"`
	Next    string            `json:"next"`
}

func (ai *adminInstance) audit(t *testing.T, query url.Values) auditPageJSON {
	t.Helper()
	r := ai.api(t, http.MethodGet, "/gatehouse/audit?"+query.Encode(), nil)
	var page auditPageJSON
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
		t.Fatalf("GET /gatehouse/audit?%s: %d %s", query.Encode(), r.status, r.body)
	}
	return page
}

// TestAdminAudit: after a flow through a real Caddy, the audit records
// kept in the store are on the admin endpoint, filtered and paged, and in
// the CLI's table and JSON, without a credential.
func TestAdminAudit(t *testing.T) {
	ai := startAdmin(t)
	start := time.Now().Add(-time.Second)
	b := ai.newBrowser()
	tok := ai.tokensFor(t, b, demoWeb, "openid", "offline_access")
	if st := ai.revoke(t, demoWeb, tok.RefreshToken); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	created := ai.createClient(t, map[string]any{"name": "Audited", "type": "third_party", "redirect_uris": []string{"https://app.example/cb"}})
	const carolPassword = "carol-audited-password-42"
	res := ai.api(t, http.MethodPost, "/gatehouse/users", map[string]any{"username": "carol", "password": carolPassword})
	if res.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", res.status, res.body)
	}
	carol := res.user(t)
	if r := ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/sessions/revoke", nil); r.status != http.StatusOK {
		t.Fatalf("revoke sessions: %d %s", r.status, r.body)
	}

	// Records reach the store a moment after their events, in order: a
	// bounded wait for the last one.
	for i := 0; ; i++ {
		last := ai.audit(t, url.Values{"type": {"user"}, "user": {carol.ID}, "limit": {"1"}})
		if len(last.Records) == 1 && last.Records[0].Result == "sessions_revoked" || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	revoked := ai.audit(t, url.Values{"type": {"token_revoked"}})
	if len(revoked.Records) != 1 || revoked.Records[0].Result != "refresh_token" || revoked.Records[0].ClientID != demoWeb.id {
		t.Fatalf("token_revoked records: %+v", revoked.Records)
	}
	user := revoked.Records[0].UserID
	if user == "" {
		t.Fatal("the revocation record names no user")
	}

	issued := ai.audit(t, url.Values{"type": {"token_issued"}, "user": {user}, "client": {demoWeb.id}})
	if len(issued.Records) != 1 {
		t.Fatalf("token_issued records: %+v", issued.Records)
	}
	if r := issued.Records[0]; r.GrantType != "authorization_code" || r.GrantID == "" || !strings.Contains(r.Scope, "offline_access") ||
		r.Time.Before(start) || r.ClientIP == "" {
		t.Errorf("token_issued record: %+v", r)
	}
	admin := ai.audit(t, url.Values{"type": {"client_admin"}})
	if len(admin.Records) != 1 || admin.Records[0].ClientID != created.ClientID || admin.Records[0].ClientIP != "127.0.0.1" {
		t.Errorf("client_admin records: %+v", admin.Records)
	}

	// User changes made through the admin API name the user and the caller.
	var changes []string
	for _, r := range ai.audit(t, url.Values{"type": {"user"}, "user": {carol.ID}}).Records {
		changes = append(changes, r.Result)
		if r.ClientIP != "127.0.0.1" {
			t.Errorf("user record without the admin caller's address: %+v", r)
		}
	}
	if want := []string{"sessions_revoked", "created"}; !slices.Equal(changes, want) {
		t.Errorf("user records %q, want %q", changes, want)
	}

	// Pages of one walk every record once, newest first, and end.
	all := ai.audit(t, url.Values{"limit": {"1000"}})
	var walked []string
	after := ""
	for range len(all.Records) + 1 {
		q := url.Values{"limit": {"2"}}
		if after != "" {
			q.Set("after", after)
		}
		page := ai.audit(t, q)
		for _, r := range page.Records {
			walked = append(walked, r.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(walked) != len(all.Records) || len(walked) < 5 {
		t.Fatalf("paging gave %d records, one page of all %d", len(walked), len(all.Records))
	}
	for i, r := range all.Records {
		if walked[i] != r.ID {
			t.Fatalf("record %d: paging gave %s, the full page %s", i, walked[i], r.ID)
		}
		if i > 0 && r.Time.After(all.Records[i-1].Time) {
			t.Errorf("record %d is newer than the one before it", i)
		}
	}
	if future := ai.audit(t, url.Values{"since": {time.Now().Add(time.Hour).Format(time.RFC3339)}}); len(future.Records) != 0 {
		t.Errorf("records since an hour from now: %+v", future.Records)
	}

	// Nothing stored carries a credential.
	raw := ai.api(t, http.MethodGet, "/gatehouse/audit?limit=1000", nil).body
	for _, c := range []string{alicePassword, carolPassword, demoWeb.secret, tok.AccessToken, tok.RefreshToken, tok.IDToken, created.ClientSecret} {
		if c != "" && strings.Contains(string(raw), c) {
			t.Errorf("the audit records carry a credential")
		}
	}

	for _, bad := range []string{"limit=0", "limit=1001", "since=yesterday", "usr=alice", "user=a&user=b"} {
		ai.api(t, http.MethodGet, "/gatehouse/audit?"+bad, nil).errorIs(t, bad, http.StatusBadRequest, "invalid_request", "")
	}
	ai.api(t, http.MethodPost, "/gatehouse/audit", nil).errorIs(t, "POST", http.StatusMethodNotAllowed, "invalid_request", "")

	// The CLI: a table, and the API's JSON.
	out := mustCLI(t, "audit", "--address", ai.addr, "--type", "token_revoked")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") ||
		!strings.Contains(lines[1], "token_revoked") || !strings.Contains(lines[1], demoWeb.id) || !strings.Contains(lines[1], user) {
		t.Errorf("audit table:\n%s", out)
	}
	out = mustCLI(t, "audit", "--address", ai.addr, "--limit", "1")
	if !strings.Contains(out, "More records: --after "+all.Records[0].ID) {
		t.Errorf("a full page does not name the next one:\n%s", out)
	}
	var page auditPageJSON
	out = mustCLI(t, "audit", "--address", ai.addr, "--json", "--client", created.ClientID)
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Records) != 1 || page.Records[0].Event != "client_admin" {
		t.Errorf("audit --json: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "audit", "--address", ai.addr, "--since", "nope"); err == nil || !strings.Contains(fmt.Sprint(err), "since") {
		t.Errorf("audit --since nope: %v", err)
	}
}
