package authserver_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// TestTokenAuthorizationCodeFailures: every failed exchange is
// invalid_grant (or the error naming the bad parameter) and leaves the
// code usable: the checks run before the code is consumed.
func TestTokenAuthorizationCodeFailures(t *testing.T) {
	f := ast.New(t, ast.Options{})
	b := f.NewBrowser(t)
	b.SignIn()
	// Requests of FirstParty, whose only redirect URI may be omitted.
	withPKCE := f.AuthorizeQuery(ast.FirstParty, "openid")
	noPKCE := ast.Edit(withPKCE, del("code_challenge", "code_challenge_method"))
	noRedirect := ast.Edit(withPKCE, del("redirect_uri"))
	withResource := ast.Edit(withPKCE, url.Values{"resource": {"https://a.example/", "https://b.example/"}})
	tests := []struct {
		name    string
		request url.Values // the authorization request
		client  string     // who redeems; default FirstParty
		edit    url.Values // of the token request
		status  int
		code    string
	}{
		{"no code", withPKCE, "", query("code", ""), 400, "invalid_request"},
		{"unknown code", withPKCE, "", query("code", "gh_ac_unknown"), 400, "invalid_grant"},
		{"another client", withPKCE, ast.ThirdParty, query("redirect_uri", ast.FirstPartyRedirect), 400, "invalid_grant"},
		{"wrong verifier", withPKCE, "", query("code_verifier", strings.Repeat("A", 43)), 400, "invalid_grant"},
		{"no verifier", withPKCE, "", del("code_verifier"), 400, "invalid_grant"},
		{"verifier too short", withPKCE, "", query("code_verifier", "abc"), 400, "invalid_grant"},
		{"verifier with a bad character", withPKCE, "", query("code_verifier", ast.Verifier[:42]+"+"), 400, "invalid_grant"},
		{"verifier without a challenge", noPKCE, "", nil, 400, "invalid_grant"},
		{"other redirect_uri", withPKCE, "", query("redirect_uri", "https://first.example/other"), 400, "invalid_grant"},
		{"redirect_uri left out", withPKCE, "", del("redirect_uri"), 400, "invalid_grant"},
		{"unregistered redirect_uri, none in the request", noRedirect, "", query("redirect_uri", "https://first.example/other"), 400, "invalid_grant"},
		{"resource not authorized", withResource, "", query("resource", "https://c.example/"), 400, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := b.For(t).Code(tc.request)
			client := tc.client
			if client == "" {
				client = ast.FirstParty
			}
			res := f.ExchangeRequest(t, client, code, tc.edit)
			wantJSONError(t, res, tc.status, tc.code)
			if tc.code == "invalid_grant" && tc.name != "unknown code" {
				// Nothing was consumed: the right request still works.
				right := del()
				if tc.request.Get("code_challenge") == "" {
					right = del("code_verifier")
				}
				if res := f.ExchangeRequest(t, ast.FirstParty, code, right); res.Code != http.StatusOK {
					t.Errorf("the code no longer works after a refused exchange: %s", res)
				}
			}
		})
	}
}

