package gate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// The tests below run OIDCProvider, inside a gate, against fakeOP: an
// external OpenID provider served by httptest that signs real ES256 and
// RS256 tokens. Its clock is the gate's, set in 2023, so a token checked
// against the wall clock instead would be expired.

var opEpoch = time.Date(2023, 11, 14, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	opKeysOnce         sync.Once
	opECKey, opECOther *ecdsa.PrivateKey
	opRSAKey           *rsa.PrivateKey
)

func opKeys(t *testing.T) {
	t.Helper()
	opKeysOnce.Do(func() {
		var err error
		if opECKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if opECOther, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if opRSAKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

const (
	opClientID     = "gate"
	opClientSecret = "gate-secret"
)

// fakeOP is an external OpenID provider. Its fields change what it
// serves; set them before the gate first uses it.
type fakeOP struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock

	sendsIssuer bool
	docIssuer   string // issuer in the discovery document; default the URL
	down        atomic.Bool
	discoveries atomic.Int32

	// idToken changes the ID token's header and claims before signing.
	idToken func(h *tokenHeader, claims map[string]any)
	// userinfo, if set, is served at the userinfo endpoint.
	userinfo map[string]any

	mu    sync.Mutex
	codes map[string]authorization
}

type authorization struct {
	nonce, challenge, redirectURI string
}

// tokenHeader says how a token is signed: alg, kid and typ.
type tokenHeader struct {
	alg jose.SignatureAlgorithm
	kid string
	typ string
	key any // the signing key; default the published key of alg
}

func newFakeOP(t *testing.T, c *clock) *fakeOP {
	t.Helper()
	opKeys(t)
	op := &fakeOP{t: t, clock: c, sendsIssuer: true, codes: map[string]authorization{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("GET /userinfo", op.serveUserinfo)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) issuer() string { return op.srv.URL }

func (op *fakeOP) provider() *OIDCProvider {
	return &OIDCProvider{IssuerURL: op.issuer(), ClientID: opClientID, ClientSecret: opClientSecret, HTTPClient: op.srv.Client()}
}

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	op.discoveries.Add(1)
	if op.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	iss := op.docIssuer
	if iss == "" {
		iss = op.issuer()
	}
	doc := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                op.issuer() + "/authorize",
		"token_endpoint":                        op.issuer() + "/token",
		"jwks_uri":                              op.issuer() + "/jwks",
		"response_types_supported":              []string{"code"},
		"id_token_signing_alg_values_supported": []string{"ES256", "RS256"},
		"authorization_response_iss_parameter_supported": op.sendsIssuer,
	}
	if op.userinfo != nil {
		doc["userinfo_endpoint"] = op.issuer() + "/userinfo"
	}
	writeJSON(w, doc)
}

func (op *fakeOP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: opECKey.Public(), KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		{Key: opRSAKey.Public(), KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
	}})
}

// authorize does what the provider's authorization endpoint would for the
// gate's authorization request: it checks it and returns a code.
func (op *fakeOP) authorize(authURL string) string {
	op.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, op.issuer()+"/authorize?") {
		op.t.Fatalf("not an authorization request at the provider: %q", authURL)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": opClientID, "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			op.t.Fatalf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("nonce") == "" || q.Get("state") == "" || len(q.Get("code_challenge")) != 43 || !strings.Contains(q.Get("scope"), "openid") {
		op.t.Fatalf("authorization request lacks nonce, state, PKCE or openid: %s", u.RawQuery)
	}
	code := randomString(16)
	op.mu.Lock()
	op.codes[code] = authorization{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	op.mu.Unlock()
	return code
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || !ok || id != opClientID || secret != opClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	op.mu.Lock()
	a, found := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code"))
	op.mu.Unlock()
	if !found || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != a.redirectURI ||
		oauth2.S256ChallengeFromVerifier(r.PostForm.Get("code_verifier")) != a.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	now := op.clock.Now()
	claims := map[string]any{
		"iss": op.issuer(), "sub": "alice-id", "aud": opClientID, "nonce": a.nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Add(-time.Minute).Unix(),
		"email": "alice@example.com", "email_verified": true, "name": "Alice", "preferred_username": "alice",
		"groups": []string{"staff"},
	}
	h := tokenHeader{alg: jose.ES256, typ: "JWT"}
	if op.idToken != nil {
		op.idToken(&h, claims)
	}
	resp := map[string]any{"access_token": "opaque-at", "token_type": "Bearer", "expires_in": 300}
	if len(claims) > 0 { // no claims: no id_token at all
		resp["id_token"] = op.sign(h, claims)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, resp)
}

func (op *fakeOP) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer opaque-at" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, op.userinfo)
}

