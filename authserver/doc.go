// Package authserver is the protocol core of Gatehouse: an OAuth 2.0 and
// OpenID Connect authorization server built on net/http alone. It knows
// nothing of Caddy; package caddymodule configures and mounts it.
//
// Routes, relative to the issuer URL's path:
//
//	GET|POST /authorize                            authorize.go (RFC 6749 §4.1, OIDC Core §3.1.2)
//	GET|POST /login, /consent                      login.go, consent.go (pages)
//	POST     /token                                token.go, grant_*.go (RFC 6749 §3.2)
//	GET|POST /userinfo                             userinfo.go (OIDC Core §5.3)
//	GET      /jwks.json                            discovery.go (RFC 7517)
//	GET      /.well-known/openid-configuration     discovery.go (OIDC Discovery §4)
//	GET      /.well-known/oauth-authorization-server  (RFC 8414 §3)
//	POST     /register                             register.go (RFC 7591), unless registration is off
//	GET|PUT|DELETE /register?client_id=            register.go (RFC 7592)
//
// A host runs Server.Run alongside for the background work
// (maintenance.go): reloading and rotating signing keys, polling the
// revocation feed, and deleting expired state.
//
// Invariants:
//   - Errors are redirected only to a redirect_uri that exactly matches one
//     registered for the client (loopback port excepted, RFC 8252 §7.3);
//     otherwise the user sees an error page.
//   - Authorization codes, refresh tokens and session ids are random 256-bit
//     values stored only as SHA-256 hashes; single use of codes and rotation
//     of refresh tokens are decided by the store atomically.
//   - Secrets are compared in constant time; tokens, codes, secrets and
//     cookies are never logged.
package authserver