// TestTokenAuthorizationCode: a good exchange, and what it returns.
func TestTokenAuthorizationCode(t *testing.T) {
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "es-app", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://es.example/cb"}, IDTokenSigningAlg: "ES256",
		AccessTokenLifetime: 2 * time.Minute}}}})
	b := f.NewBrowser(t)
	b.SignIn()

	t.Run("redirect_uri omitted throughout", func(t *testing.T) {
		code := b.For(t).Code(ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), del("redirect_uri")))
		if res := f.ExchangeRequest(t, ast.FirstParty, code, del("redirect_uri")); res.Code != http.StatusOK {
			t.Fatalf("%s", res)
		}
	})
	t.Run("confidential client without PKCE", func(t *testing.T) {
		code := b.For(t).Code(ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), del("code_challenge", "code_challenge_method")))
		if res := f.ExchangeRequest(t, ast.FirstParty, code, del("code_verifier")); res.Code != http.StatusOK {
			t.Fatalf("%s", res)
		}
	})
	t.Run("resource narrowed", func(t *testing.T) {
		q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {"https://b.example/", "https://a.example/"}})
		res := f.ExchangeRequest(t, ast.FirstParty, b.For(t).Code(q), query("resource", "https://a.example/"))
		var tok ast.Tokens
		res.JSON(&tok)
		// With openid the issuer is an audience too (its UserInfo endpoint).
		if aud := fmt.Sprint(ast.Claims(t, tok.AccessToken)["aud"]); aud != "[https://a.example "+ast.Issuer+"]" {
			t.Fatalf("aud %v, want the one resource asked for (normalised) and the issuer", aud)
		}
	})
	t.Run("resources kept", func(t *testing.T) {
		q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid"), url.Values{"resource": {"https://b.example/", "https://a.example/"}})
		tok := f.Exchange(t, ast.FirstParty, b.For(t).Code(q))
		aud, _ := ast.Claims(t, tok.AccessToken)["aud"].([]any)
		if len(aud) != 3 || aud[0] != "https://a.example" || aud[1] != "https://b.example" || aud[2] != ast.Issuer {
			t.Fatalf("aud %v, want both resources and the issuer", aud)
		}
	})

	t.Run("response", func(t *testing.T) {
		code := b.For(t).Code(f.AuthorizeQuery(ast.FirstParty, "openid profile email phone groups"))
		res := f.ExchangeRequest(t, ast.FirstParty, code, nil)
		if res.Code != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" ||
			res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %v", res, res.Header)
		}
		var tok ast.Tokens
		res.JSON(&tok)
		if tok.TokenType != "Bearer" || tok.ExpiresIn != 600 || tok.Scope != "openid profile email phone groups" || tok.RefreshToken != "" {
			t.Errorf("token response %+v", tok)
		}
		now := f.Clock.Now().Unix()
		at := ast.Claims(t, tok.AccessToken)
		for k, want := range map[string]any{"iss": ast.Issuer, "sub": ast.AliceID, "aud": ast.Issuer, "client_id": ast.FirstParty,
			"scope": "openid profile email phone groups", "iat": float64(now), "exp": float64(now + 600)} {
			if at[k] != want {
				t.Errorf("access token %s = %v, want %v", k, at[k], want)
			}
		}
		if typ := ast.Header(t, tok.AccessToken)["typ"]; typ != "at+jwt" {
			t.Errorf("access token typ %v, want at+jwt (RFC 9068)", typ)
		}
		id := ast.Claims(t, tok.IDToken)
		for k, want := range map[string]any{"iss": ast.Issuer, "sub": ast.AliceID, "aud": ast.FirstParty, "azp": ast.FirstParty,
			"nonce": ast.Nonce, "iat": float64(now), "exp": float64(now + 3600), "auth_time": float64(ast.Epoch().Unix()),
			"name": "Alice Liddell", "preferred_username": ast.Alice, "email": "alice@example.com", "email_verified": true,
			"phone_number": "+1 555 0100", "phone_number_verified": true} {
			if id[k] != want {
				t.Errorf("ID token %s = %v, want %v", k, id[k], want)
			}
		}
		if groups, _ := id["groups"].([]any); len(groups) != 2 {
			t.Errorf("ID token groups %v", id["groups"])
		}
		if id["at_hash"] == nil || id["sid"] == nil {
			t.Errorf("ID token without at_hash or sid: %v", id)
		}
		if h := ast.Header(t, tok.IDToken); h["alg"] != "RS256" || h["kid"] != ast.KeyIDRS256 {
			t.Errorf("ID token header %v, want RS256", h)
		}
	})
	t.Run("openid alone", func(t *testing.T) {
		tok := f.Exchange(t, ast.FirstParty, b.For(t).Code(f.AuthorizeQuery(ast.FirstParty, "openid")))
		for _, k := range []string{"name", "email", "preferred_username", "groups", "phone_number"} {
			if v, ok := ast.Claims(t, tok.IDToken)[k]; ok {
				t.Errorf("openid alone released %s = %v", k, v)
			}
		}
	})
	t.Run("no openid, no ID token", func(t *testing.T) {
		tok := f.Exchange(t, ast.FirstParty, b.For(t).Code(f.AuthorizeQuery(ast.FirstParty, "email")))
		if tok.IDToken != "" {
			t.Errorf("an ID token without openid")
		}
	})
	t.Run("client's own lifetime and algorithm", func(t *testing.T) {
		tok := f.Exchange(t, "es-app", b.For(t).Code(f.AuthorizeQuery("es-app", "openid")))
		if tok.ExpiresIn != 120 {
			t.Errorf("expires_in %d, want the client's 120", tok.ExpiresIn)
		}
		if h := ast.Header(t, tok.IDToken); h["alg"] != "ES256" || h["kid"] != ast.KeyIDES256 {
			t.Errorf("ID token header %v, want ES256", h)
		}
	})
	t.Run("offline_access", func(t *testing.T) {
		b := f.NewBrowser(t)
		tok := f.Exchange(t, ast.FirstParty, b.Code(f.AuthorizeQuery(ast.FirstParty, "openid offline_access")))
		if !strings.HasPrefix(tok.RefreshToken, "gh_rt_") {
			t.Errorf("refresh token %q", tok.RefreshToken)
		}
	})
}

