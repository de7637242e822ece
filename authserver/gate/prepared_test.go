package gate

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestClaimIndex: the precomputed claims are indexed as KnownClaims, and
// a prepared identity answers Claim exactly as an unprepared one.
func TestClaimIndex(t *testing.T) {
	if len(KnownClaims()) != numClaims {
		t.Fatalf("numClaims = %d, KnownClaims has %d", numClaims, len(KnownClaims()))
	}
	for i, c := range KnownClaims() {
		if got := claimIndex(c); got != i {
			t.Errorf("claimIndex(%q) = %d, want %d", c, got, i)
		}
	}
	g := newTestGate(t, &fakeProvider{}, Config{PlaceholderPrefix: "p."})
	id := Identity{Subject: "s", Username: "u", Email: "e@x", EmailVerified: true, Name: "N\r\nX-Evil: 1", Groups: []string{"a", "b"},
		Scopes: []string{"openid", "email"}, ClientID: "c", Issuer: "https://i", Source: SourceBearer}
	plain := id
	prepared := g.prepare(&id)
	for _, c := range append(KnownClaims(), "unknown") {
		if got, want := prepared.Claim(c), plain.Claim(c); got != want {
			t.Errorf("prepared Claim(%q) = %q, want %q", c, got, want)
		}
	}
	lookup := prepared.Placeholders()
	for key, want := range map[string]any{"p.id": "s", "p.sub": "s", "p.groups": "a,b", "p.scope": "openid email", "p.email_verified": "true"} {
		if got, ok := lookup(key); !ok || got != want {
			t.Errorf("placeholder %s = %v, %v; want %v", key, got, ok, want)
		}
	}
	for _, key := range []string{"p.unknown", "other.id", "p."} {
		if v, ok := lookup(key); ok {
			t.Errorf("placeholder %s = %v, want not found", key, v)
		}
	}
	if (&Identity{}).Placeholders() != nil || newTestGate(t, &fakeProvider{}, Config{}).prepare(&Identity{}).Placeholders() != nil {
		t.Error("placeholders without a prefix")
	}
}

// TestSetHeadersSharedIdentity: requests let through by one cached
// identity get its header values, each in arrays of their own, so a
// handler that edits one request's header in place cannot change what
// the next request is sent; controls in claims never reach a header.
func TestSetHeadersSharedIdentity(t *testing.T) {
	g := newTestGate(t, &fakeProvider{}, Config{})
	id := g.prepare(&Identity{Subject: "s", Email: "e@x", Name: "N\r\nX-Evil: 1", Groups: []string{"a", "b"}, Source: SourceSession})
	first := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	g.SetHeaders(first, id)
	first.Header["X-Gatehouse-Email"][0] = "mallory@x"
	first.Header["X-Gatehouse-Groups"] = append(first.Header["X-Gatehouse-Groups"], "admins")
	second := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	g.SetHeaders(second, id)
	want := http.Header{
		"X-Gatehouse-User-Id": {"s"}, "X-Gatehouse-Email": {"e@x"}, "X-Gatehouse-Email-Verified": {"false"},
		"X-Gatehouse-Name": {"NX-Evil: 1"}, "X-Gatehouse-Groups": {"a,b"}, "X-Gatehouse-Auth-Source": {"session"},
	}
	if fmt.Sprint(second.Header) != fmt.Sprint(want) {
		t.Errorf("second request's headers = %v, want %v", second.Header, want)
	}
	// An identity the gate did not prepare is written the same way.
	third := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	g.SetHeaders(third, &Identity{Subject: "s", Email: "e@x", Name: "N\r\nX-Evil: 1", Groups: []string{"a", "b"}, Source: SourceSession})
	if fmt.Sprint(third.Header) != fmt.Sprint(want) {
		t.Errorf("unprepared identity's headers = %v, want %v", third.Header, want)
	}
}

