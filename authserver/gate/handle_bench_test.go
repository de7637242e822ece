package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// BenchmarkHandle: the gate's own work for a request that passes, caches
// warm: a browser with the session cookie among others, and an API
// client with a Bearer token. Each iteration clones the request's
// headers (the gate edits them); "clone-only" is that cost alone, to
// subtract. Profile with
//
//	go test ./authserver/gate -run '^$' -bench BenchmarkHandle -benchmem -cpuprofile cpu.out
func BenchmarkHandle(b *testing.B) {
	f := ast.New(b, ast.Options{})
	s := newSite(b, localGate(b, f, Config{}))
	if resp := s.signIn(f.NewBrowser(b), "/"); resp.StatusCode != http.StatusFound {
		b.Fatalf("sign-in through the gate: %d", resp.StatusCode)
	}
	cookieReq := httptest.NewRequest(http.MethodGet, gateOrigin+"/page", nil)
	cookieReq.Header.Set("Accept", "text/html,application/xhtml+xml")
	cookieReq.Header.Set("User-Agent", "Mozilla/5.0 (benchmark)")
	cookieReq.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	cookieReq.AddCookie(&http.Cookie{Name: "_ga", Value: "GA1.1.123456789.1700000000"})
	s.j.add(cookieReq)
	cookieReq.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})

	q := ast.Edit(f.AuthorizeQuery(ast.FirstParty, "openid email profile groups"), url.Values{"resource": {gateOrigin}})
	tok := f.Exchange(b, ast.FirstParty, f.NewBrowser(b).Code(q))
	bearerReq := httptest.NewRequest(http.MethodGet, gateOrigin+"/api", nil)
	bearerReq.Header.Set("Accept", "application/json")
	bearerReq.Header.Set("User-Agent", "client/1.0")
	bearerReq.Header.Set("Authorization", "Bearer "+tok.AccessToken)

	for _, tc := range []struct {
		name     string
		template *http.Request
		gate     bool
	}{
		{"clone-only", cookieReq, false},
		{"cookie", cookieReq, true},
		{"bearer", bearerReq, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := tc.template.Clone(tc.template.Context())
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				r.Header = tc.template.Header.Clone()
				if tc.gate && s.g.Handle(w, r, gateOrigin) == nil {
					b.Fatalf("refused: %d", w.Code)
				}
			}
		})
	}
}
