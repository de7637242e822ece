package token

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// TestVerifyClaimNamesAreCaseSensitive: a claim name that differs from a
// checked or read claim only in case is refused, so Verify and its caller
// never read different members (encoding/json matches names
// case-insensitively).
func TestVerifyClaimNamesAreCaseSensitive(t *testing.T) {
	m := fixture()
	base := `"iss":"https://id.example.test","aud":"https://api.example.test","exp":1893556145,"sub":"alice"`
	for _, tc := range []struct {
		name, claims string
		ok           bool
	}{
		{"exact names", `{` + base + `,"client_id":"c","custom":"x"}`, true},
		{"unknown names in any case", `{` + base + `,"Custom":"x","CUSTOM2":"y"}`, true},
		{"aud in another case only", `{"iss":"https://id.example.test","aUd":"https://api.example.test","exp":1893556145}`, false},
		{"ISS beside iss", `{` + base + `,"ISS":"https://evil.example"}`, false},
		{"Sub beside sub", `{` + base + `,"Sub":"admin"}`, false},
		{"caller's claim in another case", `{` + base + `,"Client_ID":"evil"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, m, ES256, TypeAccessToken, json.RawMessage(tc.claims))
			var c AccessTokenClaims
			err := fuzzVerifier().Verify(context.Background(), raw, &c)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("Verify = %v, want ok %v (or ErrMalformed)", err, tc.ok)
			}
		})
	}
}
