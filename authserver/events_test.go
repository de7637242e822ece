package authserver_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// eventLog records the events a server emits.
type eventLog struct {
	mu     sync.Mutex
	events []authserver.Event
}

func (l *eventLog) Observe(_ context.Context, e authserver.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events recorded since the last take, as
// "type/result" (or type/grant/client type, type/kind) strings.
func (l *eventLog) take() (names []string, all []authserver.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all, l.events = l.events, nil
	for _, e := range all {
		name := string(e.Type)
		for _, part := range []string{e.Result, e.GrantType, e.ClientType, e.Kind} {
			if part != "" {
				name += "/" + part
			}
		}
		names = append(names, name)
	}
	return names, all
}

// TestEvents: each step of a flow emits exactly the events documented in
// events.go, and no event carries a password, code or token.
func TestEvents(t *testing.T) {
	log := &eventLog{}
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) { c.Observers = []authserver.Observer{log} }})
	client := ast.ThirdPartyPublic
	var secrets []string // every credential the test handles
	check := func(step string, want ...string) {
		t.Helper()
		got, all := log.take()
		if !slices.Equal(got, want) {
			t.Errorf("%s: events %q, want %q", step, got, want)
		}
		for _, e := range all {
			text := fmt.Sprintf("%+v", e)
			for _, s := range secrets {
				if s != "" && strings.Contains(text, s) {
					t.Errorf("%s: event %s carries a credential", step, text)
				}
			}
		}
	}

	b := f.NewBrowser(t)
	b.Password = "wrong-password-1234"
	secrets = append(secrets, b.Password, ast.Password)
	page := b.Follow(b.Get("/account/apps"))
	check("account page")
	res := b.Login(page)
	if res.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", res)
	}
	check("wrong password", "login/failure")

	b.Password = ast.Password
	q := f.AuthorizeQuery(client, "openid offline_access")
	res = b.Authorize(q)
	check("authorize", "authorization/login_page")
	res = b.Login(res)
	check("login", "login/success", "authorization/consent_page")
	res = b.Consent(res, "allow")
	check("consent", "consent/granted", "authorization/code_issued")
	code := res.Location().Query().Get("code")
	secrets = append(secrets, code)

	tok := f.Exchange(t, client, code)
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken, tok.IDToken)
	check("exchange", "token_issued/authorization_code/third_party_public")
	if res := f.ExchangeRequest(t, client, code, nil); res.Code != http.StatusBadRequest {
		t.Fatalf("replayed code: %s", res)
	}
	check("replay", "code_replay")

	// The replay revoked the grant: start another for the refresh steps.
	code = b.Code(q)
	secrets = append(secrets, code)
	log.take()
	tok = f.Exchange(t, client, code)
	next := f.Refresh(t, client, tok.RefreshToken)
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken, next.AccessToken, next.RefreshToken)
	check("refresh", "token_issued/authorization_code/third_party_public", "token_issued/refresh_token/third_party_public")
	if res := f.RefreshRequest(t, client, tok.RefreshToken, nil); res.Code != http.StatusBadRequest {
		t.Fatalf("reused refresh token: %s", res)
	}
	check("reuse", "refresh_token_reuse")

	b.Consent(b.Authorize(f.AuthorizeQuery(client, "openid offline_access")), "deny")
	check("deny", "authorization/consent_page", "consent/denied", "authorization/error")

	bad := f.AuthorizeQuery(client, "openid")
	bad.Set("redirect_uri", "https://elsewhere.example/cb")
	b.Authorize(bad)
	check("bad request", "authorization/error")
}
