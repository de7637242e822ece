package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) a KeyManager can generate
// keys for and sign with.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
	PS256 = "PS256" // RSASSA-PSS with SHA-256, 2048-bit keys
	EdDSA = "EdDSA" // Ed25519
)

// Values of the "typ" header for the tokens Gatehouse issues.
const (
	TypeAccessToken = "at+jwt"     // RFC 9068 §2.1
	TypeIDToken     = "JWT"        // OIDC Core §2 (conventional, not mandated)
	TypeLogoutToken = "logout+jwt" // OIDC Back-Channel Logout §2.4
)

// DefaultAlgorithms returns the algorithms a KeyManager keys for when
// KeyOptions.Algorithms is empty: ES256 for compact tokens and RS256, which
// OIDC Core §15.1 requires every OpenID Provider to support.
func DefaultAlgorithms() []string {
	return []string{ES256, RS256}
}

const rsaKeyBits = 2048

// minRSABits is the smallest RSA modulus accepted for verification
// (RFC 7518 §3.3 and §3.5 require at least 2048 bits).
const minRSABits = 2048

// generateKey creates a private key for a signing algorithm.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256, PS256:
		return rsa.GenerateKey(rand.Reader, rsaKeyBits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("token: unsupported signing algorithm %q", alg)
}

// isSigningAlg reports whether a KeyManager can key for alg.
func isSigningAlg(alg string) bool {
	switch alg {
	case ES256, RS256, PS256, EdDSA:
		return true
	}
	return false
}

// verifiableAlgs are the only algorithms a Verifier ever accepts, whatever
// it is configured with: asymmetric ones. "none" and the HMAC family are
// absent on purpose (RFC 8725 §2.1, §3.1).
var verifiableAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// keyFitsAlg reports whether pub is a public key of the type (and curve,
// and minimum size) that alg requires. It is the defence against algorithm
// confusion: an RSA key is never used for an ES256 header, and no public
// key is ever used as an HMAC secret.
func keyFitsAlg(pub any, alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && k != nil && k.N != nil && k.N.BitLen() >= minRSABits
	case "ES256":
		return ecOnCurve(pub, elliptic.P256())
	case "ES384":
		return ecOnCurve(pub, elliptic.P384())
	case "ES512":
		return ecOnCurve(pub, elliptic.P521())
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

func ecOnCurve(pub any, c elliptic.Curve) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && k != nil && k.Curve == c
}

// jwkFitsAlg reports whether a JWK may verify a signature made with alg: it
// must be a signing key ("use" absent or "sig"), declare alg or no
// algorithm at all, and hold a public key of the right type.
func jwkFitsAlg(k *jose.JSONWebKey, alg string) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	return keyFitsAlg(k.Key, alg)
}
