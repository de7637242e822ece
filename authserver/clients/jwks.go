package clients

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Limits on a client's key set: a few keys (rotation needs two), each
// public, asymmetric and of a sound size.
const (
	maxClientKeys    = 10
	minRSAKeyBits    = 2048
	maxJWKSURILength = 2000
)

// AssertionAlgs are the signature algorithms accepted on client
// assertions (RFC 7523) and DPoP proofs (RFC 9449): asymmetric only, so
// that no shared secret can stand in for a key.
var AssertionAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// ParseJWKS reads a client's JSON Web Key Set (RFC 7517 §5) and checks
// every key: public, asymmetric (RSA of 2048 bits or more, EC, Ed25519),
// not marked for encryption only.
func ParseJWKS(raw []byte) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no keys")
	}
	if len(set.Keys) > maxClientKeys {
		return nil, fmt.Errorf("at most %d keys", maxClientKeys)
	}
	for i, k := range set.Keys {
		if err := CheckPublicKey(k); err != nil {
			return nil, fmt.Errorf("key %d: %v", i+1, err)
		}
	}
	return &set, nil
}

// CheckPublicKey refuses a key that is private, symmetric, too small or
// meant for encryption only.
func CheckPublicKey(k jose.JSONWebKey) error {
	if !k.IsPublic() {
		return errors.New("must be a public key, not a private or symmetric one")
	}
	if !k.Valid() {
		return errors.New("not a valid key")
	}
	if k.Use != "" && k.Use != "sig" {
		return errors.New(`"use" must be "sig"`)
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSAKeyBits {
			return fmt.Errorf("an RSA key must have at least %d bits", minRSAKeyBits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", k.Key)
	}
	return nil
}

// validateKeys checks jwks, jwks_uri and their agreement with the
// authentication method (RFC 7591 §2: not both).
func (m *Metadata) validateKeys(limits bool) error {
	private := m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT
	switch {
	case m.JWKS != "" && m.JWKSURI != "":
		return metadataErr("jwks", "give jwks or jwks_uri, not both")
	case private && m.JWKS == "" && m.JWKSURI == "":
		return metadataErr("jwks", "private_key_jwt needs the client's public keys: jwks or jwks_uri")
	case !private && m.JWKS != "":
		return metadataErr("jwks", "is only used with token_endpoint_auth_method private_key_jwt")
	case !private && m.JWKSURI != "":
		return metadataErr("jwks_uri", "is only used with token_endpoint_auth_method private_key_jwt")
	}
	if m.JWKS != "" {
		if _, err := ParseJWKS([]byte(m.JWKS)); err != nil {
			return metadataErr("jwks", "%v", err)
		}
	}
	if m.JWKSURI != "" {
		if err := ValidateJWKSURI(m.JWKSURI); err != nil {
			return metadataErr("jwks_uri", "%v", err)
		}
	}
	return nil
}

// ValidateJWKSURI accepts an absolute https URL without credentials or
// fragment. Where it may be fetched from is decided at fetch time
// (JWKSFetcher), on the address actually dialled.
func ValidateJWKSURI(raw string) error {
	if len(raw) > maxJWKSURILength {
		return fmt.Errorf("must be at most %d bytes", maxJWKSURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have user information or a fragment")
	}
	return nil
}
