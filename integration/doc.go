// Package integration holds end-to-end tests: a real Caddy, started
// in-process from a Caddyfile, with Gatehouse on a real SQLite store,
// driven by real OAuth 2.0 / OpenID Connect client libraries.
//
// Caddy runs one configuration per process, so these tests do not run in
// parallel with each other.
//
// The helpers the tests share are the harness, in harness_*_test.go (Caddy
// and HTTP, Caddyfile.example, the cookie-keeping browser, OAuth clients,
// the multi-process cluster) and browser_harness_test.go (Chromium); a
// test file keeps only the helpers no other file uses.
package integration
