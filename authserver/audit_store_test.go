package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// TestAuditStore: with AuditRetention set, Run keeps every event of a flow
// in the store, in order, with the event's time and no credential, and
// AuditRecords filters them.
func TestAuditStore(t *testing.T) {
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.AuditRetention = authserver.DefaultAuditRetention }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); f.Server.Run(ctx) }()

	client := ast.ThirdPartyPublic
	b := f.NewBrowser(t)
	b.Password = "wrong-password-1234"
	b.Login(b.Follow(b.Get("/account/apps")))
	b.Password = ast.Password
	code := b.Code(f.AuthorizeQuery(client, "openid offline_access"))
	tok := f.Exchange(t, client, code)
	next := f.Refresh(t, client, tok.RefreshToken)
	secrets := []string{"wrong-password-1234", ast.Password, code, tok.AccessToken, tok.RefreshToken, tok.IDToken, next.AccessToken, next.RefreshToken}

	// Run writes what is queued before it returns.
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	all, err := f.Server.AuditRecords(t.Context(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range slices.Backward(all) {
		got = append(got, r.Type+"/"+r.Result+r.GrantType)
		if !r.Time.Equal(f.Clock.Now().Truncate(time.Millisecond)) {
			t.Errorf("record %d: time %v, want the server clock's %v", i, r.Time, f.Clock.Now())
		}
		text := fmt.Sprintf("%+v", r)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("record %s carries a credential", text)
			}
		}
	}
	want := []string{
		"login/failure", "authorization/login_page", "login/success", "authorization/consent_page",
		"consent/granted", "authorization/code_issued", "token_issued/authorization_code", "token_issued/refresh_token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored events %q, want %q", got, want)
	}

	subject := all[0].Subject
	if subject == "" || all[0].ClientID != client || all[0].GrantID == "" {
		t.Errorf("the refresh record lacks identifiers: %+v", all[0])
	}
	count := func(keep func(store.AuditRecord) bool) int {
		n := 0
		for _, r := range all {
			if keep(r) {
				n++
			}
		}
		return n
	}
	// The flow's token, consent and code records name both the user and
	// the app; the failed sign-in names neither.
	bySubject := count(func(r store.AuditRecord) bool { return r.Subject == subject })
	byClient := count(func(r store.AuditRecord) bool { return r.ClientID == client })
	if bySubject < 4 || byClient < 4 || bySubject == len(all) || byClient == len(all) {
		t.Errorf("records of the user %d, of the app %d, of %d", bySubject, byClient, len(all))
	}
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want int
	}{
		{"by type", store.AuditQuery{Type: "token_issued"}, 2},
		{"by user", store.AuditQuery{Subject: subject}, bySubject},
		{"by client", store.AuditQuery{ClientID: client}, byClient},
		{"page after the newest", store.AuditQuery{After: all[0].ID}, len(all) - 1},
		{"before the flow", store.AuditQuery{Until: f.Clock.Now().Add(-time.Second)}, 0},
	} {
		tc.q.Limit = 100
		page, err := f.Server.AuditRecords(t.Context(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, len(page), tc.want)
		}
	}
}

// TestAuditNotKept: without AuditRetention nothing is kept, and
// AuditRecords says so.
func TestAuditNotKept(t *testing.T) {
	f := ast.New(t, ast.Options{})
	if _, err := f.Server.AuditRecords(t.Context(), store.AuditQuery{Limit: 1}); !errors.Is(err, authserver.ErrAuditNotKept) {
		t.Errorf("AuditRecords: %v, want ErrAuditNotKept", err)
	}
}
