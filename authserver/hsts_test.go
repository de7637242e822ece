package authserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHSTS: an https issuer tells browsers never to use plain http with
// it again (RFC 6797), except on loopback hosts, where one HSTS entry
// would pin every local development port to https.
func TestHSTS(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://issuer.example":        "max-age=31536000",
		"https://issuer.example/tenant": "max-age=31536000",
		"https://localhost:8443":        "",
		"https://127.0.0.1:8443":        "",
		"http://127.0.0.1:8080":         "",
	} {
		s := newTestServer(t, issuer, "")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, fuzzRequest(http.MethodGet, s.prefix+"/.well-known/openid-configuration", "", "", ""))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: discovery answered %d", issuer, rec.Code)
		}
		if got := rec.Header().Get("Strict-Transport-Security"); got != want {
			t.Errorf("%s: Strict-Transport-Security %q, want %q", issuer, got, want)
		}
	}
}
