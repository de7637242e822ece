package authservertest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// TestFixtureFlows: each standard client completes the authorization code
// flow through the fixture's browser, first-party apps without a consent
// page and third-party apps through it.
func TestFixtureFlows(t *testing.T) {
	f := authservertest.New(t, authservertest.Options{})
	for _, tc := range []struct {
		client  string
		consent bool
	}{
		{authservertest.FirstParty, false},
		{authservertest.FirstPartyPublic, false},
		{authservertest.ThirdParty, true},
		{authservertest.ThirdPartyPublic, true},
	} {
		t.Run(tc.client, func(t *testing.T) {
			b := f.NewBrowser(t)
			b.SignIn()
			res := b.Authorize(f.AuthorizeQuery(tc.client, "openid"))
			if got := b.OnPage(res, "/consent"); got != tc.consent {
				t.Fatalf("consent page shown: %v, want %v (%s)", got, tc.consent, res)
			}
			tok := f.Exchange(t, tc.client, b.Code(f.AuthorizeQuery(tc.client, "openid")))
			if tok.IDToken == "" || tok.TokenType != "Bearer" {
				t.Fatalf("tokens %+v", tok)
			}
			if got := authservertest.Claims(t, tok.IDToken)["aud"]; got != tc.client {
				t.Errorf("ID token aud %v, want %q", got, tc.client)
			}
		})
	}
}

// TestFixtureFixedKeys: every fixture signs with the same keys, under
// the documented kids, and publishes the same JWKS.
func TestFixtureFixedKeys(t *testing.T) {
	a := authservertest.New(t, authservertest.Options{})
	b := authservertest.New(t, authservertest.Options{})
	ja, jb := a.Get(t, "/jwks.json"), b.Get(t, "/jwks.json")
	if ja.Code != http.StatusOK || ja.Body != jb.Body {
		t.Fatalf("JWKS differ:\n%s\n%s", ja.Body, jb.Body)
	}
	tok := a.TokensFor(t, authservertest.FirstParty, "openid")
	if kid := authservertest.Header(t, tok.AccessToken)["kid"]; kid != authservertest.KeyIDES256 {
		t.Errorf("access token kid %v, want %s", kid, authservertest.KeyIDES256)
	}
	if kid := authservertest.Header(t, tok.IDToken)["kid"]; kid != authservertest.KeyIDRS256 {
		t.Errorf("ID token kid %v, want %s", kid, authservertest.KeyIDRS256)
	}
}

// TestFixtureClock: the server reads the fixture's clock, which moves only
// when the test advances it.
func TestFixtureClock(t *testing.T) {
	f := authservertest.New(t, authservertest.Options{Lifetimes: authserver.Lifetimes{AuthCode: time.Minute}})
	if !f.Clock.Now().Equal(authservertest.Epoch()) {
		t.Fatalf("clock starts at %v, want %v", f.Clock.Now(), authservertest.Epoch())
	}
	tok := f.TokensFor(t, authservertest.FirstParty, "openid")
	if iat := authservertest.Claims(t, tok.AccessToken)["iat"]; iat != float64(authservertest.Epoch().Unix()) {
		t.Errorf("iat %v, want the epoch %d", iat, authservertest.Epoch().Unix())
	}
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(authservertest.FirstParty, "openid"))
	f.Clock.Advance(time.Minute)
	if res := f.ExchangeRequest(t, authservertest.FirstParty, code, nil); res.OAuthError() != "invalid_grant" {
		t.Fatalf("a code past its lifetime: %s, want invalid_grant", res)
	}
}

// TestFixtureOptions: extra clients and users join the standard ones, and
// a replaced client takes its secret with it.
func TestFixtureOptions(t *testing.T) {
	pw, err := authservertest.HashPassword("carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	f := authservertest.New(t, authservertest.Options{
		Clients: []*clients.Client{{ID: authservertest.ThirdParty, SecretHashes: []string{clients.HashSecret("new-secret")},
			Metadata: clients.Metadata{Type: clients.ThirdParty, RedirectURIs: []string{"https://new.example/cb"}}}},
		Secrets: map[string]string{authservertest.ThirdParty: "new-secret"},
		Users:   []*identity.User{{ID: "user-carol", Username: "carol", Password: pw}},
	})
	if got := f.RedirectURI(authservertest.ThirdParty); got != "https://new.example/cb" {
		t.Errorf("replaced client's redirect URI %q", got)
	}
	b := f.NewBrowser(t)
	b.Username, b.Password = "carol", "carol-pw"
	code := b.Code(f.AuthorizeQuery(authservertest.ThirdParty, "openid"))
	if tok := f.Exchange(t, authservertest.ThirdParty, code); authservertest.Claims(t, tok.IDToken)["sub"] != "user-carol" {
		t.Errorf("sub %v, want user-carol", authservertest.Claims(t, tok.IDToken)["sub"])
	}
}

// TestFixtureIssuerPath: with an issuer that has a path the helpers take
// paths relative to the issuer URL and follow the server's absolute ones.
func TestFixtureIssuerPath(t *testing.T) {
	f := authservertest.New(t, authservertest.Options{Issuer: authservertest.Issuer + "/tenant"})
	if got := f.URL("/token"); got != "https://issuer.example/tenant/token" {
		t.Errorf("URL = %q", got)
	}
	b := f.NewBrowser(t)
	b.SignIn()
	tok := f.Exchange(t, authservertest.ThirdParty, b.Code(f.AuthorizeQuery(authservertest.ThirdParty, "openid")))
	if iss := authservertest.Claims(t, tok.IDToken)["iss"]; iss != "https://issuer.example/tenant" {
		t.Errorf("iss %v", iss)
	}
}
