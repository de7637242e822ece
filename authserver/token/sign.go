package token

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// JWKS returns the public JWK Set (RFC 7517 §5) of every key not retired as
// of the last Load, newest first. Each key has kty, kid, alg, use "sig" and
// its public parameters only. Before the first Load it is {"keys":[]}.
func (m *KeyManager) JWKS() []byte {
	ks := m.cur.Load()
	if ks == nil {
		return []byte(`{"keys":[]}`)
	}
	return bytes.Clone(ks.jwks)
}

// Sign serialises claims with encoding/json and returns them as a compact
// JWS (RFC 7515 §7.1) signed with the current key for alg. The protected
// header carries alg, kid and, when typ is non-empty, typ (for example
// TypeAccessToken, TypeIDToken, TypeLogoutToken).
func (m *KeyManager) Sign(alg string, typ string, claims any) (string, error) {
	k := m.cur.Load().signer(alg, m.now())
	if k == nil {
		return "", fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: encoding claims: %w", err)
	}
	s, err := k.signer(typ)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: signing with %s: %w", alg, err)
	}
	return jws.CompactSerialize()
}

// signer returns a cached go-jose signer for typ, creating it on first use.
// go-jose signers hold no mutable state, so one may sign concurrently.
func (k *managedKey) signer(typ string) (jose.Signer, error) {
	k.sigMu.RLock()
	s := k.signers[typ]
	k.sigMu.RUnlock()
	if s != nil {
		return s, nil
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.rec.Algorithm),
		// A JSONWebKey with KeyID makes go-jose put kid in the header.
		Key: jose.JSONWebKey{Key: k.priv, KeyID: k.rec.ID},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("token: signer for %s: %w", k.rec.Algorithm, err)
	}
	k.sigMu.Lock()
	defer k.sigMu.Unlock()
	if k.signers == nil {
		k.signers = make(map[string]jose.Signer)
	}
	if prev := k.signers[typ]; prev != nil {
		return prev, nil
	}
	if len(k.signers) < maxCachedSigners {
		k.signers[typ] = s
	}
	return s, nil
}

// VerificationKeys implements KeySource with the keys of the last Load: the
// public key with that kid, unless it has been retired since.
func (m *KeyManager) VerificationKeys(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	ks := m.cur.Load()
	if ks == nil {
		return nil, nil
	}
	k := ks.byKID[kid]
	if k == nil || ks.retired(kid, m.now()) {
		return nil, nil
	}
	return []jose.JSONWebKey{k.pub}, nil
}
