package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// parOnly is a confidential client whose requests must be pushed.
const (
	parOnly         = "par-only"
	parOnlySecret   = "par-only-secret-0123456789abcdef"
	parOnlyRedirect = "https://par.example/cb"
)

func parFixture(t *testing.T, enabled bool) *ast.Fixture {
	t.Helper()
	return ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: parOnly, SecretHashes: []string{clients.HashSecret(parOnlySecret)}, Metadata: clients.Metadata{
			Name: "PAR App", Type: clients.FirstParty, RedirectURIs: []string{parOnlyRedirect}, RequirePushedAuthorizationRequests: true}}},
		Secrets:   map[string]string{parOnly: parOnlySecret},
		Configure: func(c *authserver.Config) { c.PushedAuthorization = enabled },
	})
}

type parAnswer struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// push sends clientID's authorization request for scope to /par.
func push(t *testing.T, f *ast.Fixture, clientID string, edit url.Values) parAnswer {
	t.Helper()
	res := f.ClientPost(t, "/par", clientID, ast.Edit(f.AuthorizeQuery(clientID, "openid"), edit))
	if res.Code != http.StatusCreated || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/par: %s", res)
	}
	var a parAnswer
	res.JSON(&a)
	if !strings.HasPrefix(a.RequestURI, "urn:ietf:params:oauth:request_uri:") || a.ExpiresIn != 60 {
		t.Fatalf("/par answer %+v", a)
	}
	return a
}

func byReference(clientID, requestURI string) url.Values {
	return url.Values{"client_id": {clientID}, "request_uri": {requestURI}}
}

// codeFrom follows an authorization request by reference to the app's
// redirect URI and returns the code; the request's state comes back.
func codeFrom(t *testing.T, b *ast.Browser, q url.Values, redirectURI string) string {
	t.Helper()
	res := b.Authorize(q)
	loc := res.Location()
	if res.Code/100 != 3 || loc == nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		t.Fatalf("not redirected to %s: %s", redirectURI, res)
	}
	if loc.Query().Get("state") != ast.State || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	return loc.Query().Get("code")
}

// TestPAR: RFC 9126. A pushed request is used by reference once, within
// its minute, by its own client; the code it yields is redeemed as
// usual; a client that must push cannot skip /par.
func TestPAR(t *testing.T) {
	f := parFixture(t, true)
	b := f.NewBrowser(t)
	b.SignIn()

	a := push(t, f, ast.FirstParty, nil)
	code := codeFrom(t, b, byReference(ast.FirstParty, a.RequestURI), ast.FirstPartyRedirect)
	tok := f.Exchange(t, ast.FirstParty, code)
	if tok.IDToken == "" || ast.Claims(t, tok.IDToken)["nonce"] != ast.Nonce {
		t.Errorf("tokens of a pushed request: %+v", tok)
	}
	// Replayed: refused, with a page (no redirect).
	wantErrorPage(t, b.Authorize(byReference(ast.FirstParty, a.RequestURI)), 400, "invalid_request_uri")

	t.Run("another client's request_uri", func(t *testing.T) {
		a := push(t, f, ast.FirstParty, nil)
		wantErrorPage(t, b.For(t).Authorize(byReference(ast.ThirdParty, a.RequestURI)), 400, "invalid_request_uri")
		// Not used up by the wrong client.
		codeFrom(t, b.For(t), byReference(ast.FirstParty, a.RequestURI), ast.FirstPartyRedirect)
	})
	t.Run("expired", func(t *testing.T) {
		a := push(t, f, ast.FirstParty, nil)
		f.Clock.Advance(61 * time.Second)
		wantErrorPage(t, b.For(t).Authorize(byReference(ast.FirstParty, a.RequestURI)), 400, "invalid_request_uri")
	})
	t.Run("made up", func(t *testing.T) {
		for _, uri := range []string{"urn:ietf:params:oauth:request_uri:made-up", "https://evil.example/request", strings.Repeat("u", 300)} {
			wantErrorPage(t, b.For(t).Authorize(byReference(ast.FirstParty, uri)), 400, "invalid_request_uri")
		}
	})
	t.Run("public client with PKCE", func(t *testing.T) {
		a := push(t, f, ast.FirstPartyPublic, nil)
		code := codeFrom(t, b.For(t), byReference(ast.FirstPartyPublic, a.RequestURI), ast.FirstPartyPublicRedirect)
		f.Exchange(t, ast.FirstPartyPublic, code)
	})
	t.Run("a client that must push", func(t *testing.T) {
		plain := f.AuthorizeQuery(parOnly, "openid")
		wantErrorPage(t, b.For(t).Authorize(plain), 400, "invalid_request")
		a := push(t, f, parOnly, nil)
		codeFrom(t, b.For(t), byReference(parOnly, a.RequestURI), parOnlyRedirect)
	})
	t.Run("parameters beside request_uri are ignored", func(t *testing.T) {
		a := push(t, f, ast.FirstParty, nil)
		q := byReference(ast.FirstParty, a.RequestURI)
		q.Set("redirect_uri", "https://evil.example/cb")
		q.Set("state", "other")
		codeFrom(t, b.For(t), q, ast.FirstPartyRedirect)
	})
}

