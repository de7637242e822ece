package authserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestUserEvents: changes to stored users reach the observers as user
// events, with the user's id, the client address the host put in the
// context (the admin API caller's), and never the password.
func TestUserEvents(t *testing.T) {
	log := &eventLog{}
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.Observers = []authserver.Observer{log} }})
	ctx := authserver.WithClientIP(t.Context(), "198.51.100.7")
	const password, next = "a-long-enough-password-1", "another-long-password-2"

	u, err := f.Accounts.Create(ctx, accounts.NewUser{Username: "carol", Email: "carol@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"set password", func() error { return f.Accounts.SetPassword(ctx, u.ID, next) }, []string{"password_changed", "sessions_revoked"}},
		{"disable", func() error { return f.Accounts.SetDisabled(ctx, u.ID, true) }, []string{"disabled"}},
		{"enable", func() error { return f.Accounts.SetDisabled(ctx, u.ID, false) }, []string{"enabled"}},
		{"revoke sessions", func() error { _, _, err := f.Accounts.RevokeSessions(ctx, u.ID, "", "admin"); return err }, []string{"sessions_revoked"}},
		{"delete", func() error { return f.Accounts.Delete(ctx, u.ID) }, []string{"deleted"}},
	}
	_, created := log.take()
	if len(created) != 1 || created[0].Type != authserver.EventUser || created[0].Result != "created" || created[0].Username != "carol" {
		t.Fatalf("create: events %+v", created)
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		_, all := log.take()
		var got []string
		for _, e := range all {
			got = append(got, e.Result)
			if e.Type != authserver.EventUser || e.Subject != u.ID || e.ClientIP != "198.51.100.7" {
				t.Errorf("%s: event %+v", step.name, e)
			}
			if text := fmt.Sprintf("%+v", e); strings.Contains(text, password) || strings.Contains(text, next) {
				t.Errorf("%s: event carries a password: %s", step.name, text)
			}
		}
		if !slices.Equal(got, step.want) {
			t.Errorf("%s: results %q, want %q", step.name, got, step.want)
		}
	}
}
