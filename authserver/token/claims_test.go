package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestAudienceJSON(t *testing.T) {
	marshal := []struct {
		in   Audience
		want string
	}{
		{Audience{"a"}, `"a"`},
		{Audience{"a", "b"}, `["a","b"]`},
		{nil, `[]`},
		{Audience{}, `[]`},
	}
	for _, tt := range marshal {
		if got := string(mustJSON(t, tt.in)); got != tt.want {
			t.Errorf("Marshal(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	unmarshal := []struct {
		in      string
		want    Audience
		wantErr bool
	}{
		{`"a"`, Audience{"a"}, false},
		{`["a"]`, Audience{"a"}, false},
		{`["a","b"]`, Audience{"a", "b"}, false},
		{`[]`, Audience{}, false},
		{`null`, nil, false},
		{`""`, Audience{""}, false},
		{`1`, nil, true},
		{`{"a":1}`, nil, true},
		{`["a",1]`, nil, true},
		{`true`, nil, true},
	}
	for _, tt := range unmarshal {
		var got struct {
			Aud Audience `json:"aud"`
		}
		err := json.Unmarshal([]byte(`{"aud":`+tt.in+`}`), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !slices.Equal(got.Aud, tt.want) {
			t.Errorf("Unmarshal(%s) = %#v, want %#v", tt.in, got.Aud, tt.want)
		}
	}
	if !(Audience{"x", "y"}).Contains("y") || (Audience{"x"}).Contains("X") || Audience(nil).Contains("") {
		t.Error("Contains is wrong")
	}
}

func TestNumericDateJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    NumericDate
		wantErr bool
	}{
		{`1700000000`, 1700000000, false},
		{`0`, 0, false},
		{`-5`, -5, false},
		{`1700000000.9`, 1700000000, false},
		{`-1.5`, -2, false},
		{`1.7e9`, 1700000000, false},
		{`"1700000000"`, 0, true},
		{`true`, 0, true},
		{`1e300`, 0, true},
		{`9223372036854775808`, 0, true},
	}
	for _, tt := range tests {
		var got NumericDate
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
	d := NewNumericDate(time.Date(2030, 1, 2, 3, 4, 5, 999, time.UTC))
	if string(mustJSON(t, d)) != "1893553445" || !d.Time().Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("NumericDate round trip: %s, %v", mustJSON(t, d), d.Time())
	}
}

func decodeMap(t *testing.T, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, v), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAccessTokenClaimsJSON(t *testing.T) {
	m := decodeMap(t, AccessTokenClaims{})
	for _, required := range []string{"iss", "sub", "aud", "client_id", "exp", "iat", "jti"} {
		if _, ok := m[required]; !ok {
			t.Errorf("required claim %s omitted", required)
		}
	}
	for _, optional := range []string{"scope", "nbf", "auth_time", "grant_id"} {
		if _, ok := m[optional]; ok {
			t.Errorf("empty optional claim %s emitted", optional)
		}
	}
	c := accessClaims()
	c.Audience = Audience{"https://a.example", "https://b.example"}
	m = decodeMap(t, c)
	if _, ok := m["aud"].([]any); !ok {
		t.Errorf("two audiences encoded as %T", m["aud"])
	}
	if m["grant_id"] != "grant-1" || m["scope"] != "openid profile" {
		t.Errorf("claims = %v", m)
	}
	if got := c.Scopes(); !slices.Equal(got, []string{"openid", "profile"}) {
		t.Errorf("Scopes = %v", got)
	}
}

func TestIDTokenClaimsJSON(t *testing.T) {
	yes := true
	tests := []struct {
		name    string
		claims  IDTokenClaims
		present map[string]any // claim -> expected value (nil: any)
		absent  []string
	}{
		{
			name:    "minimal",
			claims:  IDTokenClaims{Issuer: "i", Subject: "s", Audience: Audience{"c"}, Expiry: 2, IssuedAt: 1},
			present: map[string]any{"iss": "i", "sub": "s", "aud": "c", "exp": 2.0, "iat": 1.0},
			absent: []string{"auth_time", "nonce", "at_hash", "azp", "sid", "name", "preferred_username",
				"email", "email_verified", "phone_number", "phone_number_verified", "groups"},
		},
		{
			name:    "email without verified flag gets false",
			claims:  IDTokenClaims{Email: "a@example.test", PhoneNumber: "+15550100"},
			present: map[string]any{"email": "a@example.test", "email_verified": false, "phone_number_verified": false},
		},
		{
			name:    "explicit verified flags kept",
			claims:  IDTokenClaims{Email: "a@example.test", EmailVerified: &yes, PhoneNumber: "+1", PhoneNumberVerified: &yes},
			present: map[string]any{"email_verified": true, "phone_number_verified": true},
		},
		{
			name: "optional claims",
			claims: IDTokenClaims{AuthTime: 5, Nonce: "n", AccessTokenHash: "h", AuthorizedParty: "c", SessionID: "sid1",
				Name: "N", PreferredUsername: "u", Groups: []string{"g1", "g2"}},
			present: map[string]any{"auth_time": 5.0, "nonce": "n", "at_hash": "h", "azp": "c", "sid": "sid1",
				"name": "N", "preferred_username": "u", "groups": nil},
			absent: []string{"email_verified", "phone_number_verified"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeMap(t, tt.claims)
			for k, want := range tt.present {
				got, ok := m[k]
				if !ok {
					t.Errorf("claim %s missing", k)
				} else if want != nil && got != want {
					t.Errorf("claim %s = %v, want %v", k, got, want)
				}
			}
			for _, k := range tt.absent {
				if _, ok := m[k]; ok {
					t.Errorf("claim %s present", k)
				}
			}
			// Pointer and value marshal the same way.
			if string(mustJSON(t, &tt.claims)) != string(mustJSON(t, tt.claims)) {
				t.Error("pointer and value encodings differ")
			}
		})
	}
}

func TestAtHash(t *testing.T) {
	const tok = "jHkWEdUXMU1BwAsC4vtUsZwnNHBBlXVc"
	leftHalf := func(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]) }
	s256 := sha256.Sum256([]byte(tok))
	s384 := sha512.Sum384([]byte(tok))
	s512 := sha512.Sum512([]byte(tok))
	tests := []struct {
		alg  string
		want string
	}{
		// Known answers computed with Python's hashlib, independently of Go.
		{"RS256", "L98h1r0OXfAJ0edTxjE9mA"},
		{"ES384", "wKBrg3E2I9ZkcqRW2EYxJG76bKdJICQ-"},
		{"EdDSA", "VuDOSEuMYtz4-PXQOdWOIoC9wANuP41jTalPf86BU-o"},
		// And the definition, recomputed here.
		{"ES256", leftHalf(s256[:])},
		{"PS256", leftHalf(s256[:])},
		{"RS384", leftHalf(s384[:])},
		{"PS512", leftHalf(s512[:])},
		{"ES512", leftHalf(s512[:])},
		{"none", ""},
		{"ES256K", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := AtHash(tt.alg, tok); got != tt.want {
			t.Errorf("AtHash(%s) = %q, want %q", tt.alg, got, tt.want)
		}
	}
	if got := AtHash("ES256", ""); got != "47DEQpj8HBSa-_TImW-5JA" {
		t.Errorf("AtHash of empty token = %q", got)
	}
	if len(AtHash("ES256", tok)) != 22 {
		t.Error("SHA-256 at_hash must be 16 bytes (22 base64url characters)")
	}
}