// TestPARRefused: /par's refusals, as JSON (RFC 9126 §2.3), none storing
// anything.
func TestPARRefused(t *testing.T) {
	f := parFixture(t, true)
	tests := []struct {
		name   string
		client string
		edit   url.Values
		status int
		code   string
	}{
		{"request_uri pushed", ast.FirstParty, query("request_uri", "urn:ietf:params:oauth:request_uri:x"), 400, "invalid_request"},
		{"request object", ast.FirstParty, query("request", "eyJ.x.y"), 400, "request_not_supported"},
		{"unregistered redirect_uri", ast.FirstParty, query("redirect_uri", "https://evil.example/cb"), 400, "invalid_request"},
		{"scope not allowed", ast.ThirdPartyPublic, query("scope", "phone"), 400, "invalid_scope"},
		{"public client without PKCE", ast.FirstPartyPublic, del("code_challenge", "code_challenge_method"), 400, "invalid_request"},
		{"bad response_type", ast.FirstParty, query("response_type", "token"), 400, "unsupported_response_type"},
		{"another client_id than the authenticated one", ast.FirstParty, query("client_id", ast.ThirdParty), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.ClientPost(t, "/par", tc.client, ast.Edit(f.AuthorizeQuery(tc.client, "openid"), tc.edit))
			wantJSONError(t, res, tc.status, tc.code)
			if strings.Contains(res.Body, "request_uri\":") {
				t.Errorf("a refused push returned a request_uri: %s", res.Body)
			}
		})
	}
	t.Run("confidential client without its secret", func(t *testing.T) {
		res := f.Serve(t, f.NewRequest(http.MethodPost, "/par", f.AuthorizeQuery(ast.FirstParty, "openid")))
		wantJSONError(t, res, 401, "invalid_client")
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := f.NewRequest(http.MethodPost, "/par", f.AuthorizeQuery(ast.FirstParty, "openid"))
		r.SetBasicAuth(ast.FirstParty, "wrong")
		wantJSONError(t, f.Serve(t, r), 401, "invalid_client")
	})
}

// TestPAROff: without the option there is no /par, request_uri is not
// supported, and discovery says nothing of PAR; with it, discovery names
// the endpoint and that the server itself does not require it.
func TestPAROff(t *testing.T) {
	off := parFixture(t, false)
	if res := off.ClientPost(t, "/par", ast.FirstParty, off.AuthorizeQuery(ast.FirstParty, "openid")); res.Code != http.StatusNotFound {
		t.Errorf("/par when off: %d", res.Code)
	}
	var m map[string]any
	off.Get(t, "/.well-known/openid-configuration").JSON(&m)
	if _, ok := m["pushed_authorization_request_endpoint"]; ok {
		t.Error("discovery advertises PAR when it is off")
	}
	if _, ok := m["require_pushed_authorization_requests"]; ok {
		t.Error("discovery says require_pushed_authorization_requests when PAR is off")
	}
	on := parFixture(t, true)
	m = nil
	on.Get(t, "/.well-known/openid-configuration").JSON(&m)
	if m["pushed_authorization_request_endpoint"] != ast.Issuer+"/par" || m["require_pushed_authorization_requests"] != false {
		t.Errorf("discovery with PAR: %v %v", m["pushed_authorization_request_endpoint"], m["require_pushed_authorization_requests"])
	}
}

// TestPARAcrossInstances: a request pushed to one instance is used at
// another that shares the store, once (the state is in the store, not in
// memory).
func TestPARAcrossInstances(t *testing.T) {
	f := parFixture(t, true)
	other, err := authserver.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	a := push(t, f, ast.FirstParty, nil)
	first := f.NewBrowser(t)
	first.SignIn()
	// The same browser's cookies, at the second instance.
	req := f.NewRequest(http.MethodGet, "/authorize?"+byReference(ast.FirstParty, a.RequestURI).Encode(), nil)
	for _, name := range []string{"gatehouse_session", "__Host-gatehouse_session"} {
		if c := first.Cookie(name); c != nil {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, req)
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if rec.Code/100 != 3 || loc == nil || !strings.HasPrefix(loc.String(), ast.FirstPartyRedirect+"?") || loc.Query().Get("code") == "" {
		t.Fatalf("the second instance did not serve the pushed request: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	wantErrorPage(t, first.Authorize(byReference(ast.FirstParty, a.RequestURI)), 400, "invalid_request_uri")
}
