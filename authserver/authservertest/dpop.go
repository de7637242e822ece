package authservertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoPKey makes DPoP proofs (RFC 9449 §4.2) the way a client does, for
// tests: no DPoP client library is among the dependencies, so this is
// written from the RFC, with go-jose for the signature.
type DPoPKey struct {
	Key crypto.Signer
	Alg jose.SignatureAlgorithm
}

// NewDPoPKey returns a fresh P-256 key (ES256).
func NewDPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &DPoPKey{Key: k, Alg: jose.ES256}
}

// JKT is the key's JWK SHA-256 thumbprint (RFC 7638), base64url.
func (k *DPoPKey) JKT(t testing.TB) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.Key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// ProofOptions vary a proof; the zero value is a correct proof.
type ProofOptions struct {
	// AccessToken sets ath (resource requests).
	AccessToken string
	Nonce       string
	// IssuedAt; default now.
	IssuedAt time.Time
	// JTI; default random.
	JTI string
	// Type replaces "dpop+jwt" in the header.
	Type string
	// Edit changes the claims last (delete one, set a wrong value).
	Edit func(claims map[string]any)
	// HeaderKey replaces the public key put in the jwk header.
	HeaderKey any
}

// Proof is a DPoP proof for method and url (htm, htu).
func (k *DPoPKey) Proof(t testing.TB, method, url string, o ProofOptions) string {
	t.Helper()
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := o.JTI
	if jti == "" {
		jti = rand.Text()
	}
	claims := map[string]any{"jti": jti, "htm": method, "htu": url, "iat": iat.Unix()}
	if o.AccessToken != "" {
		sum := sha256.Sum256([]byte(o.AccessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	if o.Edit != nil {
		o.Edit(claims)
	}
	typ := o.Type
	if typ == "" {
		typ = "dpop+jwt"
	}
	pub := o.HeaderKey
	if pub == nil {
		pub = k.Key.Public()
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("jwk", jose.JSONWebKey{Key: pub})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
