package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI manages Connected Apps on Caddy's admin endpoint (localhost:2019
// by default, never a public site):
//
//	GET    /gatehouse/clients[?after=&limit=]            list (static clients first)
//	POST   /gatehouse/clients                            create; the secret is shown once
//	GET    /gatehouse/clients/{client_id}                read
//	PATCH  /gatehouse/clients/{client_id}                change the fields sent (null resets one)
//	DELETE /gatehouse/clients/{client_id}                delete; its grants are revoked
//	POST   /gatehouse/clients/{client_id}/secret/start     issue a new secret; old and new both work
//	POST   /gatehouse/clients/{client_id}/secret/complete  only the new secret works
//	POST   /gatehouse/clients/{client_id}/secret/cancel    only the old secret works
//
// Bodies are client metadata (clients.AdminJSON): RFC 7591 names, or the
// older name and scopes, which responses still use. Clients from the
// configuration are listed with "static": true and are read-only (409).
// Errors are JSON: {"error": code, "error_description": text}, with
// invalid_client_metadata naming the field for a bad value.
type AdminAPI struct {
	adminModule // app: records changes in the audit log
	registry    *clients.Registry
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gatehouse",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision finds the gatehouse app, when the configuration has one; the
// routes answer 404 otherwise. A failure to load the app is reported by
// the app itself.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	if err := a.adminModule.Provision(ctx); err != nil {
		return err
	}
	if a.app != nil {
		a.registry = a.app.ClientRegistry()
	}
	return nil
}

const adminClientsPath = "/gatehouse/clients"

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	h := writeCodedErrors(a.serve)
	return []caddy.AdminRoute{{Pattern: adminClientsPath, Handler: h}, {Pattern: adminClientsPath + "/", Handler: h}}
}

// Limits of the admin API.
const (
	maxAdminBody     = 64 << 10
	defaultPageLimit = 50
	maxPageLimit     = 200
)

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	// Responses may carry a secret; no cache may keep any of them.
	w.Header().Set("Cache-Control", "no-store")
	if a.registry == nil {
		return apiError(http.StatusNotFound, adminNotFound, "the gatehouse app is not configured")
	}
	parts, ok := splitPath(r.URL.EscapedPath(), adminClientsPath)
	switch {
	case !ok:
		return apiError(http.StatusNotFound, adminNotFound, "no such resource; see /gatehouse/clients")
	case len(parts) == 0:
		switch r.Method {
		case http.MethodGet:
			return a.list(w, r)
		case http.MethodPost:
			return a.create(w, r)
		}
		return methodNotAllowed(w, "GET, POST")
	case len(parts) == 1:
		switch r.Method {
		case http.MethodGet:
			return a.get(w, r, parts[0])
		case http.MethodPatch:
			return a.update(w, r, parts[0])
		case http.MethodDelete:
			return a.delete(w, r, parts[0])
		}
		return methodNotAllowed(w, "GET, PATCH, DELETE")
	case len(parts) == 3 && parts[1] == "secret" && slices.Contains([]string{"start", "complete", "cancel"}, parts[2]):
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return a.rotate(w, r, parts[0], parts[2])
	}
	return apiError(http.StatusNotFound, adminNotFound, "no such resource; see /gatehouse/clients")
}

