package integration

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// userJSON is a user as the admin API returns it.
type userJSON struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Name          string     `json:"name"`
	Groups        []string   `json:"groups"`
	Disabled      bool       `json:"disabled"`
	HasPassword   bool       `json:"has_password"`
	Static        bool       `json:"static"`
	CreatedAt     *time.Time `json:"created_at"`
	LastLoginAt   *time.Time `json:"last_login_at"`
}

func (r apiResult) user(t *testing.T) userJSON {
	t.Helper()
	var u userJSON
	if r.status/100 != 2 || json.Unmarshal(r.body, &u) != nil {
		t.Fatalf("not a user: HTTP %d %s", r.status, r.body)
	}
	return u
}

// fieldIs checks a refused request's status, code and field.
func (r apiResult) fieldIs(t *testing.T, what string, status int, code, field string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Field       string `json:"field"`
	}
	_ = json.Unmarshal(r.body, &e)
	if r.status != status || e.Error != code || e.Field != field || !strings.HasPrefix(e.Description, field+": ") {
		t.Errorf("%s: HTTP %d %s", what, r.status, r.body)
		t.Errorf("%s: want HTTP %d %s naming %q", what, status, code, field)
	}
}

const carolPassword = "carol-long-passphrase-7"

// TestAdminUsersManage: an operator creates, lists, changes, disables and
// deletes users through Caddy's admin endpoint; every refused value is
// named; the created user signs in at the gate, and revoking their
// sessions or disabling them shuts the gate within the poll interval.
func TestAdminUsersManage(t *testing.T) {
	ai := startAdmin(t, "revocation_poll_interval 1s")
	const bound = time.Second

	valid := map[string]any{"username": "carol", "email": "carol@example.com", "name": "Carol Example",
		"groups": []string{"staff", "finance"}, "password": carolPassword}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range valid {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	refused := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"username of the wrong type", with("username", 5), 400, "invalid_request", "username"},
		{"username missing", with("username", nil), 400, "invalid_request", "username"},
		{"username with @", with("username", "carol@example.com"), 400, "invalid_request", "username"},
		{"bad email", with("email", "carol"), 400, "invalid_request", "email"},
		{"email_verified not a boolean", with("email_verified", "yes"), 400, "invalid_request", "email_verified"},
		{"name with a control character", with("name", "Carol\u0007"), 400, "invalid_request", "name"},
		{"groups not an array", with("groups", "staff"), 400, "invalid_request", "groups"},
		{"empty group", with("groups", []string{"staff", ""}), 400, "invalid_request", "groups[1]"},
		{"short password", with("password", "short"), 400, "invalid_request", "password"},
		{"common password", with("password", "1qaz2wsx3edc"), 400, "invalid_request", "password"},
		{"password too long", with("password", strings.Repeat("x", 257)), 400, "invalid_request", "password"},
		{"unknown field", with("role", "admin"), 400, "invalid_request", "role"},
		{"username of a configured user", with("username", "ALICE"), 409, "conflict", "username"},
		{"email of a configured user", with("email", "alice@example.com"), 409, "conflict", "email"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			ai.api(t, http.MethodPost, "/gatehouse/users", tc.body).fieldIs(t, tc.name, tc.status, tc.code, tc.field)
		})
	}
	ai.api(t, http.MethodPost, "/gatehouse/users", "[1]").errorIs(t, "not an object", 400, "invalid_request", "the request body must be a JSON object")
	res := call(t, http.DefaultClient, http.MethodPost, ai.admin+"/gatehouse/users", "{}", map[string]string{"Content-Type": "text/plain"})
	res.errorIs(t, "not JSON", 415, "invalid_request", "")

	res = ai.api(t, http.MethodPost, "/gatehouse/users", valid)
	if res.status != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", res.status, res.body)
	}
	carol := res.user(t)
	if !strings.HasPrefix(carol.ID, "usr_") || carol.Username != "carol" || !carol.HasPassword || carol.Static || carol.CreatedAt == nil ||
		!slices.Equal(carol.Groups, []string{"staff", "finance"}) || res.header.Get("Location") != "/gatehouse/users/"+carol.ID {
		t.Errorf("created %+v, Location %q", carol, res.header.Get("Location"))
	}
	if strings.Contains(string(res.body), carolPassword) || strings.Contains(string(res.body), "argon2") {
		t.Error("the answer carries the password or its hash")
	}
	ai.api(t, http.MethodPost, "/gatehouse/users", with("username", "CAROL")).fieldIs(t, "same username", 409, "conflict", "username")
	dave := ai.api(t, http.MethodPost, "/gatehouse/users", map[string]any{"username": "dave", "groups": []string{"ops"}}).user(t)
	if dave.HasPassword {
		t.Error("a user created without a password has one")
	}

	// Lists: pages in id order, prefix filters.
	var page struct {
		Users []userJSON `json:"users"`
		Next  string     `json:"next"`
	}
	mustJSONBody(t, ai.api(t, http.MethodGet, "/gatehouse/users?limit=1", nil), &page)
	if len(page.Users) != 1 || page.Next == "" {
		t.Fatalf("first page: %+v", page)
	}
	first := page.Users[0].ID
	mustJSONBody(t, ai.api(t, http.MethodGet, "/gatehouse/users?limit=1&after="+page.Next, nil), &page)
	if len(page.Users) != 1 || page.Users[0].ID == first || page.Next != "" {
		t.Fatalf("second page: %+v", page)
	}
	for query, want := range map[string]string{"username=CA": "carol", "group=fin": "carol", "email=carol@": "carol", "group=op": "dave"} {
		mustJSONBody(t, ai.api(t, http.MethodGet, "/gatehouse/users?"+query, nil), &page)
		if len(page.Users) != 1 || page.Users[0].Username != want {
			t.Errorf("?%s: %+v, want %s", query, page.Users, want)
		}
	}
	ai.api(t, http.MethodGet, "/gatehouse/users?limit=0", nil).fieldIs(t, "limit 0", 400, "invalid_request", "limit")
	ai.api(t, http.MethodGet, "/gatehouse/users?role=x", nil).fieldIs(t, "unknown filter", 400, "invalid_request", "role")

	// Configured users are shown, read-only.
	alice := ai.api(t, http.MethodGet, "/gatehouse/users/alice", nil).user(t)
	if !alice.Static || alice.Email != "alice@example.com" {
		t.Errorf("alice = %+v", alice)
	}
	ai.api(t, http.MethodPatch, "/gatehouse/users/alice", map[string]any{"name": "A"}).errorIs(t, "PATCH alice", 409, "static_user", "")
	ai.api(t, http.MethodGet, "/gatehouse/users/usr_nobody", nil).errorIs(t, "unknown user", 404, "not_found", "")
	ai.api(t, http.MethodPut, "/gatehouse/users/"+carol.ID, valid).errorIs(t, "PUT", 405, "invalid_request", "")

	// Changes.
	changed := ai.api(t, http.MethodPatch, "/gatehouse/users/"+carol.ID, map[string]any{"name": "Carol C.", "email_verified": true}).user(t)
	if changed.Name != "Carol C." || !changed.EmailVerified || changed.Username != "carol" {
		t.Errorf("after PATCH: %+v", changed)
	}
	ai.api(t, http.MethodPatch, "/gatehouse/users/"+carol.ID, map[string]any{"password": "x"}).fieldIs(t, "PATCH password", 400, "invalid_request", "password")
	ai.api(t, http.MethodPatch, "/gatehouse/users/"+dave.ID, map[string]any{"username": "Carol"}).fieldIs(t, "PATCH to a taken name", 409, "conflict", "username")

	// Carol signs in at the gate; revoking her sessions shuts it.
	password := carolPassword
	gateIn := func() *browser {
		t.Helper()
		b := ai.newBrowser()
		b.username, b.password = "carol", password
		if p := b.authorize(ai.gate+"/", "").last; p.status != http.StatusOK || !strings.Contains(p.body, "X-Gatehouse-User-Id") {
			t.Fatalf("carol at the gate: %d %s", p.status, p.body)
		}
		return b
	}
	waitGateShut := func(what string, b *browser) {
		t.Helper()
		start := time.Now()
		for {
			resp := ai.request(t, http.MethodGet, ai.gate+"/", nil, map[string]string{"Accept": "application/json", "Cookie": cookieHeader(b, ai.gate)})
			if resp.StatusCode == http.StatusUnauthorized {
				t.Logf("%s: the gate refused the session after %v", what, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > bound+3*time.Second {
				t.Fatalf("%s: the gate still admits the session after %v", what, time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b := gateIn()
	var revoked map[string]int
	mustJSONBody(t, ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/sessions/revoke", nil), &revoked)
	if revoked["sessions_revoked"] < 1 || revoked["grants_revoked"] < 1 {
		t.Errorf("sessions/revoke = %v", revoked)
	}
	waitGateShut("sessions revoked", b)
	if ai.signedIn(t, b) {
		t.Error("carol is still signed in at the issuer")
	}

	b = gateIn()
	if u := ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/disable", nil).user(t); !u.Disabled || u.LastLoginAt == nil {
		t.Errorf("after disable: %+v", u)
	}
	waitGateShut("disabled", b)
	nb := ai.newBrowser()
	if got := nb.tryLogin(ai.loginPage(t, nb), "carol", carolPassword); got.status != http.StatusUnauthorized {
		t.Errorf("a disabled user's sign-in: %d %s", got.status, got.message)
	}
	ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/enable", nil).user(t)

	// A new password ends the sessions; only it works afterwards.
	b = gateIn()
	ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/password", map[string]any{"password": "short"}).fieldIs(t, "weak password", 400, "invalid_request", "password")
	if res := ai.api(t, http.MethodPost, "/gatehouse/users/"+carol.ID+"/password", map[string]any{"password": carolPassword + "-new"}); res.status != http.StatusNoContent {
		t.Fatalf("set password: %d %s", res.status, res.body)
	}
	waitGateShut("password set", b)
	lb := ai.newBrowser()
	if got := lb.tryLogin(ai.loginPage(t, lb), "carol", carolPassword); got.status != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", got.status)
	}
	if got := lb.tryLogin(ai.loginPage(t, lb), "carol@example.com", carolPassword+"-new"); got.status/100 != 3 && got.status != 200 || got.message != "" {
		t.Errorf("the new password: %d %q", got.status, got.message)
	}
	password = carolPassword + "-new"

	// Links to choose a password.
	var link struct {
		Link, Token string
		ExpiresAt   time.Time `json:"expires_at"`
	}
	mustJSONBody(t, ai.api(t, http.MethodPost, "/gatehouse/users/"+dave.ID+"/invite", nil), &link)
	if !strings.HasPrefix(link.Link, ai.issuer+"/account/choose-password?token=gh_inv_") || !strings.HasPrefix(link.Token, "gh_inv_") ||
		time.Until(link.ExpiresAt) < 23*time.Hour {
		t.Errorf("invite = %+v", link)
	}
	mustJSONBody(t, ai.api(t, http.MethodPost, "/gatehouse/users/"+dave.ID+"/reset-link", nil), &link)
	if !strings.HasPrefix(link.Token, "gh_pwr_") {
		t.Errorf("reset link = %+v", link)
	}

	// Deleting ends everything; the user is gone.
	b = gateIn()
	if res := ai.api(t, http.MethodDelete, "/gatehouse/users/"+carol.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	waitGateShut("deleted", b)
	ai.api(t, http.MethodGet, "/gatehouse/users/"+carol.ID, nil).errorIs(t, "deleted user", 404, "not_found", "")
	ai.api(t, http.MethodDelete, "/gatehouse/users/"+carol.ID, nil).errorIs(t, "deleted again", 404, "not_found", "")
	// The connected-apps routes still answer beside the new ones.
	if res := ai.api(t, http.MethodGet, "/gatehouse/users/alice/apps", nil); res.status != http.StatusOK {
		t.Errorf("alice's apps: %d %s", res.status, res.body)
	}
}
