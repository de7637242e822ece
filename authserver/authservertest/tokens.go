package authservertest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Tokens is a successful token response (RFC 6749 §5.1, OIDC Core
// §3.1.3.3).
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// ExchangeRequest redeems code at the token endpoint as clientID
// (ClientPost), repeating the redirect URI AuthorizeQuery uses and sending
// Verifier; edit changes the form as Edit does.
func (f *Fixture) ExchangeRequest(t testing.TB, clientID, code string, edit url.Values) *Response {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {f.RedirectURI(clientID)},
		"code_verifier": {Verifier},
	}
	return f.ClientPost(t, "/token", clientID, Edit(form, edit))
}

// Exchange redeems code as clientID and fails the test unless tokens come
// back.
func (f *Fixture) Exchange(t testing.TB, clientID, code string) Tokens {
	t.Helper()
	return f.tokens(t, f.ExchangeRequest(t, clientID, code, nil))
}

// RefreshRequest uses refreshToken at the token endpoint as clientID;
// edit changes the form as Edit does.
func (f *Fixture) RefreshRequest(t testing.TB, clientID, refreshToken string, edit url.Values) *Response {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return f.ClientPost(t, "/token", clientID, Edit(form, edit))
}

// Refresh uses refreshToken as clientID and fails the test unless tokens
// come back.
func (f *Fixture) Refresh(t testing.TB, clientID, refreshToken string) Tokens {
	t.Helper()
	return f.tokens(t, f.RefreshRequest(t, clientID, refreshToken, nil))
}

func (f *Fixture) tokens(t testing.TB, res *Response) Tokens {
	t.Helper()
	if res.Code != http.StatusOK {
		t.Fatalf("token request failed: %s", res)
	}
	var tok Tokens
	res.JSON(&tok)
	if tok.AccessToken == "" {
		t.Fatalf("token response without an access token: %s", res)
	}
	return tok
}

// TokensFor signs Alice in with a new browser, runs clientID's
// authorization request for scope (AuthorizeQuery), allowing consent, and
// redeems the code.
func (f *Fixture) TokensFor(t testing.TB, clientID, scope string) Tokens {
	t.Helper()
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(clientID, scope))
	return f.Exchange(t, clientID, code)
}

// Claims decodes the payload of a compact JWS without verifying it; the
// test fails when it is not one.
func Claims(t testing.TB, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", jws)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWS payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("JWS payload: %v", err)
	}
	return c
}

// Header decodes the protected header of a compact JWS without verifying
// it.
func Header(t testing.TB, jws string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(jws, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("JWS header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("JWS header: %v", err)
	}
	return h
}
