package gate

// Fuzz target of the gate's session cookie path. Run it for longer with:
//
//	go test -run '^$' -fuzz '^FuzzGateSessionCookie$' -fuzztime 10m ./authserver/gate

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

var fuzzOrigins = []string{"https://app.example", "https://other.example"}

func newFuzzGate(tb testing.TB) *Gate {
	tb.Helper()
	renderer, err := ui.New(ui.Branding{}, "")
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(Config{
		// Never contacted: only cookies are fuzzed.
		Provider:      &OIDCProvider{IssuerURL: "https://idp.example", ClientID: "gate"},
		CookieSecrets: [][]byte{[]byte("gate-fuzz-cookie-secret-0123456789")},
		UI:            renderer,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// genuineCookie is the Cookie header a browser would send after a login
// at origin.
func genuineCookie(tb testing.TB, g *Gate, origin string, v sessionValue) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	if err := g.writeSession(rec, origin, v); err != nil {
		tb.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	return c.Name + "=" + c.Value
}

// FuzzGateSessionCookie: whatever Cookie header arrives, the gate lets a
// request through only with a session cookie it sealed itself for this
// very site, tells the upstream exactly that session's user (client-sent
// identity headers never survive), and removes its cookies from what the
// upstream sees. (A cookie merely named "gatehouse" is not one of them:
// the first crasher, kept in testdata, was the test's mistake.)
func FuzzGateSessionCookie(f *testing.F) {
	g := newFuzzGate(f)
	now := g.now().Unix()
	alice := sessionValue{Subject: "alice", Username: "alice", Email: "alice@example.com", Groups: []string{"staff"},
		Issuer: "https://idp.example", Created: now, LastSeen: now}
	for i, origin := range fuzzOrigins {
		c := genuineCookie(f, g, origin, alice)
		f.Add(c, uint8(i))
		f.Add(c, uint8(i+1))
		f.Add("theme=dark; "+c+"; gatehouse_gate_login_x=1", uint8(i))
		f.Add(c[:len(c)-3], uint8(i))
		f.Add(strings.Replace(c, "__Host-", "", 1), uint8(i))
	}
	f.Add("__Host-gatehouse_gate=", uint8(0))
	f.Add("__Host-gatehouse_gate=a; __Host-gatehouse_gate=b", uint8(0))
	f.Fuzz(func(t *testing.T, cookieHeader string, originIdx uint8) {
		if strings.ContainsAny(cookieHeader, "\r\n") {
			return // not a header value net/http would deliver
		}
		origin := fuzzOrigins[int(originIdx)%len(fuzzOrigins)]
		r := httptest.NewRequest(http.MethodGet, "https://app.example/data", nil)
		r.Header.Set("Cookie", cookieHeader)
		r.Header.Set("Accept", "application/json")
		r.Header.Set("X-Gatehouse-User-Id", "mallory")
		sent := r.Clone(r.Context())
		id := g.Handle(httptest.NewRecorder(), r, origin)
		if id == nil {
			if r.Header.Get("X-Gatehouse-User-Id") == "mallory" {
				t.Fatal("a refused request kept the spoofed identity header")
			}
			return
		}
		// The test's own check: the first cookie of the gate's name must
		// open with this site's name binding.
		c, err := sent.Cookie(g.cookieName)
		var v sessionValue
		if err != nil || g.codec.Decode(g.cookieValueName(origin), c.Value, &v) != nil {
			t.Fatalf("let through with %q at %s, which is not a session of this site", cookieHeader, origin)
		}
		for _, o := range fuzzOrigins {
			if o != origin && g.codec.Decode(g.cookieValueName(o), c.Value, &v) == nil {
				t.Fatalf("one cookie opens for two sites")
			}
		}
		if id.Subject != v.Subject || r.Header.Get("X-Gatehouse-User-Id") != v.Subject || len(r.Header.Values("X-Gatehouse-User-Id")) != 1 {
			t.Fatalf("identity %q, header %q, cookie subject %q", id.Subject, r.Header.Values("X-Gatehouse-User-Id"), v.Subject)
		}
		for _, fwd := range r.Cookies() {
			if strings.HasPrefix(strings.TrimPrefix(fwd.Name, "__Host-"), "gatehouse_") {
				t.Fatalf("cookie %s reached the upstream", fwd.Name)
			}
		}
		if strings.Contains(r.Header.Get("Cookie"), c.Value) {
			t.Fatal("the session cookie's value reached the upstream")
		}
	})
}
