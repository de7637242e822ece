package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
)

// AtHash returns the at_hash of an access token for an ID token signed with
// alg (OIDC Core §3.1.3.6): the base64url encoding, without padding, of the
// left-most half of the hash of the ASCII access token, where the hash is
// the one alg uses: SHA-256 for *256, SHA-384 for *384, SHA-512 for *512.
//
// For EdDSA the hash is SHA-512, the hash Ed25519 uses internally; this is
// what OIDC Core errata set 2 specifies and what relying parties implement.
// (Ed448 would need SHAKE256 and is not supported.)
//
// AtHash returns "" for an algorithm it does not know, which makes the
// omitempty at_hash claim disappear rather than carry a wrong value.
// The same function computes c_hash (OIDC Core §3.3.2.11) from a code.
func AtHash(alg string, accessToken string) string {
	var h hash.Hash
	switch alg {
	case "ES256", "RS256", "PS256", "HS256":
		h = sha256.New()
	case "ES384", "RS384", "PS384", "HS384":
		h = sha512.New384()
	case "ES512", "RS512", "PS512", "HS512", "EdDSA":
		h = sha512.New()
	default:
		return ""
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
