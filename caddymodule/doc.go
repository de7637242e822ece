// Package caddymodule is the Caddy glue of Gatehouse: it turns Caddyfile
// and JSON configuration into the protocol core's objects (package
// authserver) and mounts them as Caddy modules. It holds no protocol
// logic.
//
// Modules:
//
//	gatehouse                 the app: issuer, store, keys, users, clients
//	gatehouse.storage.sqlite  the embedded SQLite store
//	http.handlers.authserver  serves the authorization server's endpoints
//	admin.api.gatehouse       manages clients on Caddy's admin endpoint (admin.go)
package caddymodule
