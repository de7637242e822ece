package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

func init() {
	caddy.RegisterModule(AuthServerHandler{})
}

// AuthServerHandler serves the authorization server of the `gatehouse`
// app: its endpoints and pages, at the issuer URL's path. Requests for
// other paths go to the next handler (the site's own routes); one that
// nothing answers gets the issuer's home page (at the issuer URL) or its
// 404 page, instead of Caddy's empty 200.
type AuthServerHandler struct {
	server *authserver.Server
}

// CaddyModule returns the Caddy module information.
func (AuthServerHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.authserver",
		New: func() caddy.Module { return new(AuthServerHandler) },
	}
}

// Provision finds the gatehouse app.
func (h *AuthServerHandler) Provision(ctx caddy.Context) error {
	appIface, err := ctx.App("gatehouse")
	if err != nil {
		return fmt.Errorf("authserver: loading the gatehouse app: %w", err)
	}
	h.server = appIface.(*App).Server()
	return nil
}

// ServeHTTP serves the authorization server's routes.
func (h *AuthServerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.server.Owns(r) {
		// A recorder that buffers nothing, to see whether anything was
		// written (Status stays 0 when nothing was).
		rec := caddyhttp.NewResponseRecorder(w, nil, nil)
		if err := next.ServeHTTP(rec, r); err != nil || rec.Status() != 0 {
			return err
		}
	}
	// The core throttles and rate-limits by the client IP Caddy
	// determined, which honours the server's trusted_proxies.
	r = r.WithContext(authserver.WithClientIP(r.Context(), caddyClientIP(r)))
	h.server.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*AuthServerHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*AuthServerHandler)(nil)
)