// TestTokenCodeReplay: a code works once; its second use is refused and
// revokes what the first issued (RFC 6749 §4.1.2).
func TestTokenCodeReplay(t *testing.T) {
	f := ast.New(t, ast.Options{})
	code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdParty, "openid offline_access"))
	tok := f.Exchange(t, ast.ThirdParty, code)
	wantJSONError(t, f.ExchangeRequest(t, ast.ThirdParty, code, nil), 400, "invalid_grant")
	wantJSONError(t, f.RefreshRequest(t, ast.ThirdParty, tok.RefreshToken, nil), 400, "invalid_grant")
	res := f.Serve(t, bearer(f.NewRequest(http.MethodGet, "/userinfo", nil), tok.AccessToken))
	if res.Code != http.StatusUnauthorized {
		t.Errorf("userinfo with the first redemption's access token: %s", res)
	}
}

// TestTokenCodeExpiry: a code lives Lifetimes.AuthCode.
func TestTokenCodeExpiry(t *testing.T) {
	f := ast.New(t, ast.Options{Lifetimes: authserver.Lifetimes{AuthCode: 30 * time.Second}})
	b := f.NewBrowser(t)
	early := b.Code(f.AuthorizeQuery(ast.FirstParty, "openid"))
	late := b.Code(f.AuthorizeQuery(ast.FirstParty, "openid"))
	f.Clock.Advance(29 * time.Second)
	if res := f.ExchangeRequest(t, ast.FirstParty, early, nil); res.Code != http.StatusOK {
		t.Errorf("a code at 29 s of 30: %s", res)
	}
	f.Clock.Advance(time.Second)
	wantJSONError(t, f.ExchangeRequest(t, ast.FirstParty, late, nil), 400, "invalid_grant")
}

