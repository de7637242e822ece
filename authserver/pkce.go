package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// isPKCEValue reports whether s is a valid code_verifier (RFC 7636 §4.1:
// 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~").
func isPKCEValue(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// isS256Challenge reports whether s can be an S256 code_challenge: the
// unpadded base64url encoding of a SHA-256 digest is 43 characters.
func isS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// verifyS256 checks verifier against challenge (RFC 7636 §4.6):
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
func verifyS256(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
