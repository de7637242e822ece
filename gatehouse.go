// Package gatehouse adds Gatehouse, an OAuth 2.0 / OpenID Connect
// authorization server and identity-aware gate, to Caddy. Importing it
// registers the Caddy modules, so
//
//	xcaddy build --with github.com/gatehouse-auth/gatehouse
//
// builds a Caddy with Gatehouse. The modules live in package caddymodule;
// the protocol core, which does not depend on Caddy, in package authserver.
package gatehouse

import _ "github.com/gatehouse-auth/gatehouse/caddymodule"