// TestTokenClientAuthentication: client_secret_basic, client_secret_post
// and none (RFC 6749 §2.3), and every way to get them wrong.
func TestTokenClientAuthentication(t *testing.T) {
	const oddSecret = "p@ss:w%rd+ /é"
	f := ast.New(t, ast.Options{
		Clients: []*clients.Client{{ID: "odd", SecretHashes: []string{clients.HashSecret(oddSecret)},
			Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{"https://odd.example/cb"}}}},
		Secrets: map[string]string{"odd": oddSecret},
	})
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	tests := []struct {
		name          string
		client        string // whose code
		authorization string
		form          url.Values // added to the grant parameters
		status        int
		code          string // "" for success
	}{
		{"basic", ast.FirstParty, basic(ast.FirstParty, ast.FirstPartySecret), nil, 200, ""},
		{"basic, form-encoded secret", "odd", basic("odd", oddSecret), nil, 200, ""},
		{"basic, raw secret", "odd", "Basic " + base64.StdEncoding.EncodeToString([]byte("odd:"+oddSecret)), nil, 401, "invalid_client"},
		{"basic, lower-case scheme", ast.FirstParty, strings.Replace(basic(ast.FirstParty, ast.FirstPartySecret), "Basic", "basic", 1), nil, 200, ""},
		{"basic, matching client_id", ast.FirstParty, basic(ast.FirstParty, ast.FirstPartySecret), query("client_id", ast.FirstParty), 200, ""},
		{"post", ast.FirstParty, "", query("client_id", ast.FirstParty, "client_secret", ast.FirstPartySecret), 200, ""},
		{"none", ast.ThirdPartyPublic, "", query("client_id", ast.ThirdPartyPublic), 200, ""},
		{"basic, wrong secret", ast.FirstParty, basic(ast.FirstParty, "wrong"), nil, 401, "invalid_client"},
		{"post, wrong secret", ast.FirstParty, "", query("client_id", ast.FirstParty, "client_secret", "wrong"), 401, "invalid_client"},
		{"another client's secret", ast.FirstParty, basic(ast.FirstParty, ast.ThirdPartySecret), nil, 401, "invalid_client"},
		{"basic and post", ast.FirstParty, basic(ast.FirstParty, ast.FirstPartySecret), query("client_secret", ast.FirstPartySecret), 400, "invalid_request"},
		{"basic with another client_id", ast.FirstParty, basic(ast.FirstParty, ast.FirstPartySecret), query("client_id", ast.ThirdParty), 400, "invalid_request"},
		{"basic not base64", ast.FirstParty, "Basic !!!", nil, 401, "invalid_client"},
		{"basic without a colon", ast.FirstParty, "Basic " + base64.StdEncoding.EncodeToString([]byte(ast.FirstParty)), nil, 401, "invalid_client"},
		{"basic with a bad escape", ast.FirstParty, "Basic " + base64.StdEncoding.EncodeToString([]byte("first-party:%zz")), nil, 401, "invalid_client"},
		{"bearer instead of basic", ast.FirstParty, "Bearer abc", nil, 401, "invalid_client"},
		{"no authentication", ast.FirstParty, "", nil, 401, "invalid_client"},
		{"confidential client without its secret", ast.FirstParty, "", query("client_id", ast.FirstParty), 401, "invalid_client"},
		{"unknown client", ast.FirstParty, basic("nobody", "secret"), nil, 401, "invalid_client"},
		{"unknown client without a secret", ast.FirstParty, "", query("client_id", "nobody"), 401, "invalid_client"},
		{"public client with a secret", ast.ThirdPartyPublic, "", query("client_id", ast.ThirdPartyPublic, "client_secret", "x"), 401, "invalid_client"},
		{"public client by basic", ast.ThirdPartyPublic, basic(ast.ThirdPartyPublic, ""), nil, 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := f.NewBrowser(t).Code(f.AuthorizeQuery(tc.client, "openid"))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.RedirectURI(tc.client)},
				"code_verifier": {ast.Verifier}}
			for k, v := range tc.form {
				form[k] = v
			}
			r := f.NewRequest(http.MethodPost, "/token", form)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			res := f.Serve(t, r)
			if tc.code == "" {
				if res.Code != http.StatusOK {
					t.Fatalf("%s", res)
				}
				return
			}
			wantJSONError(t, res, tc.status, tc.code)
			if ch := res.Header.Get("WWW-Authenticate"); (res.Code == 401) != strings.HasPrefix(ch, `Basic realm="`+ast.Issuer+`"`) {
				t.Errorf("status %d with WWW-Authenticate %q (RFC 6749 §5.2: a 401 carries the Basic challenge)", res.Code, ch)
			}
		})
	}
}

// TestTokenRequestFormat: what the token endpoint refuses before looking
// at any grant.
func TestTokenRequestFormat(t *testing.T) {
	f := ast.New(t, ast.Options{Clients: []*clients.Client{{ID: "code-only", Metadata: clients.Metadata{
		Type: clients.FirstPartyPublic, RedirectURIs: []string{"https://code-only.example/cb"}, GrantTypes: []string{"authorization_code"}}}}})
	post := func(body, contentType string) *http.Request {
		r := f.NewRequest(http.MethodPost, "/token", nil)
		r.Body = nopCloser(body)
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", contentType)
		r.SetBasicAuth(ast.FirstParty, ast.FirstPartySecret)
		return r
	}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"JSON body", post(`{"grant_type":"refresh_token"}`, "application/json"), 400, "invalid_request"},
		{"no content type", post("grant_type=refresh_token&refresh_token=x", ""), 400, "invalid_request"},
		{"form with charset", post("grant_type=refresh_token&refresh_token=gh_rt_x", form+"; charset=UTF-8"), 400, "invalid_grant"},
		{"too large", post("grant_type=refresh_token&refresh_token="+strings.Repeat("x", 65<<10), form), 413, "invalid_request"},
		{"malformed", post("grant_type=refresh_token&refresh_token=%zz", form), 400, "invalid_request"},
		{"repeated grant_type", post("grant_type=refresh_token&grant_type=authorization_code", form), 400, "invalid_request"},
		{"repeated code", post("grant_type=authorization_code&code=a&code=b", form), 400, "invalid_request"},
		{"no grant_type", post("code=x", form), 400, "invalid_request"},
		{"client_credentials", post("grant_type=client_credentials", form), 400, "unsupported_grant_type"},
		{"password", post("grant_type=password&username=alice&password=x", form), 400, "unsupported_grant_type"},
		{"device code", post("grant_type="+url.QueryEscape("urn:ietf:params:oauth:grant-type:device_code"), form), 400, "unsupported_grant_type"},
		{"grant the client may not use", f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token",
			"refresh_token", "gh_rt_x", "client_id", "code-only")), 400, "unauthorized_client"},
		{"refresh without a token", post("grant_type=refresh_token", form), 400, "invalid_request"},
		{"unknown refresh token", post("grant_type=refresh_token&refresh_token=gh_rt_unknown", form), 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantJSONError(t, f.Serve(t, tc.req), tc.status, tc.code)
		})
	}
	t.Run("GET", func(t *testing.T) {
		if res := f.Get(t, "/token?grant_type=authorization_code"); res.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET /token: %s, want 405", res)
		}
	})
}

