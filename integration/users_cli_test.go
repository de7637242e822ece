package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUsersCLI: the admin API's user round trip through
// `caddy gatehouse users`, by username, as tables and as JSON.
func TestUsersCLI(t *testing.T) {
	ai := startAdmin(t)
	addr := "--address=" + ai.addr
	cli := func(stdin string, args ...string) string {
		t.Helper()
		out, err := runCLIInput(t, stdin, append(args, addr)...)
		if err != nil {
			t.Fatalf("caddy gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	out := cli("", "users", "create", "dave", "--email", "dave@example.com", "--name", "Dave Example", "--group", "ops", "--group", "staff")
	daveID := tableValue(t, out, "id")
	if !strings.HasPrefix(daveID, "usr_") || tableValue(t, out, "groups") != "ops staff" || tableValue(t, out, "password") != "not set (invite them)" ||
		!strings.Contains(out, "caddy gatehouse users invite dave") {
		t.Fatalf("create dave:\n%s", out)
	}
	out = cli("erin-long-passphrase-1\n", "users", "create", "erin", "--password", "--json")
	var erin userJSON
	if err := json.Unmarshal([]byte(out), &erin); err != nil || !erin.HasPassword || erin.Username != "erin" {
		t.Fatalf("create erin --json: %v\n%s", err, out)
	}
	if _, err := runCLIInput(t, "", "users", "create", "bad@name", addr); err == nil || !strings.Contains(err.Error(), "username:") {
		t.Errorf("create with a bad username: %v", err)
	}
	if _, err := runCLIInput(t, "short\n", "users", "create", "frank", "--password", addr); err == nil || !strings.Contains(err.Error(), "password: must be at least 12") {
		t.Errorf("create with a short password: %v", err)
	}

	out = cli("", "users", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(out, "dave@example.com") || !strings.Contains(out, "erin") {
		t.Errorf("list:\n%s", out)
	}
	out = cli("", "users", "list", "--group", "op", "--json")
	var page struct {
		Users []userJSON `json:"users"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Users) != 1 || page.Users[0].ID != daveID {
		t.Errorf("list --group op --json: %v\n%s", err, out)
	}
	out = cli("", "users", "list", "--limit", "1")
	if !strings.Contains(out, "More users follow: --after ") {
		t.Errorf("list --limit 1:\n%s", out)
	}

	out = cli("", "users", "update", "DAVE", "--name", "David Example", "--email-verified")
	if tableValue(t, out, "name") != "David Example" || tableValue(t, out, "email_verified") != "true" {
		t.Errorf("update:\n%s", out)
	}
	out = cli("", "users", "get", daveID, "--json")
	var dave userJSON
	if err := json.Unmarshal([]byte(out), &dave); err != nil || dave.Name != "David Example" {
		t.Errorf("get --json: %v\n%s", err, out)
	}
	out = cli("", "users", "get", "alice")
	if tableValue(t, out, "source") != "static" {
		t.Errorf("get alice:\n%s", out)
	}

	out = cli("", "users", "invite", "dave")
	if !strings.Contains(out, ai.issuer+"/account/choose-password?token=gh_inv_") {
		t.Errorf("invite:\n%s", out)
	}
	out = cli("", "users", "reset-link", "erin")
	if !strings.Contains(out, "token=gh_pwr_") {
		t.Errorf("reset-link:\n%s", out)
	}
	if out = cli("", "users", "disable", "erin"); tableValue(t, out, "status") != "disabled" {
		t.Errorf("disable:\n%s", out)
	}
	if out = cli("", "users", "enable", "erin"); tableValue(t, out, "status") != "active" {
		t.Errorf("enable:\n%s", out)
	}
	if out = cli("erin-other-passphrase-2\n", "users", "set-password", "erin"); !strings.Contains(out, "Password set.") {
		t.Errorf("set-password:\n%s", out)
	}
	b := ai.newBrowser()
	if got := b.tryLogin(ai.loginPage(t, b), "erin", "erin-other-passphrase-2"); got.message != "" {
		t.Errorf("erin's new password: %d %q", got.status, got.message)
	}
	if out = cli("", "users", "revoke-sessions", "erin"); !strings.Contains(out, "Ended 1 sessions") {
		t.Errorf("revoke-sessions:\n%s", out)
	}
	if out = cli("", "users", "delete", "dave"); !strings.Contains(out, "Deleted.") {
		t.Errorf("delete:\n%s", out)
	}
	if _, err := runCLIInput(t, "", "users", "get", "dave", addr); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("get after delete: %v", err)
	}
}
