// Package token issues and verifies the JSON Web Tokens Gatehouse hands out:
// RFC 9068 access tokens, OpenID Connect ID tokens and logout tokens.
//
// A KeyManager owns the signing keys. It keeps them in the store sealed
// (package seal) with the key's kid as associated data, opens them into
// memory on Load, publishes their public halves as a JWK Set (RFC 7517 §5)
// and signs compact JWS (RFC 7515 §7.1) with them. A Verifier checks tokens
// against any KeySource, of which the KeyManager is one.
//
// Invariants:
//
//   - Private keys are in plaintext only in process memory. In the store they
//     are PKCS#8 DER sealed with associated data = kid, so a sealed key moved
//     to another record does not open.
//   - The JWK Set contains public members only (kty, kid, alg, use and
//     crv/x/y or n/e); it never carries d, p, q, dp, dq, qi or k.
//   - Per algorithm there is one signing key: the newest by (CreatedAt, ID)
//     that has started signing and is usable. A key is usable for signing
//     until its NotAfter and is published until it retires (its RetireAt,
//     or Retention after a newer key took over); retired keys are neither
//     published nor used to verify. Stored keys are never modified.
//   - Rotation: a key created while another of its algorithm signs (by the
//     schedule or Rotate) is published at once but signs only PrePublication
//     later, so caches everywhere have it first. When a key starts and
//     retires is derived from the stored keys alone, so every instance
//     computes the same schedule and switches at the same moment.
//   - Processes that start together on one store agree on their keys: a key
//     the KeyManager generates gets a kid derived from the set of keys it saw
//     (see KeyManager.Load), so concurrent generators collide on the store's
//     unique kid and all but one adopt the winner's key.
//   - Verification accepts asymmetric algorithms only (never "none" or HS*,
//     whatever the configuration says), requires a kid, and requires the key
//     it names to be of the header's algorithm both by its "alg" member and
//     by its key type and curve (RFC 8725 §2.1, §3.1). The signature is
//     checked before any claim is looked at.
//   - exp is required; nbf and iat are checked when present; iss must equal
//     the expected issuer and aud must contain the expected audience when
//     one is configured (RFC 7519 §4.1, RFC 9068 §4, OIDC Core §3.1.3.7).
//   - Explicit typing (RFC 8725 §3.11): when a Verifier has a Type, the typ
//     header must match it, so an ID token is never accepted as an access
//     token or the other way round.
//   - Error messages never contain token contents or key material.
package token
