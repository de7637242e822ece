package caddymodule

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// ProtocolSwitches turn on the parts of OAuth that are off unless an
// operator wants them; discovery advertises exactly those that are on.
type ProtocolSwitches struct {
	// ClientCredentials enables the client_credentials grant (RFC 6749
	// §4.4) for confidential clients whose grant_types list it.
	ClientCredentials bool `json:"client_credentials,omitempty"`
	// DeviceAuthorization enables the device authorization grant (RFC
	// 8628): /device_authorization, the /device page, and polling at
	// /token, for clients whose grant_types list
	// urn:ietf:params:oauth:grant-type:device_code.
	DeviceAuthorization bool `json:"device_authorization,omitempty"`
	// PushedAuthorizationRequests enables /par (RFC 9126) and request_uri
	// at /authorize; clients with require_pushed_authorization_requests
	// need it.
	PushedAuthorizationRequests bool `json:"pushed_authorization_requests,omitempty"`
}

// parseProtocolSwitch reads one switch, a bare option name.
func parseProtocolSwitch(d *caddyfile.Dispenser, app *App, key string) error {
	if d.NextArg() {
		return d.Errf("gatehouse: %s takes no argument or block, got %q", key, d.Val())
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("gatehouse: %s takes no argument or block", key)
	}
	switch key {
	case "client_credentials":
		app.ClientCredentials = true
	case "device_authorization":
		app.DeviceAuthorization = true
	case "pushed_authorization_requests":
		app.PushedAuthorizationRequests = true
	default:
		return d.Errf("gatehouse: unknown switch %s", key)
	}
	return nil
}