func (a *AdminAPI) list(w http.ResponseWriter, r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apiError(http.StatusBadRequest, adminInvalidRequest, "the query string is malformed")
	}
	limit := defaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return apiError(http.StatusBadRequest, adminInvalidRequest, fmt.Sprintf("limit: must be an integer from 1 to %d", maxPageLimit))
		}
		limit = n
	}
	after := q.Get("after")
	if len(after) > 255 {
		return apiError(http.StatusBadRequest, adminInvalidRequest, "after: is longer than any client id")
	}
	page, next, err := a.registry.List(r.Context(), after, limit)
	if err != nil {
		return a.fail(r, err, nil)
	}
	out := clientPage{Clients: []clients.Object{}, Next: next}
	for i := range page {
		out.Clients = append(out.Clients, page[i].Object(""))
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// clientPage is a page of the client list.
type clientPage struct {
	Clients []clients.Object `json:"clients"`
	Next    string           `json:"next"`
}

func (a *AdminAPI) get(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := a.registry.Get(r.Context(), id)
	if err != nil {
		return a.fail(r, err, nil)
	}
	return writeAdminJSON(w, http.StatusOK, c.Object(""))
}

func (a *AdminAPI) create(w http.ResponseWriter, r *http.Request) error {
	body, err := readAdminObject(w, r, adminInvalidClientMetadata)
	if err != nil {
		return err
	}
	var md clients.Metadata
	if err := md.Decode(body, clients.AdminJSON); err != nil {
		return a.fail(r, err, body)
	}
	c, secret, err := a.registry.Create(r.Context(), md)
	if err != nil {
		return a.fail(r, err, body)
	}
	a.log.Info("client created", zap.String("client_id", c.ID), zap.String("type", string(c.Type)))
	a.app.audit(r.Context(), r, authserver.Event{Type: authserver.EventClientAdmin, Result: "created", ClientID: c.ID, ClientType: string(c.Type)})
	w.Header().Set("Location", adminClientsPath+"/"+url.PathEscape(c.ID))
	return writeAdminJSON(w, http.StatusCreated, c.Object(secret))
}

func (a *AdminAPI) update(w http.ResponseWriter, r *http.Request, id string) error {
	if a.registry.IsStatic(id) {
		return a.fail(r, clients.ErrStatic, nil)
	}
	body, err := readAdminObject(w, r, adminInvalidClientMetadata)
	if err != nil {
		return err
	}
	// Check the body alone first, so a bad one is refused the same way
	// whatever the client looks like.
	if err := new(clients.Metadata).Decode(body, clients.AdminJSON); err != nil {
		return a.fail(r, err, body)
	}
	c, err := a.registry.Update(r.Context(), id, func(md *clients.Metadata) error {
		return md.Decode(body, clients.AdminJSON)
	})
	if err != nil {
		return a.fail(r, err, body)
	}
	a.log.Info("client updated", zap.String("client_id", id), zap.Strings("fields", slices.Sorted(maps.Keys(body))))
	a.app.audit(r.Context(), r, authserver.Event{Type: authserver.EventClientAdmin, Result: "updated", ClientID: id})
	return writeAdminJSON(w, http.StatusOK, c.Object(""))
}

func (a *AdminAPI) delete(w http.ResponseWriter, r *http.Request, id string) error {
	if err := a.registry.Delete(r.Context(), id); err != nil {
		return a.fail(r, err, nil)
	}
	a.log.Info("client deleted", zap.String("client_id", id))
	a.app.audit(r.Context(), r, authserver.Event{Type: authserver.EventClientAdmin, Result: "deleted", ClientID: id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *AdminAPI) rotate(w http.ResponseWriter, r *http.Request, id, phase string) error {
	var (
		c      clients.Info
		secret string
		err    error
	)
	ctx := r.Context()
	switch phase {
	case "start":
		c, secret, err = a.registry.StartSecretRotation(ctx, id)
	case "complete":
		c, err = a.registry.CompleteSecretRotation(ctx, id)
	case "cancel":
		c, err = a.registry.CancelSecretRotation(ctx, id)
	}
	if err != nil {
		return a.fail(r, err, nil)
	}
	a.log.Info("client secret rotation "+phase, zap.String("client_id", id))
	a.app.audit(ctx, r, authserver.Event{Type: authserver.EventClientAdmin, Result: "secret_rotation_" + phase, ClientID: id})
	return writeAdminJSON(w, http.StatusOK, c.Object(secret))
}

// fail turns a management error into the admin API's error: a refused
// value is invalid_client_metadata naming the field as body did.
func (a *AdminAPI) fail(r *http.Request, err error, body map[string]json.RawMessage) error {
	var me *clients.MetadataError
	switch {
	case errors.As(err, &me):
		return apiError(http.StatusBadRequest, adminInvalidClientMetadata, clients.AdminJSON.Label(me, body).Error())
	case errors.Is(err, clients.ErrUnknown):
		return apiError(http.StatusNotFound, adminNotFound, "no client has that client_id")
	case errors.Is(err, clients.ErrStatic):
		return apiError(http.StatusConflict, adminStaticClient,
			"the client is defined in the Caddyfile (static) and is read-only at run time; change the configuration instead")
	case errors.Is(err, store.ErrUnavailable):
		return storeUnavailable(a.log, r, err)
	case errors.Is(err, clients.ErrNoSecret), errors.Is(err, clients.ErrRotationInProgress),
		errors.Is(err, clients.ErrNoRotation), errors.Is(err, clients.ErrBusy):
		return apiError(http.StatusConflict, adminConflict, err.Error())
	}
	a.log.Error("client management failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	return apiError(http.StatusInternalServerError, adminServerError, "the request failed; the server log has details")
}

// adminCode is the "error" of an admin API error: the OAuth code where
// one fits (RFC 6749 §5.2, RFC 7591 §3.2.2), else one of the API's own
// for what OAuth has no code for: a missing resource, a read-only static
// client, a state that refuses the change.
type adminCode string

const (
	adminInvalidRequest        = adminCode(oautherr.CodeInvalidRequest)
	adminInvalidClientMetadata = adminCode(oautherr.CodeInvalidClientMetadata)
	adminServerError           = adminCode(oautherr.CodeServerError)
	adminUnavailable           = adminCode(oautherr.CodeTemporarilyUnavailable)

	adminNotFound     adminCode = "not_found"
	adminStaticClient adminCode = "static_client"
	adminStaticUser   adminCode = "static_user"
	adminConflict     adminCode = "conflict"
)

// codedError is an admin API error with an OAuth-style code: its body is
// {"error": code, "error_description": description}, the shape of
// RFC 6749 §5.2 and RFC 7591 §3.2.2 that the CLI and scripts read.
type codedError struct {
	Code        adminCode `json:"error"`
	Description string    `json:"error_description"`
	// Field names the refused member of the request (users API).
	Field string `json:"field,omitempty"`
}

func (e *codedError) Error() string { return string(e.Code) + ": " + e.Description }

// apiError is the caddy.APIError every failure of the admin API returns.
func apiError(status int, code adminCode, description string) error {
	return caddy.APIError{HTTPStatus: status, Err: &codedError{Code: code, Description: description}}
}

// storeUnavailable is the answer of a request the store could not serve
// (a database outage): 503 temporarily_unavailable with Retry-After
// (added by writeCodedErrors), so scripts try again instead of reading a
// failure.
func storeUnavailable(log *zap.Logger, r *http.Request, err error) error {
	log.Error("the store could not be reached", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	return apiError(http.StatusServiceUnavailable, adminUnavailable, "the database could not be reached; try again")
}

// writeCodedErrors adapts h to Caddy's admin router. Caddy answers an
// error with {"error": message} only, so an error carrying a code is
// written here with its description; any other error is left to Caddy.
func writeCodedErrors(h caddy.AdminHandlerFunc) caddy.AdminHandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		var ae caddy.APIError
		var ce *codedError
		if !errors.As(err, &ae) || !errors.As(ae.Err, &ce) {
			return err
		}
		if ae.HTTPStatus == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", oautherr.RetryAfter)
		}
		return writeAdminJSON(w, ae.HTTPStatus, ce)
	}
}

// readAdminObject reads a JSON object body of at most maxAdminBody bytes;
// a body that is not one is refused with code.
func readAdminObject(w http.ResponseWriter, r *http.Request, code adminCode) (map[string]json.RawMessage, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, apiError(http.StatusUnsupportedMediaType, adminInvalidRequest, "the request body must be application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(http.StatusRequestEntityTooLarge, adminInvalidRequest, fmt.Sprintf("the request body is larger than %d bytes", maxAdminBody))
		}
		return nil, apiError(http.StatusBadRequest, code, "the request body could not be read")
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, apiError(http.StatusBadRequest, code, "the request body must be a JSON object")
	}
	return body, nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return apiError(http.StatusMethodNotAllowed, adminInvalidRequest, "method not allowed; use "+allow)
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The response is written; an encoding failure can only be logged by
	// Caddy, and returning it would make Caddy write a second response.
	_ = enc.Encode(v)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ error             = (*codedError)(nil)
)

// adminModule is what every Gatehouse admin API module holds: the
// gatehouse app, when the configuration has one (the routes answer 404
// otherwise), and a logger. A failure to load the app is reported by the
// app itself, so it is not repeated here.
type adminModule struct {
	app *App
	log *zap.Logger
}

// Provision finds the gatehouse app.
func (a *adminModule) Provision(ctx caddy.Context) error {
	a.log = ctx.Logger()
	if app, err := ctx.AppIfConfigured("gatehouse"); err == nil {
		a.app = app.(*App)
	}
	return nil
}
