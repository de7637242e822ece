package authserver

// Fuzz targets of the protocol core. Each checks invariants, not only
// that nothing panics. Run one for longer with, for example:
//
//	go test -run '^$' -fuzz '^FuzzAuthorizeRequest$' -fuzztime 10m ./authserver
//
// Inputs that ever broke an invariant are kept in testdata/fuzz/<target>
// and run by every plain `go test`.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

const fuzzIssuer = "https://issuer.example"

// A cheap argon2id hash of "x", so operator-chosen secrets cost little.
const cheapArgonX = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$8Jz1ElyHYMk0h9Nf8tTfFUDDgNtA5dbF5oZLtHBBYSs"

// fuzzSecrets are the plaintext secrets of the confidential fuzz clients.
var fuzzSecrets = map[string]string{"web": "web-secret-7f3a", "argon": "x", "single": "single-secret-92c1"}

func fuzzClients() []*clients.Client {
	return []*clients.Client{
		{ID: "web", SecretHashes: []string{clients.HashSecret(fuzzSecrets["web"])}, Metadata: clients.Metadata{
			Type: clients.ThirdParty, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"}}},
		{ID: "argon", SecretHashes: []string{cheapArgonX}, Metadata: clients.Metadata{
			Type: clients.FirstParty, RedirectURIs: []string{"https://first.example/cb?tenant=1", "https://first.example/other"}}},
		{ID: "spa", Metadata: clients.Metadata{
			Type: clients.ThirdPartyPublic, RedirectURIs: []string{"http://127.0.0.1:8080/callback", "http://[::1]/cb", "https://spa.example/"}}},
		{ID: "native", Metadata: clients.Metadata{
			Type: clients.FirstPartyPublic, RedirectURIs: []string{"com.example.app:/oauth"}, Scopes: []string{"openid", "email"}}},
		{ID: "single", SecretHashes: []string{clients.HashSecret(fuzzSecrets["single"])}, Metadata: clients.Metadata{
			Type: clients.ThirdParty, RedirectURIs: []string{"https://single.example/cb"}, GrantTypes: []string{"authorization_code"}}},
	}
}

// newFuzzServer is a complete Server over a fresh SQLite store, with the
// fuzz clients, one user, and throttling off so results are repeatable.
func newFuzzServer(tb testing.TB, reg RegistrationPolicy) *Server {
	tb.Helper()
	return newTestServer(tb, fuzzIssuer, reg)
}

// newTestServer is newFuzzServer with another issuer.
func newTestServer(tb testing.TB, issuer string, reg RegistrationPolicy) *Server {
	tb.Helper()
	dir := tb.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "fuzz.db"), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	sealer, err := seal.New(seal.GenerateKey())
	if err != nil {
		tb.Fatal(err)
	}
	keys := token.NewKeyManager(st, sealer, token.KeyOptions{Algorithms: []string{"ES256", "RS256"}})
	if err := keys.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	pw, err := identity.ParsePasswordHash(cheapArgonX)
	if err != nil {
		tb.Fatal(err)
	}
	users, err := identity.NewStaticDirectory([]*identity.User{{ID: "alice", Username: "alice", Password: pw}})
	if err != nil {
		tb.Fatal(err)
	}
	static, err := clients.NewStatic(fuzzClients(), supportedScopes)
	if err != nil {
		tb.Fatal(err)
	}
	renderer, err := ui.New(ui.Branding{}, "")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{
		Issuer: issuer, Store: st, Keys: keys, Users: users, Clients: static, UI: renderer,
		Hasher:         identity.NewHasher(0),
		CookieSecrets:  [][]byte{[]byte("fuzz-cookie-secret-0123456789abcdef")},
		LoginThrottle:  throttle.Policy{Off: true},
		ClientThrottle: throttle.Policy{Off: true},
	}
	if reg != "" {
		cfg.Registration = Registration{Policy: reg, Clients: clients.NewRegistry(static, st, supportedScopes, clients.RegistryOptions{}),
			InitialAccessTokens: []string{"initial-access-token-0123456789"}}
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fuzzRequest builds a request without httptest.NewRequest, which panics
// on targets the fuzzer makes up.
func fuzzRequest(method, path, rawQuery, contentType, body string) *http.Request {
	r := &http.Request{
		Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "issuer.example", RemoteAddr: "192.0.2.1:1234", RequestURI: path,
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	return r.WithContext(context.Background())
}

func fuzzClientByID(id string) *clients.Client {
	for _, c := range fuzzClients() {
		if c.ID == id {
			_ = c.Prepare(supportedScopes)
			return c
		}
	}
	return nil
}

// FuzzAuthorizeRequest: whatever the query (or POST body), an
// authorization request is only ever redirected to a redirect URI
// registered for the client it names; errors about the client or the
// redirect URI are never redirected; an accepted request has
// response_type=code, only scopes the client may ask for, PKCE S256 when
// the client is public, and travels to the login page unchanged.
func FuzzAuthorizeRequest(f *testing.F) {
	s := newFuzzServer(f, "")
	ch := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, q := range []string{
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid+email&state=s1",
		"response_type=code&client_id=web&redirect_uri=http%3A%2F%2F127.0.0.1%3A4444%2Fcb&state=s",
		"response_type=code&client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_challenge=" + ch + "&code_challenge_method=S256",
		"response_type=code&client_id=spa&redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A80%2Fcb&code_challenge=" + ch + "&code_challenge_method=S256&prompt=none",
		"response_type=code&client_id=native&redirect_uri=com.example.app%3A%2Foauth&code_challenge=" + ch + "&code_challenge_method=S256&scope=openid+profile",
		"response_type=code&client_id=single&scope=openid+offline_access&nonce=n&max_age=0&resource=https%3A%2F%2Fapi.example%2F",
		"response_type=code&client_id=argon&redirect_uri=https%3A%2F%2Ffirst.example%2Fcb%3Ftenant%3D1&prompt=login+consent",
		"response_type=token&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&redirect_uri=https%3A%2F%2Fevil.example%2F",
		"response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
		"response_type=code&client_id=web&client_id=spa",
		"response_type=code&client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback%2F..%2Fx",
		"response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&request=x&state=%zz",
		"client_id=web&redirect_uri=https://app.example/cb&scope=openid%20groups%20phone&code_challenge=" + ch + "&code_challenge_method=plain",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, query string, post bool) {
		req := func() *http.Request {
			if post {
				return fuzzRequest(http.MethodPost, "/authorize", "", "application/x-www-form-urlencoded", query)
			}
			return fuzzRequest(http.MethodGet, "/authorize", query, "", "")
		}
		ar, client, oerr := s.parseAuthorizeRequest(httptest.NewRecorder(), req())
		q, qerr := url.ParseQuery(query)
		named := fuzzClientByID(q.Get("client_id"))
		// RFC 6749 §3.1: a parameter without a value counts as omitted.
		given := q.Get("redirect_uri") != ""
		unverifiable := qerr != nil || named == nil || len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 ||
			(given && !named.MatchRedirectURI(q.Get("redirect_uri"))) ||
			(!given && len(named.RedirectURIs) != 1)
		if unverifiable && (oerr == nil || (ar != nil && !oerr.NoRedirect)) {
			t.Fatalf("unverifiable client or redirect_uri, yet ar=%+v err=%v", ar, oerr)
		}
		if ar != nil {
			if client == nil || client.ID != q.Get("client_id") || !client.MatchRedirectURI(ar.RedirectURI) {
				t.Fatalf("redirect target %q not verified for client %v", ar.RedirectURI, client)
			}
			if given != ar.RedirectURIGiven || (given && ar.RedirectURI != q.Get("redirect_uri")) {
				t.Fatalf("redirect_uri %q became %q (given %v)", q.Get("redirect_uri"), ar.RedirectURI, ar.RedirectURIGiven)
			}
		}
		if oerr == nil {
			checkAcceptedRequest(t, q, ar, client)
		}

		// The endpoint itself: a Location is the login page carrying this
		// very request, or the verified redirect URI with an error.
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req())
		loc := rec.Header().Get("Location")
		switch {
		case loc == "":
			if oerr == nil || (ar != nil && !oerr.NoRedirect) {
				t.Fatalf("no redirect (status %d) for ar=%+v err=%v", rec.Code, ar, oerr)
			}
		case strings.HasPrefix(loc, "/login?"):
			lq, _ := url.ParseQuery(strings.TrimPrefix(loc, "/login?"))
			var sealed authRequest
			if oerr != nil || s.requests.Decode("ar", lq.Get("ar"), &sealed) != nil {
				t.Fatalf("login redirect %q for err=%v", loc, oerr)
			}
			sealed.IssuedAt = ar.IssuedAt
			if got, _ := json.Marshal(sealed); string(got) != string(must(json.Marshal(ar))) {
				t.Fatalf("the login page got %s, the request was %s", got, must(json.Marshal(ar)))
			}
		default:
			if ar == nil || (oerr != nil && oerr.NoRedirect) {
				t.Fatalf("redirected to %q although the target was not verified (err %v)", loc, oerr)
			}
			u, err := url.Parse(loc)
			reg, _ := url.Parse(ar.RedirectURI)
			if err != nil || u.Scheme != reg.Scheme || u.Host != reg.Host || u.Path != reg.Path || u.Opaque != reg.Opaque {
				t.Fatalf("redirected to %q, not to %q", loc, ar.RedirectURI)
			}
			if got := u.Query(); got.Get("error") == "" || got.Has("code") || got.Get("iss") != fuzzIssuer {
				t.Fatalf("redirect %q is not an error response with iss", loc)
			}
		}
	})
}

func checkAcceptedRequest(t *testing.T, q url.Values, ar *authRequest, client *clients.Client) {
	t.Helper()
	if ar == nil || client == nil {
		t.Fatal("accepted without a request")
	}
	if q.Get("response_type") != "code" || q.Has("request") || q.Has("request_uri") {
		t.Fatalf("accepted response_type %q, request %v, request_uri %v", q.Get("response_type"), q.Has("request"), q.Has("request_uri"))
	}
	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			t.Fatalf("accepted a repeated %s", k)
		}
	}
	if len(ar.Scopes) == 0 {
		t.Fatal("accepted without scopes")
	}
	for _, sc := range ar.Scopes {
		if !client.AllowsScope(sc, supportedScopes) {
			t.Fatalf("accepted scope %q for %s", sc, client.ID)
		}
	}
	if client.Type.Public() && ar.CodeChallenge == "" {
		t.Fatalf("public client %s accepted without PKCE", client.ID)
	}
	if ar.CodeChallenge != "" && (!isS256Challenge(ar.CodeChallenge) || q.Get("code_challenge_method") != "S256") {
		t.Fatalf("accepted challenge %q method %q", ar.CodeChallenge, q.Get("code_challenge_method"))
	}
	if ar.State != q.Get("state") || len(ar.State) > maxParamLength || len(ar.Nonce) > maxParamLength || len(ar.LoginHint) > maxParamLength {
		t.Fatalf("state/nonce/login_hint not bounded: %d %d %d", len(ar.State), len(ar.Nonce), len(ar.LoginHint))
	}
	for _, r := range ar.Resources {
		if n, err := normalizeResource(r); err != nil || n != r {
			t.Fatalf("accepted resource %q (normal form %q, %v)", r, n, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// presentedCredentials is the test's own reading of RFC 6749 §2.3.1: the
// client id and secret of a token request, and whether they came in an
// Authorization header.
func presentedCredentials(authorization string, form url.Values) (id, secret string, basic bool) {
	if authorization == "" {
		return form.Get("client_id"), form.Get("client_secret"), false
	}
	scheme, payload, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", "", true
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", true
	}
	i, s, _ := strings.Cut(string(raw), ":")
	id, _ = url.QueryUnescape(i)
	secret, _ = url.QueryUnescape(s)
	return id, secret, true
}

var tokenErrors = []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_target"}

// FuzzTokenRequest: whatever the form and Authorization header, the token
// endpoint answers a JSON error of RFC 6749 §5.2 (never a token, never a
// server error), 401 exactly for invalid_client with a Basic challenge,
// never cached; and client authentication succeeds only for a public
// client without a secret or a confidential one with its real secret.
func FuzzTokenRequest(f *testing.F) {
	s := newFuzzServer(f, "")
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	for _, seed := range [][2]string{
		{"grant_type=authorization_code&code=gh_ac_x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", basic("web", fuzzSecrets["web"])},
		{"grant_type=authorization_code&code=gh_ac_x&client_id=web&client_secret=" + fuzzSecrets["web"], ""},
		{"grant_type=refresh_token&refresh_token=gh_rt_x&client_id=spa", ""},
		{"grant_type=refresh_token&refresh_token=gh_rt_x&scope=openid", basic("argon", "x")},
		{"grant_type=client_credentials", basic("single", fuzzSecrets["single"])},
		{"grant_type=refresh_token&refresh_token=x", basic("single", fuzzSecrets["single"])},
		{"grant_type=authorization_code&code=x", basic("web", "wrong")},
		{"grant_type=authorization_code&code=x&client_secret=y", basic("web", fuzzSecrets["web"])},
		{"grant_type=authorization_code&code=x&client_id=spa", basic("spa", "")},
		{"grant_type=authorization_code&code=x&resource=https%3A%2F%2Fa%2F&resource=https%3A%2F%2Fb%2F", "Basic !!!"},
		{"grant_type=authorization_code&grant_type=refresh_token", "Bearer abc"},
		{"%zz", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, body, authorization string) {
		if strings.ContainsAny(authorization, "\r\n\x00") {
			return // not a header value net/http would deliver
		}
		req := func() *http.Request {
			r := fuzzRequest(http.MethodPost, "/token", "", "application/x-www-form-urlencoded", body)
			if authorization != "" {
				r.Header.Set("Authorization", authorization)
			}
			return r
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req())
		var e oautherr.Body
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !slices.Contains(tokenErrors, e.Error) {
			t.Fatalf("status %d, body %q: not an RFC 6749 error", rec.Code, rec.Body)
		}
		if want := map[bool]int{true: 401, false: rec.Code}[e.Error == "invalid_client"]; rec.Code != want || (rec.Code != 400 && rec.Code != 401 && rec.Code != 413) {
			t.Fatalf("%s answered with status %d", e.Error, rec.Code)
		}
		if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("401 without a Basic challenge")
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("error without Cache-Control: no-store")
		}

		r := req()
		form, err := parseForm(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		client, oerr := s.authenticateClient(httptest.NewRecorder(), r, form)
		if (client == nil) == (oerr == nil) {
			t.Fatalf("client %v with error %v", client, oerr)
		}
		if client == nil {
			return
		}
		id, secret, viaBasic := presentedCredentials(authorization, form)
		switch {
		case client.ID != id:
			t.Fatalf("authenticated as %q, presented %q", client.ID, id)
		case client.Type.Public() && (secret != "" || viaBasic):
			t.Fatalf("public client %s accepted with a secret", client.ID)
		case !client.Type.Public() && secret != fuzzSecrets[client.ID]:
			t.Fatalf("confidential client %s accepted with secret %q", client.ID, secret)
		}
	})
}
