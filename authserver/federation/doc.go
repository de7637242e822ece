// Package federation signs users in through upstream identity providers:
// any OpenID Connect provider found by issuer discovery (oidc.go), and
// GitHub, which speaks OAuth 2.0 without OpenID Connect (github.go).
//
// A Provider builds the upstream authorization request and turns the
// upstream's answer at the callback into an Identity, checking everything
// the standards ask: state bound to the browser (the caller keeps a Flow
// in a cookie), PKCE S256 (RFC 7636) on every request, the OIDC nonce,
// the RFC 9207 iss parameter against mix-up attacks, and the ID token
// (signature, issuer, audience, expiry) through go-oidc. It knows nothing
// of users or sessions: the authorization server (authserver/federated.go)
// links an Identity to a user.
//
// Every failure is an *Error whose Cause names what went wrong in words an
// operator can search logs for; none carries upstream secrets.
package federation
