package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestClientsCLI: the same round trip as the admin API test, through
// `caddy gatehouse clients`.
func TestClientsCLI(t *testing.T) {
	ai := startAdmin(t)
	addr := "--address=" + ai.addr

	// create, as a table: the secret is shown with a warning.
	out := mustCLI(t, "clients", "create", addr, "--name", "CLI App", "--type", "third_party",
		"--redirect-uri", "http://127.0.0.1/callback", "--redirect-uri", "https://cli.example/cb,with,commas",
		"--scope", "openid", "--scope", "email", "--access-token-lifetime", "20m", "--description", "Made by the CLI")
	id := tableValue(t, out, "client_id")
	secret := tableValue(t, out, "client_secret")
	if !strings.HasPrefix(id, "gh_client_") || !strings.HasPrefix(secret, "gh_cs_") || !strings.Contains(secret, "shown only now") {
		t.Fatalf("create output:\n%s", out)
	}
	if tableValue(t, out, "redirect_uris") != "http://127.0.0.1/callback https://cli.example/cb,with,commas" ||
		tableValue(t, out, "access_token_lifetime") != "20m" || tableValue(t, out, "source") != "api" {
		t.Errorf("create output:\n%s", out)
	}

	// get --json matches the admin API.
	out = mustCLI(t, "clients", "get", id, addr, "--json")
	var c clientJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("get --json: %v\n%s", err, out)
	}
	if api := ai.api(t, http.MethodGet, "/gatehouse/clients/"+id, nil).client(t); fmt.Sprint(c) != fmt.Sprint(api) || c.Name != "CLI App" {
		t.Errorf("get --json = %+v, admin API = %+v", c, api)
	}

	// list: a table with the static clients first; CADDY_ADMIN is honoured.
	t.Setenv("CADDY_ADMIN", ai.addr)
	out = mustCLI(t, "clients", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+len(staticIDs)+1 || !strings.HasPrefix(lines[0], "CLIENT_ID") ||
		!strings.Contains(lines[1], "demo-cli") || !strings.Contains(lines[1], "static") ||
		!strings.HasPrefix(lines[5], id) || !strings.Contains(lines[5], "third_party") {
		t.Errorf("list:\n%s", out)
	}
	out = mustCLI(t, "clients", "list", "--limit", "2")
	if !strings.Contains(out, "More clients follow: --after demo-internal") {
		t.Errorf("list --limit 2:\n%s", out)
	}
	out = mustCLI(t, "clients", "list", "--limit", "2", "--all", "--json")
	var page struct {
		Clients []clientJSON `json:"clients"`
		Next    string       `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Clients) != len(staticIDs)+1 || page.Next != "" {
		t.Errorf("list --all --json: %v\n%s", err, out)
	}

	// update: only the given fields; an empty list flag clears the list.
	out = mustCLI(t, "clients", "update", id, "--name", "Renamed", "--scope", "")
	if tableValue(t, out, "name") != "Renamed" || tableValue(t, out, "scopes") != "(all supported)" ||
		tableValue(t, out, "access_token_lifetime") != "20m" {
		t.Errorf("update:\n%s", out)
	}
	if _, err := runCLI(t, "clients", "update", id); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("update without fields: %v", err)
	}
	_, err := runCLI(t, "clients", "update", id, "--access-token-lifetime", "1s")
	if err == nil || !strings.Contains(err.Error(), "invalid_client_metadata: access_token_lifetime:") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("invalid update: %v", err)
	}
	if _, err := runCLI(t, "clients", "update", "demo-web", "--name", "x"); err == nil || !strings.Contains(err.Error(), "static_client") {
		t.Errorf("update of a static client: %v", err)
	}

	// rotate-secret start | complete | cancel.
	out = mustCLI(t, "clients", "rotate-secret", "start", id, "--json")
	var started clientJSON
	if err := json.Unmarshal([]byte(out), &started); err != nil || !strings.HasPrefix(started.ClientSecret, "gh_cs_") ||
		started.ClientSecret == strings.Fields(secret)[0] || !started.SecretRotationPending {
		t.Fatalf("rotate-secret start: %v\n%s", err, out)
	}
	out = mustCLI(t, "clients", "rotate-secret", "complete", id)
	if tableValue(t, out, "secret_rotation_pending") != "false" {
		t.Errorf("rotate-secret complete:\n%s", out)
	}
	if _, err := runCLI(t, "clients", "rotate-secret", "cancel", id); err == nil || !strings.Contains(err.Error(), "HTTP 409") {
		t.Errorf("cancel without a rotation: %v", err)
	}
	if _, err := runCLI(t, "clients", "rotate-secret", "restart", id); err == nil {
		t.Error("rotate-secret accepted an unknown phase")
	}

	// delete, then it is gone.
	if out := mustCLI(t, "clients", "delete", id); !strings.Contains(out, "Deleted") {
		t.Errorf("delete: %s", out)
	}
	if _, err := runCLI(t, "clients", "get", id); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("get after delete: %v", err)
	}

	// An unreachable admin endpoint is a clear error.
	if _, err := runCLI(t, "clients", "list", "--address", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "admin API") {
		t.Errorf("unreachable admin API: %v", err)
	}
}