// TestTokenCORS: browser apps on any origin may call the token endpoint;
// no credentials mode is offered (credentials travel in the request).
func TestTokenCORS(t *testing.T) {
	f := ast.New(t, ast.Options{})
	r := f.NewRequest(http.MethodOptions, "/token", nil)
	r.Header.Set("Origin", "https://spa.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	res := f.Serve(t, r)
	h := res.Header
	if res.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %s %v", res, h)
	}
	r = f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token"))
	r.Header.Set("Origin", "https://spa.example")
	res = f.Serve(t, r)
	if res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("cross-origin POST: %v", res.Header)
	}
	if res := f.Serve(t, f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token"))); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS headers without an Origin")
	}
}

// TestTokenClientThrottle: guessing an operator-chosen secret is slowed
// down per client and per address (429 with Retry-After, the secret
// unchecked); generated secrets are throttled per address only.
func TestTokenClientThrottle(t *testing.T) {
	phc, err := identity.HashPassword("chosen-secret", identity.Argon2idParams{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	f := ast.New(t, ast.Options{
		ClientThrottle: &throttleOn,
		Clients: []*clients.Client{{ID: "chosen", SecretHashes: []string{phc},
			Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{"https://chosen.example/cb"}}}},
	})
	attempt := func(secret, ip string) *ast.Response {
		r := f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token", "refresh_token", "gh_rt_x"))
		r.SetBasicAuth("chosen", secret)
		r.RemoteAddr = ip + ":1234"
		return f.Serve(t, r)
	}
	for i := range throttleOn.MaxFailures {
		if res := attempt("guess", "198.51.100.1"); res.OAuthError() != "invalid_client" {
			t.Fatalf("failure %d: %s", i+1, res)
		}
	}
	// Locked for the client, whatever the address, even with the secret.
	for _, ip := range []string{"198.51.100.1", "203.0.113.9"} {
		res := attempt("chosen-secret", ip)
		wantJSONError(t, res, http.StatusTooManyRequests, "temporarily_unavailable")
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	f.Clock.Advance(throttleOn.Lockout)
	if res := attempt("chosen-secret", "203.0.113.9"); res.OAuthError() != "invalid_grant" {
		t.Fatalf("after the lockout the right secret authenticates: %s", res)
	}
}

// TestTokenConcurrentCorrectClient: only failures count against a
// client. 50 concurrent requests of a confidential client with an
// operator-chosen secret, on a fresh server (so no secret has been
// verified yet and every first check is an argon2id hash in flight), are
// all authenticated: none is refused as a failure-to-be.
func TestTokenConcurrentCorrectClient(t *testing.T) {
	const n = 50
	// Dear enough (16 MiB) that many checks overlap.
	phc, err := identity.HashPassword("chosen-secret", identity.Argon2idParams{Memory: 16384, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	defaults := throttle.Policy{} // the server's defaults: 10 per client, 100 per address
	f := ast.New(t, ast.Options{
		ClientThrottle: &defaults,
		Clients: []*clients.Client{{ID: "chosen", SecretHashes: []string{phc},
			Metadata: clients.Metadata{Type: clients.FirstParty, RedirectURIs: []string{"https://chosen.example/cb"}}}},
	})
	start := make(chan struct{})
	results := make(chan *ast.Response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := f.NewRequest(http.MethodPost, "/token", query("grant_type", "refresh_token", "refresh_token", "gh_rt_x"))
			r.SetBasicAuth("chosen", "chosen-secret")
			r.RemoteAddr = "198.51.100.7:1234"
			<-start
			results <- f.Serve(t, r)
		})
	}
	close(start)
	wg.Wait()
	close(results)
	refused := 0
	for res := range results {
		// invalid_grant: the client authenticated, the made-up refresh
		// token was then refused.
		if res.OAuthError() != "invalid_grant" {
			refused++
			if refused == 1 {
				t.Errorf("a correct client was refused: %s", res)
			}
		}
	}
	if refused > 0 {
		t.Errorf("%d of %d concurrent correct requests refused", refused, n)
	}
}

// throttleOn is a client authentication throttle that locks a client
// after three failures.
var throttleOn = throttle.Policy{MaxFailures: 3, Lockout: 5 * time.Minute}

// TestTokenConcurrentUse: the store alone decides races. Of concurrent
// redemptions of one code exactly one succeeds, and since the code was
// presented twice its grant is revoked (RFC 6749 §4.1.2); of concurrent
// refreshes of one public client's token exactly one succeeds and the
// family is revoked (RFC 9700 §4.14.2); a confidential client's token,
// which does not rotate, serves them all.
func TestTokenConcurrentUse(t *testing.T) {
	const n = 6
	f := ast.New(t, ast.Options{})
	race := func(do func() *ast.Response) (ok []*ast.Response, codes []string) {
		results := make(chan *ast.Response, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { results <- do() })
		}
		wg.Wait()
		close(results)
		for res := range results {
			if res.Code == http.StatusOK {
				ok = append(ok, res)
			} else {
				codes = append(codes, res.OAuthError())
			}
		}
		return ok, codes
	}
	onlyInvalidGrant := func(t *testing.T, codes []string) {
		for _, c := range codes {
			if c != "invalid_grant" {
				t.Errorf("a losing request got %q, want invalid_grant", c)
			}
		}
	}

	t.Run("code", func(t *testing.T) {
		code := f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid offline_access"))
		ok, codes := race(func() *ast.Response { return f.ExchangeRequest(t, ast.ThirdPartyPublic, code, nil) })
		if len(ok) != 1 {
			t.Fatalf("%d redemptions succeeded, want 1", len(ok))
		}
		onlyInvalidGrant(t, codes)
		var tok ast.Tokens
		ok[0].JSON(&tok)
		if introspect(t, f, ast.ThirdPartyPublic, tok.RefreshToken, nil).Active {
			t.Error("the grant of a code presented several times is still live")
		}
	})
	t.Run("public refresh", func(t *testing.T) {
		rt := f.TokensFor(t, ast.ThirdPartyPublic, "openid offline_access").RefreshToken
		ok, codes := race(func() *ast.Response { return f.RefreshRequest(t, ast.ThirdPartyPublic, rt, nil) })
		if len(ok) != 1 {
			t.Fatalf("%d refreshes succeeded, want 1", len(ok))
		}
		onlyInvalidGrant(t, codes)
		var tok ast.Tokens
		ok[0].JSON(&tok)
		wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, tok.RefreshToken, nil), 400, "invalid_grant")
	})
	t.Run("confidential refresh", func(t *testing.T) {
		rt := f.TokensFor(t, ast.FirstParty, "openid offline_access").RefreshToken
		if ok, codes := race(func() *ast.Response { return f.RefreshRequest(t, ast.FirstParty, rt, nil) }); len(ok) != n {
			t.Fatalf("%d of %d refreshes succeeded (%v)", len(ok), n, codes)
		}
	})
}

// TestTokenUnsupportedGrantDescription: what the client sent is echoed
// in an error description only in part.
func TestTokenUnsupportedGrantDescription(t *testing.T) {
	f := ast.New(t, ast.Options{})
	res := f.ClientPost(t, "/token", ast.FirstParty, query("grant_type", "urn:"+strings.Repeat("x", 500)))
	wantJSONError(t, res, 400, "unsupported_grant_type")
	var e struct {
		Description string `json:"error_description"`
	}
	res.JSON(&e)
	if len(e.Description) > 200 || !strings.Contains(e.Description, "urn:xxx") {
		t.Errorf("error_description %q", e.Description)
	}
}
