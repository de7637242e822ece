// Package integration holds end-to-end tests: a real Caddy, started
// in-process from a Caddyfile, with Gatehouse on a real SQLite store,
// driven by real OAuth 2.0 / OpenID Connect client libraries.
//
// Caddy runs one configuration per process, so these tests do not run in
// parallel with each other.
package integration