// sign signs claims as the provider would, or as h says instead.
func (op *fakeOP) sign(h tokenHeader, claims map[string]any) string {
	op.t.Helper()
	key, kid := h.key, h.kid
	switch {
	case key != nil:
	case h.alg == jose.RS256:
		key, kid = opRSAKey, cmpOr(kid, "rsa1")
	default:
		key, kid = opECKey, cmpOr(kid, "ec1")
	}
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid)
	if h.typ != "" {
		opts = opts.WithType(jose.ContentType(h.typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: h.alg, Key: key}, opts)
	if err != nil {
		op.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		op.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		op.t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		op.t.Fatal(err)
	}
	return raw
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// login runs a browser login at g against op, with the callback's iss
// parameter as given (nil: none). It returns the callback's response,
// or the response that started the login when that was no redirect.
func (op *fakeOP) login(t *testing.T, g *Gate, j *jar, iss []string) *http.Response {
	t.Helper()
	resp, _ := serve(g, j, browserGet("/private?x=1"))
	if resp.StatusCode != http.StatusFound {
		return resp
	}
	loc := resp.Header.Get("Location")
	code := op.authorize(loc)
	u, _ := url.Parse(loc)
	q := url.Values{"code": {code}, "state": {u.Query().Get("state")}}
	if iss != nil {
		q["iss"] = iss
	}
	resp, _ = serve(g, j, browserGet("/.gatehouse/callback?"+q.Encode()))
	return resp
}

// TestOIDCProviderLogin: a login at an external provider succeeds only
// with an ID token that passes OIDC Core §3.1.3.7 for this login.
func TestOIDCProviderLogin(t *testing.T) {
	withClaims := func(change map[string]any) func(*tokenHeader, map[string]any) {
		return func(_ *tokenHeader, c map[string]any) { maps.Copy(c, change) }
	}
	tests := []struct {
		name      string
		setup     func(op *fakeOP)
		wantStart int // status of the first request; 302 when the login starts
		wantOK    bool
		want      Identity // checked when wantOK
	}{
		{name: "ES256", wantOK: true,
			want: Identity{Subject: "alice-id", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice", Groups: []string{"staff"}}},
		{name: "RS256", setup: func(op *fakeOP) {
			op.idToken = func(h *tokenHeader, _ map[string]any) { h.alg = jose.RS256 }
		}, wantOK: true, want: Identity{Subject: "alice-id", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice", Groups: []string{"staff"}}},
		{name: "claims from userinfo", setup: func(op *fakeOP) {
			op.idToken = func(_ *tokenHeader, c map[string]any) {
				for _, k := range []string{"email", "email_verified", "name", "preferred_username", "groups"} {
					delete(c, k)
				}
			}
			op.userinfo = map[string]any{"sub": "alice-id", "email": "alice@example.com", "email_verified": "true",
				"name": "Alice U", "preferred_username": "alice", "groups": []string{"ops"}}
		}, wantOK: true, want: Identity{Subject: "alice-id", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice U", Groups: []string{"ops"}}},
		{name: "userinfo about someone else (OIDC Core §5.3.2)", setup: func(op *fakeOP) {
			op.idToken = func(_ *tokenHeader, c map[string]any) { delete(c, "email") }
			op.userinfo = map[string]any{"sub": "mallory-id", "email": "mallory@example.com", "email_verified": true}
		}},
		{name: "wrong nonce", setup: func(op *fakeOP) { op.idToken = withClaims(map[string]any{"nonce": "replayed-nonce"}) }},
		{name: "no nonce", setup: func(op *fakeOP) { op.idToken = func(_ *tokenHeader, c map[string]any) { delete(c, "nonce") } }},
		{name: "wrong iss in the ID token", setup: func(op *fakeOP) { op.idToken = withClaims(map[string]any{"iss": "https://evil.example"}) }},
		{name: "other audience", setup: func(op *fakeOP) { op.idToken = withClaims(map[string]any{"aud": "another-app"}) }},
		{name: "several audiences, azp another client", setup: func(op *fakeOP) {
			op.idToken = withClaims(map[string]any{"aud": []string{opClientID, "another-app"}, "azp": "another-app"})
		}},
		{name: "several audiences, azp this client", setup: func(op *fakeOP) {
			op.idToken = withClaims(map[string]any{"aud": []string{opClientID, "another-app"}, "azp": opClientID})
		}, wantOK: true, want: Identity{Subject: "alice-id", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice", Groups: []string{"staff"}}},
		{name: "expired by the gate's clock", setup: func(op *fakeOP) {
			op.idToken = withClaims(map[string]any{"exp": opEpoch.Add(-time.Minute).Unix()})
		}},
		{name: "no sub", setup: func(op *fakeOP) { op.idToken = func(_ *tokenHeader, c map[string]any) { delete(c, "sub") } }},
		{name: "unknown signing key", setup: func(op *fakeOP) {
			op.idToken = func(h *tokenHeader, _ map[string]any) { h.key, h.kid = opECOther, "ec-unknown" }
		}},
		{name: "published kid, another key", setup: func(op *fakeOP) {
			op.idToken = func(h *tokenHeader, _ map[string]any) { h.key, h.kid = opECOther, "ec1" }
		}},
		{name: "HS256 with the client secret", setup: func(op *fakeOP) {
			op.idToken = func(h *tokenHeader, _ map[string]any) {
				h.alg, h.key = jose.HS256, []byte(strings.Repeat(opClientSecret, 4))
			}
		}},
		{name: "no id_token", setup: func(op *fakeOP) {
			op.idToken = func(_ *tokenHeader, c map[string]any) { clear(c) }
		}},
		{name: "wrong iss in discovery (OIDC Discovery §4.3)", setup: func(op *fakeOP) { op.docIssuer = "https://evil.example" },
			wantStart: http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: opEpoch}
			op := newFakeOP(t, c)
			if tc.setup != nil {
				tc.setup(op)
			}
			g := newTestGate(t, op.provider(), Config{Now: c.Now})
			var j jar
			resp := op.login(t, g, &j, []string{op.issuer()})
			if tc.wantStart != 0 {
				if resp.StatusCode != tc.wantStart {
					t.Fatalf("start of login: %d, want %d", resp.StatusCode, tc.wantStart)
				}
				return
			}
			_, id := serve(g, &j, browserGet("/private"))
			if !tc.wantOK {
				if resp.StatusCode != http.StatusBadGateway || id != nil {
					t.Fatalf("callback: %d, signed in %v; want 502 and no session", resp.StatusCode, id != nil)
				}
				return
			}
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/private?x=1" || id == nil {
				t.Fatalf("callback: %d to %q, signed in %v", resp.StatusCode, resp.Header.Get("Location"), id != nil)
			}
			tc.want.Issuer, tc.want.Source = op.issuer(), SourceSession
			if id.Subject != tc.want.Subject || id.Username != tc.want.Username || id.Email != tc.want.Email ||
				id.EmailVerified != tc.want.EmailVerified || id.Name != tc.want.Name || !slices.Equal(id.Groups, tc.want.Groups) ||
				id.Issuer != tc.want.Issuer || id.Source != tc.want.Source {
				t.Fatalf("identity = %+v, want %+v", *id, tc.want)
			}
		})
	}
}

// TestOIDCProviderIssuerParameter: RFC 9207 §2.4 with the provider's own
// word from discovery: a provider that advertises
// authorization_response_iss_parameter_supported must send iss, and
// whoever sends it must send its own.
func TestOIDCProviderIssuerParameter(t *testing.T) {
	tests := []struct {
		name        string
		sendsIssuer bool
		iss         func(op *fakeOP) []string
		want        int
	}{
		{"advertised, sent", true, func(op *fakeOP) []string { return []string{op.issuer()} }, http.StatusFound},
		{"advertised, missing", true, func(*fakeOP) []string { return nil }, http.StatusBadRequest},
		{"advertised, another issuer", true, func(*fakeOP) []string { return []string{"https://evil.example"} }, http.StatusBadRequest},
		{"not advertised, missing", false, func(*fakeOP) []string { return nil }, http.StatusFound},
		{"not advertised, sent", false, func(op *fakeOP) []string { return []string{op.issuer()} }, http.StatusFound},
		{"not advertised, another issuer", false, func(*fakeOP) []string { return []string{"https://evil.example"} }, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: opEpoch}
			op := newFakeOP(t, c)
			op.sendsIssuer = tc.sendsIssuer
			g := newTestGate(t, op.provider(), Config{Now: c.Now})
			var j jar
			if resp := op.login(t, g, &j, tc.iss(op)); resp.StatusCode != tc.want {
				t.Fatalf("callback: %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestOIDCProviderDiscoveryRetry: a provider that is down when the gate
// first needs it costs one request per back-off period, not one per
// visitor, and is used as soon as it answers again, all by the gate's
// clock.
func TestOIDCProviderDiscoveryRetry(t *testing.T) {
	c := &clock{t: opEpoch}
	op := newFakeOP(t, c)
	op.down.Store(true)
	g := newTestGate(t, op.provider(), Config{Now: c.Now})
	start := func() int {
		resp, _ := serve(g, new(jar), browserGet("/private"))
		return resp.StatusCode
	}
	steps := []struct {
		name        string
		advance     time.Duration
		up          bool
		want        int
		discoveries int32
	}{
		{"down at first use", 0, false, http.StatusServiceUnavailable, 1},
		{"again at once: not asked", time.Second, false, http.StatusServiceUnavailable, 1},
		{"back up, within the back-off: not asked", 2 * time.Second, true, http.StatusServiceUnavailable, 1},
		{"after the back-off: asked, and up", 3 * time.Second, true, http.StatusFound, 2},
		{"found: not asked again", time.Hour, true, http.StatusFound, 2},
	}
	for _, s := range steps {
		c.Add(s.advance)
		op.down.Store(!s.up)
		if got := start(); got != s.want || op.discoveries.Load() != s.discoveries {
			t.Fatalf("%s: %d after %d discovery requests, want %d after %d", s.name, got, op.discoveries.Load(), s.want, s.discoveries)
		}
	}
	var j jar
	if resp := op.login(t, g, &j, []string{op.issuer()}); resp.StatusCode != http.StatusFound {
		t.Fatalf("login after recovery: %d", resp.StatusCode)
	}
}

// TestOIDCProviderBearer: access tokens from an external provider are
// verified locally against its JWKS (RFC 9068 §4): typ at+jwt, iss, aud
// (this resource), exp and nbf by the gate's clock, an asymmetric alg
// and a published key.
func TestOIDCProviderBearer(t *testing.T) {
	c := &clock{t: opEpoch}
	op := newFakeOP(t, c)
	g := newTestGate(t, op.provider(), Config{Now: c.Now})
	base := func() map[string]any {
		return map[string]any{"iss": op.issuer(), "sub": "svc-id", "aud": testOrigin, "client_id": "svc", "scope": "read",
			"iat": opEpoch.Unix(), "exp": opEpoch.Add(time.Hour).Unix(), "jti": randomString(8)}
	}
	at := tokenHeader{alg: jose.ES256, typ: "at+jwt"}
	tests := []struct {
		name   string
		header tokenHeader
		change map[string]any
		ok     bool
	}{
		{"ES256 access token", at, nil, true},
		{"RS256 access token", tokenHeader{alg: jose.RS256, typ: "application/at+jwt"}, nil, true},
		{"typ JWT (an ID token)", tokenHeader{alg: jose.ES256, typ: "JWT"}, nil, false},
		{"no typ", tokenHeader{alg: jose.ES256}, nil, false},
		{"another issuer", at, map[string]any{"iss": "https://evil.example"}, false},
		{"another resource", at, map[string]any{"aud": "https://api.example"}, false},
		{"expired by the gate's clock", at, map[string]any{"exp": opEpoch.Add(-time.Hour).Unix()}, false},
		{"not yet valid", at, map[string]any{"nbf": opEpoch.Add(time.Hour).Unix()}, false},
		{"unknown key", tokenHeader{alg: jose.ES256, typ: "at+jwt", kid: "ec-unknown", key: opECOther}, nil, false},
		{"HS256", tokenHeader{alg: jose.HS256, typ: "at+jwt", key: []byte(strings.Repeat(opClientSecret, 4))}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := base()
			maps.Copy(claims, tc.change)
			r := httptest.NewRequest(http.MethodGet, testOrigin+"/api", nil)
			r.Header.Set("Authorization", "Bearer "+op.sign(tc.header, claims))
			w := httptest.NewRecorder()
			id := g.Handle(w, r, testOrigin)
			if tc.ok {
				if id == nil || id.Subject != "svc-id" || id.ClientID != "svc" || id.Source != SourceBearer {
					t.Fatalf("refused (%d %s) or wrong identity %+v", w.Code, w.Header().Get("WWW-Authenticate"), id)
				}
				return
			}
			if id != nil || w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("accepted or not answered invalid_token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