// TestCookieHeaderValue: the gate finds its cookie as net/http would,
// without parsing the others: the first valid one of that name, quotes
// removed, in any Cookie line.
func TestCookieHeaderValue(t *testing.T) {
	for _, lines := range [][]string{
		{"a=1; gh=v1; b=2"},
		{"gh=v1"},
		{" gh = v1 ;x=y"},
		{`gh="v1"`},
		{`gh="v1`},
		{"gh=bad\\value; gh=good"},
		{"gh=bad\"q; gh=good"},
		{"a=1", "gh=second-line"},
		{"gh="},
		{"ghx=1; xgh=2"},
		{"gh"},
		{";;; gh=v;"},
		{"gh=a=b"},
		{"gh=with space"},
		{"gh=v\x01"},
		{},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		r.Header["Cookie"] = lines
		wantValue, wantOK := "", false
		if c, err := r.Cookie("gh"); err == nil {
			wantValue, wantOK = c.Value, true
		}
		if got, ok := cookieHeaderValue(lines, "gh"); got != wantValue || ok != wantOK {
			t.Errorf("%q: got %q, %v; net/http %q, %v", lines, got, ok, wantValue, wantOK)
		}
	}
}

// TestStripCookiesKeepsOthersAsSent: Gatehouse's cookies go, in every
// line; the others reach the upstream as the browser sent them; a
// request without Gatehouse cookies is not touched.
func TestStripCookiesKeepsOthersAsSent(t *testing.T) {
	g := newTestGate(t, &fakeProvider{}, Config{})
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"a=1; b=2"}, []string{"a=1; b=2"}},
		{[]string{"a=1;b=\"q\""}, []string{"a=1;b=\"q\""}}, // untouched: not rewritten
		{[]string{"a=1; " + g.cookieName + "=s; b=2"}, []string{"a=1; b=2"}},
		{[]string{g.cookieName + "=s"}, nil},
		{[]string{"__Host-gatehouse_session=x", "gatehouse_csrf=y; theme=dark"}, []string{"theme=dark"}},
		{[]string{g.loginCookiePrefix + "abc=1; a=\"q\"; ;"}, []string{`a="q"`}},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		r.Header["Cookie"] = tc.in
		g.stripCookies(r)
		if got := r.Header["Cookie"]; fmt.Sprint(got) != fmt.Sprint(tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("%q: Cookie = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestGateCacheBounds: with more live Bearer tokens and sessions than
// the configured bounds, every one is still let through (verified again
// when it was evicted), and the caches never hold more than their bound.
func TestGateCacheBounds(t *testing.T) {
	const bound, live = 20, 75
	f := ast.New(t, ast.Options{})
	g := localGate(t, f, Config{TokenCacheSize: bound, SessionCacheSize: bound})
	now := f.Clock.Now()
	// Distinct tokens (by jti) of one user: the gate looks a Bearer
	// token's user up, so its subject must exist.
	tokens := make([]string, live)
	for i := range tokens {
		raw, err := f.Keys.Sign("ES256", "at+jwt", token.AccessTokenClaims{
			Issuer: ast.Issuer, Subject: ast.AliceID, Audience: token.Audience{gateOrigin}, ClientID: ast.FirstParty,
			Scope: "openid", Expiry: token.NewNumericDate(now.Add(time.Hour)), IssuedAt: token.NewNumericDate(now), JWTID: fmt.Sprint("jti-", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = raw
	}
	cookies := make([]string, live)
	for i := range cookies {
		enc, err := g.codec.Encode(g.cookieValueName(gateOrigin), sessionValue{ID: fmt.Sprint(i), Subject: fmt.Sprint("user-", i), Issuer: ast.Issuer,
			Created: now.Unix(), LastSeen: now.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		cookies[i] = enc
	}
	for round := range 3 {
		for i := range live {
			r := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
			r.Header.Set("Authorization", "Bearer "+tokens[i])
			if id := g.Handle(httptest.NewRecorder(), r, gateOrigin); id == nil || id.Subject != ast.AliceID {
				t.Fatalf("round %d: token %d refused or misread: %+v", round, i, id)
			}
			r = httptest.NewRequest(http.MethodGet, gateOrigin+"/page", nil)
			r.AddCookie(&http.Cookie{Name: g.cookieName, Value: cookies[i]})
			if id := g.Handle(httptest.NewRecorder(), r, gateOrigin); id == nil || id.Subject != fmt.Sprint("user-", i) {
				t.Fatalf("round %d: session %d refused or misread: %+v", round, i, id)
			}
			if n, m := len(g.tokens.entries), len(g.sessions.entries); n > bound || m > bound {
				t.Fatalf("caches hold %d tokens and %d sessions, bound %d", n, m, bound)
			}
		}
	}
}
