// Package caddymodule is the Caddy glue of Gatehouse: it turns Caddyfile
// and JSON configuration into the protocol core's objects (package
// authserver) and mounts them as Caddy modules. It holds no protocol
// logic.
//
// Modules, with their Caddyfile forms:
//
//	gatehouse                    the app: issuer, store, keys, users, clients (app.go)
//	                             Caddyfile: the `gatehouse { ... }` global option (caddyfile.go)
//	http.handlers.authserver     serves the issuer's endpoints and pages (authserver_handler.go)
//	                             Caddyfile: the `authserver` directive, no arguments
//	http.handlers.authgate       the identity gate in front of a site (authgate_handler.go)
//	                             Caddyfile: the `authgate [<matcher>] { ... }` directive (authgate_caddyfile.go)
//	gatehouse.storage.sqlite     the embedded SQLite store (storage.go)
//	                             Caddyfile: `storage sqlite [<path>]` in the global option
//	gatehouse.storage.postgres   the PostgreSQL store, shared by several instances (storage.go)
//	                             Caddyfile: `storage postgres { dsn ... }` in the global option
//	admin.api.gatehouse          manages clients on Caddy's admin endpoint (admin.go)
//	admin.api.gatehouse_users    users' connected apps on the admin endpoint (admin_users.go)
//	admin.api.gatehouse_ops      health, signing keys (list, rotate) on the admin endpoint (admin_ops.go)
//	admin.api.gatehouse_audit    the audit records kept in the store (admin_audit.go)
//	                             all four: no Caddyfile form; Caddy loads every admin.api
//	                             module while its admin endpoint is on (not `admin off`)
//
// It also adds the `caddy gatehouse` command (hash-password, clients,
// users, keys, health, backup, restore, audit; command.go).
package caddymodule
