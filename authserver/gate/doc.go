// Package gate is Gatehouse's identity-aware gate: it lets a request
// through to the protected application only when it carries a verified
// identity, and says who the user is in request headers.
//
// Identity comes from one of two places:
//
//   - a browser session: the gate is an OpenID Connect relying party for
//     its site. An unauthenticated browser is sent to the issuer's
//     authorization endpoint (state, nonce, PKCE S256), comes back to the
//     gate's callback, and gets the gate's own encrypted session cookie;
//   - a Bearer access token (RFC 6750): a JWT access token (RFC 9068)
//     verified locally against the issuer's keys, with this resource in its
//     audience. Verified tokens are cached by their SHA-256 until they
//     expire, so the hot path does no signature check.
//
// Invariants:
//   - Every header the gate may set is deleted from the incoming request
//     before anything else happens, so a client can never spoof identity.
//   - The gate's cookies never reach the upstream.
//   - Only same-site relative URLs are followed after login (no open
//     redirect); the authorization response's state and iss are checked.
//   - Revocations at the same-Caddy issuer (logout, revoked grants) stop
//     gate sessions and cached tokens within one revocation poll interval,
//     without a store round trip per request.
package gate
