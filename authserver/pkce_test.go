package authserver

import (
	"strings"
	"testing"
)

func TestVerifyS256(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !verifyS256(verifier, challenge) {
		t.Fatal("RFC 7636 Appendix B example does not verify")
	}
	if verifyS256(verifier+"x", challenge) || verifyS256(verifier, strings.ToLower(challenge)) {
		t.Fatal("a wrong verifier or challenge verified")
	}
	if !isS256Challenge(challenge) || isS256Challenge(challenge[:42]) || isS256Challenge(challenge[:42]+"=") {
		t.Fatal("isS256Challenge misjudged")
	}
}

func TestCheckPKCE(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	tests := []struct {
		name, challenge, verifier string
		ok                        bool
	}{
		{"no PKCE", "", "", true},
		{"match", challenge, verifier, true},
		{"downgrade: verifier without challenge", "", verifier, false},
		{"missing verifier", challenge, "", false},
		{"too short", challenge, "abc", false},
		{"too long", challenge, strings.Repeat("a", 129), false},
		{"bad characters", challenge, strings.Repeat("a", 42) + "!", false},
		{"mismatch", challenge, strings.Repeat("a", 43), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPKCE(tc.challenge, tc.verifier)
			if (err == nil) != tc.ok {
				t.Fatalf("checkPKCE = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && err.Code != "invalid_grant" {
				t.Fatalf("code = %q, want invalid_grant", err.Code)
			}
		})
	}
}
