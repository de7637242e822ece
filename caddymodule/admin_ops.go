package caddymodule

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func init() {
	caddy.RegisterModule(AdminOps{})
}

// AdminOps serves what operators look after, on Caddy's admin endpoint:
//
//	GET  /gatehouse/health        readiness: store, signing keys, revocation feed (200 or 503)
//	GET  /gatehouse/keys          the published signing keys (public facts only)
//	POST /gatehouse/keys/rotate   start a rotation now (pre-publication honoured)
//
// See docs/operations.md.
type AdminOps struct {
	adminModule
}

// CaddyModule returns the Caddy module information.
func (AdminOps) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gatehouse_ops",
		New: func() caddy.Module { return new(AdminOps) },
	}
}

const (
	adminHealthPath = "/gatehouse/health"
	adminKeysPath   = "/gatehouse/keys"
	adminRotatePath = "/gatehouse/keys/rotate"
)

// Routes returns the admin routes.
func (a *AdminOps) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: adminHealthPath, Handler: writeCodedErrors(a.health)},
		{Pattern: adminKeysPath, Handler: writeCodedErrors(a.keys)},
		{Pattern: adminRotatePath, Handler: writeCodedErrors(a.rotate)},
	}
}

// ready answers 404 when there is no app.
func (a *AdminOps) ready(w http.ResponseWriter) error {
	w.Header().Set("Cache-Control", "no-store")
	if a.app == nil || a.app.server == nil {
		return apiError(http.StatusNotFound, adminNotFound, "the gatehouse app is not configured")
	}
	return nil
}

// health is the readiness report: 200 when every check passes, else 503
// with the failing checks' details.
func (a *AdminOps) health(w http.ResponseWriter, r *http.Request) error {
	if err := a.ready(w); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	h := a.app.server.Health(r.Context())
	status := http.StatusOK
	if !h.OK {
		status = http.StatusServiceUnavailable
		a.log.Warn("gatehouse is not healthy", zap.Any("checks", h.Checks))
	}
	return writeAdminJSON(w, status, h)
}

func (a *AdminOps) keys(w http.ResponseWriter, r *http.Request) error {
	if err := a.ready(w); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	return writeAdminJSON(w, http.StatusOK, map[string]any{"keys": a.app.keys.Keys()})
}

// rotate starts a rotation now: each algorithm gets a new key, published
// at once and signing after the pre-publication period.
func (a *AdminOps) rotate(w http.ResponseWriter, r *http.Request) error {
	if err := a.ready(w); err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, "POST")
	}
	if err := a.app.keys.Rotate(r.Context()); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return storeUnavailable(a.log, r, err)
		}
		a.log.Error("key rotation failed", zap.Error(err))
		return apiError(http.StatusInternalServerError, adminServerError, "the rotation failed; see Caddy's log")
	}
	a.app.audit(r.Context(), r, authserver.Event{Type: authserver.EventKeyRotation, Result: "started"})
	return writeAdminJSON(w, http.StatusOK, map[string]any{"keys": a.app.keys.Keys()})
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminOps)(nil)
	_ caddy.AdminRouter = (*AdminOps)(nil)
)
