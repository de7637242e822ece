package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
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
// Clients from the configuration are listed with "static": true and are
// read-only (409). Errors are JSON: {"error": code, "error_description":
// text}, with invalid_client_metadata naming the field for a bad value.
type AdminAPI struct {
	registry *authserver.ClientRegistry
	log      *zap.Logger
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
	a.log = ctx.Logger()
	if app, err := ctx.AppIfConfigured("gatehouse"); err == nil {
		a.registry = app.(*App).ClientRegistry()
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
		return apiError(http.StatusNotFound, "not_found", "the gatehouse app is not configured")
	}
	parts, ok := splitClientsPath(r.URL.EscapedPath())
	switch {
	case !ok:
		return apiError(http.StatusNotFound, "not_found", "no such resource; see /gatehouse/clients")
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
	return apiError(http.StatusNotFound, "not_found", "no such resource; see /gatehouse/clients")
}

// splitClientsPath returns the unescaped segments after /gatehouse/clients,
// so a client id may hold any character when escaped.
func splitClientsPath(escaped string) ([]string, bool) {
	if escaped == adminClientsPath {
		return nil, true
	}
	rest, ok := strings.CutPrefix(escaped, adminClientsPath+"/")
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil || u == "" {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

func (a *AdminAPI) list(w http.ResponseWriter, r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the query string is malformed")
	}
	limit := defaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return apiError(http.StatusBadRequest, "invalid_request", fmt.Sprintf("limit: must be an integer from 1 to %d", maxPageLimit))
		}
		limit = n
	}
	after := q.Get("after")
	if len(after) > 255 {
		return apiError(http.StatusBadRequest, "invalid_request", "after: is longer than any client id")
	}
	page, next, err := a.registry.ListClients(r.Context(), after, limit)
	if err != nil {
		return a.fail(r, err)
	}
	out := struct {
		Clients []adminClient `json:"clients"`
		Next    string        `json:"next"`
	}{Clients: []adminClient{}, Next: next}
	for _, c := range page {
		out.Clients = append(out.Clients, toAdminClient(c, ""))
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

func (a *AdminAPI) get(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := a.registry.GetClient(r.Context(), id)
	if err != nil {
		return a.fail(r, err)
	}
	return writeAdminJSON(w, http.StatusOK, toAdminClient(c, ""))
}

func (a *AdminAPI) create(w http.ResponseWriter, r *http.Request) error {
	body, err := readAdminObject(w, r)
	if err != nil {
		return err
	}
	var md authserver.ClientMetadata
	if err := applyFields(&md, body); err != nil {
		return a.fail(r, err)
	}
	c, secret, err := a.registry.CreateClient(r.Context(), md)
	if err != nil {
		return a.fail(r, err)
	}
	a.log.Info("client created", zap.String("client_id", c.ID), zap.String("type", string(c.Type)))
	w.Header().Set("Location", adminClientsPath+"/"+url.PathEscape(c.ID))
	return writeAdminJSON(w, http.StatusCreated, toAdminClient(c, secret))
}

func (a *AdminAPI) update(w http.ResponseWriter, r *http.Request, id string) error {
	if a.registry.IsStatic(id) {
		return a.fail(r, authserver.ErrStaticClient)
	}
	body, err := readAdminObject(w, r)
	if err != nil {
		return err
	}
	// Check the body alone first, so a bad one is refused the same way
	// whatever the client looks like.
	if err := applyFields(&authserver.ClientMetadata{}, body); err != nil {
		return a.fail(r, err)
	}
	c, err := a.registry.UpdateClient(r.Context(), id, func(md *authserver.ClientMetadata) error {
		return applyFields(md, body)
	})
	if err != nil {
		return a.fail(r, err)
	}
	a.log.Info("client updated", zap.String("client_id", id), zap.Strings("fields", sortedKeys(body)))
	return writeAdminJSON(w, http.StatusOK, toAdminClient(c, ""))
}

func (a *AdminAPI) delete(w http.ResponseWriter, r *http.Request, id string) error {
	if err := a.registry.DeleteClient(r.Context(), id); err != nil {
		return a.fail(r, err)
	}
	a.log.Info("client deleted", zap.String("client_id", id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *AdminAPI) rotate(w http.ResponseWriter, r *http.Request, id, phase string) error {
	var (
		c      authserver.ClientInfo
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
		return a.fail(r, err)
	}
	a.log.Info("client secret rotation "+phase, zap.String("client_id", id))
	return writeAdminJSON(w, http.StatusOK, toAdminClient(c, secret))
}

// fail turns a management error into the admin API's error.
func (a *AdminAPI) fail(r *http.Request, err error) error {
	var me *authserver.MetadataError
	switch {
	case errors.As(err, &me):
		return apiError(http.StatusBadRequest, "invalid_client_metadata", me.Error())
	case errors.Is(err, authserver.ErrUnknownClient):
		return apiError(http.StatusNotFound, "not_found", "no client has that client_id")
	case errors.Is(err, authserver.ErrStaticClient):
		return apiError(http.StatusConflict, "static_client",
			"the client is defined in the Caddyfile (static) and is read-only at run time; change the configuration instead")
	case errors.Is(err, authserver.ErrNoSecret), errors.Is(err, authserver.ErrRotationInProgress),
		errors.Is(err, authserver.ErrNoRotation), errors.Is(err, authserver.ErrClientBusy):
		return apiError(http.StatusConflict, "conflict", err.Error())
	}
	a.log.Error("client management failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	return apiError(http.StatusInternalServerError, "server_error", "the request failed; the server log has details")
}

// adminClient is a client as the admin API shows it.
type adminClient struct {
	ClientID string `json:"client_id"`
	// ClientSecret is present only in the response that issues it.
	ClientSecret                  string     `json:"client_secret,omitempty"`
	Name                          string     `json:"name"`
	Description                   string     `json:"description"`
	Type                          string     `json:"type"`
	RedirectURIs                  []string   `json:"redirect_uris"`
	PostLogoutRedirectURIs        []string   `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI          string     `json:"backchannel_logout_uri"`
	Scopes                        []string   `json:"scopes"`
	LogoURI                       string     `json:"logo_uri"`
	ClientURI                     string     `json:"client_uri"`
	PolicyURI                     string     `json:"policy_uri"`
	TOSURI                        string     `json:"tos_uri"`
	GrantTypes                    []string   `json:"grant_types"`
	TokenEndpointAuthMethod       string     `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg      string     `json:"id_token_signed_response_alg"`
	AccessTokenLifetime           string     `json:"access_token_lifetime"`
	RefreshTokenLifetime          string     `json:"refresh_token_lifetime"`
	BypassConsentForOfflineAccess bool       `json:"bypass_consent_for_offline_access"`
	Contacts                      []string   `json:"contacts"`
	SoftwareID                    string     `json:"software_id"`
	SoftwareVersion               string     `json:"software_version"`
	Static                        bool       `json:"static"`
	Dynamic                       bool       `json:"dynamic"`
	SecretRotationPending         bool       `json:"secret_rotation_pending"`
	CreatedAt                     *time.Time `json:"created_at,omitempty"`
	UpdatedAt                     *time.Time `json:"updated_at,omitempty"`
}

func toAdminClient(c authserver.ClientInfo, secret string) adminClient {
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	out := adminClient{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, Description: c.Description, Type: string(c.Type),
		RedirectURIs: list(c.RedirectURIs), PostLogoutRedirectURIs: list(c.PostLogoutRedirectURIs),
		BackchannelLogoutURI: c.BackchannelLogoutURI, Scopes: list(c.Scopes),
		LogoURI: c.LogoURI, ClientURI: c.ClientURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI,
		GrantTypes: list(c.GrantTypes), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg:      c.IDTokenSigningAlg,
		AccessTokenLifetime:           formatLifetime(c.AccessTokenLifetime),
		RefreshTokenLifetime:          formatLifetime(c.RefreshTokenLifetime),
		BypassConsentForOfflineAccess: c.BypassConsentForOfflineAccess,
		Contacts:                      list(c.Contacts), SoftwareID: c.SoftwareID, SoftwareVersion: c.SoftwareVersion,
		Static: c.Static, Dynamic: c.Dynamic, SecretRotationPending: c.SecretRotationPending,
	}
	if !c.CreatedAt.IsZero() {
		created, updated := c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		out.CreatedAt, out.UpdatedAt = &created, &updated
	}
	return out
}

// formatLifetime prints a lifetime without trailing zero units ("15m",
// "720h"); "" is the server's default.
func formatLifetime(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return authserver.FormatDuration(d)
}

// readOnlyFields are shown by the API but set only by the server.
var readOnlyFields = []string{"client_id", "client_secret", "static", "dynamic", "secret_rotation_pending", "created_at", "updated_at"}

// fieldSetter decodes one JSON member into the metadata; null resets the
// field to its default.
type fieldSetter func(md *authserver.ClientMetadata, raw json.RawMessage) error

var writableFields = map[string]fieldSetter{
	"name":                         stringField(func(m *authserver.ClientMetadata) *string { return &m.Name }),
	"description":                  stringField(func(m *authserver.ClientMetadata) *string { return &m.Description }),
	"backchannel_logout_uri":       stringField(func(m *authserver.ClientMetadata) *string { return &m.BackchannelLogoutURI }),
	"logo_uri":                     stringField(func(m *authserver.ClientMetadata) *string { return &m.LogoURI }),
	"client_uri":                   stringField(func(m *authserver.ClientMetadata) *string { return &m.ClientURI }),
	"policy_uri":                   stringField(func(m *authserver.ClientMetadata) *string { return &m.PolicyURI }),
	"tos_uri":                      stringField(func(m *authserver.ClientMetadata) *string { return &m.TOSURI }),
	"token_endpoint_auth_method":   stringField(func(m *authserver.ClientMetadata) *string { return &m.TokenEndpointAuthMethod }),
	"id_token_signed_response_alg": stringField(func(m *authserver.ClientMetadata) *string { return &m.IDTokenSigningAlg }),
	"software_id":                  stringField(func(m *authserver.ClientMetadata) *string { return &m.SoftwareID }),
	"software_version":             stringField(func(m *authserver.ClientMetadata) *string { return &m.SoftwareVersion }),
	"redirect_uris":                listField(func(m *authserver.ClientMetadata) *[]string { return &m.RedirectURIs }),
	"post_logout_redirect_uris":    listField(func(m *authserver.ClientMetadata) *[]string { return &m.PostLogoutRedirectURIs }),
	"scopes":                       listField(func(m *authserver.ClientMetadata) *[]string { return &m.Scopes }),
	"grant_types":                  listField(func(m *authserver.ClientMetadata) *[]string { return &m.GrantTypes }),
	"contacts":                     listField(func(m *authserver.ClientMetadata) *[]string { return &m.Contacts }),
	"access_token_lifetime":        durationField(func(m *authserver.ClientMetadata) *time.Duration { return &m.AccessTokenLifetime }),
	"refresh_token_lifetime":       durationField(func(m *authserver.ClientMetadata) *time.Duration { return &m.RefreshTokenLifetime }),
	"type": func(m *authserver.ClientMetadata, raw json.RawMessage) error {
		var s string
		if err := decodeField(raw, &s); err != nil {
			return err
		}
		m.Type = authserver.ClientType(s)
		return nil
	},
	"bypass_consent_for_offline_access": func(m *authserver.ClientMetadata, raw json.RawMessage) error {
		return decodeField(raw, &m.BypassConsentForOfflineAccess)
	},
}

// applyFields sets every member of body on md, in name order so the first
// error reported does not depend on map order. Unknown and read-only
// members are refused, naming them.
func applyFields(md *authserver.ClientMetadata, body map[string]json.RawMessage) error {
	for _, name := range sortedKeys(body) {
		set, ok := writableFields[name]
		if !ok {
			reason := "unknown field"
			if slices.Contains(readOnlyFields, name) {
				reason = "is set by the server and cannot be changed"
			}
			return &authserver.MetadataError{Field: truncateField(name), Reason: reason}
		}
		if err := set(md, body[name]); err != nil {
			return &authserver.MetadataError{Field: name, Reason: err.Error()}
		}
	}
	return nil
}

func stringField(field func(*authserver.ClientMetadata) *string) fieldSetter {
	return func(m *authserver.ClientMetadata, raw json.RawMessage) error {
		return decodeField(raw, field(m))
	}
}

func listField(field func(*authserver.ClientMetadata) *[]string) fieldSetter {
	return func(m *authserver.ClientMetadata, raw json.RawMessage) error {
		var l []string
		if err := decodeField(raw, &l); err != nil {
			return err
		}
		*field(m) = l
		return nil
	}
}

// durationField accepts a Go duration string ("15m", "1h30m"; Caddy's "d"
// for days too) or a whole number of seconds; 0, "" or null is the
// server's default.
func durationField(field func(*authserver.ClientMetadata) *time.Duration) fieldSetter {
	return func(m *authserver.ClientMetadata, raw json.RawMessage) error {
		dst := field(m)
		if string(raw) == "null" {
			*dst = 0
			return nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if s == "" {
				*dst = 0
				return nil
			}
			d, err := caddy.ParseDuration(s)
			if err != nil || d < 0 {
				return errors.New(`must be a duration such as "15m" or "720h", or a number of seconds`)
			}
			*dst = d
			return nil
		}
		var secs int64
		if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > int64((100*365*24*time.Hour)/time.Second) {
			return errors.New(`must be a duration such as "15m" or "720h", or a number of seconds`)
		}
		*dst = time.Duration(secs) * time.Second
		return nil
	}
}

// decodeField decodes raw into dst, where null sets the zero value.
func decodeField(raw json.RawMessage, dst any) error {
	if string(raw) == "null" {
		switch d := dst.(type) {
		case *string:
			*d = ""
		case *[]string:
			*d = nil
		case *bool:
			*d = false
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		switch dst.(type) {
		case *string:
			return errors.New("must be a string")
		case *[]string:
			return errors.New("must be an array of strings")
		case *bool:
			return errors.New("must be true or false")
		}
		return errors.New("has the wrong type")
	}
	return nil
}

// codedError is an admin API error with an OAuth-style code: its body is
// {"error": code, "error_description": description}, the shape of
// RFC 6749 §5.2 and RFC 7591 §3.2.2 that the CLI and scripts read.
type codedError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *codedError) Error() string { return e.Code + ": " + e.Description }

// apiError is the caddy.APIError every failure of the admin API returns.
func apiError(status int, code, description string) error {
	return caddy.APIError{HTTPStatus: status, Err: &codedError{Code: code, Description: description}}
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
		return writeAdminJSON(w, ae.HTTPStatus, ce)
	}
}

// readAdminObject reads a JSON object body of at most maxAdminBody bytes.
func readAdminObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, apiError(http.StatusUnsupportedMediaType, "invalid_request", "the request body must be application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("the request body is larger than %d bytes", maxAdminBody))
		}
		return nil, apiError(http.StatusBadRequest, "invalid_client_metadata", "the request body could not be read")
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, apiError(http.StatusBadRequest, "invalid_client_metadata", "the request body must be a JSON object")
	}
	return body, nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return apiError(http.StatusMethodNotAllowed, "invalid_request", "method not allowed; use "+allow)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// truncateField keeps an unknown field's name short in the error.
func truncateField(name string) string {
	if len(name) > 64 {
		return name[:64] + "..."
	}
	return name
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ error             = (*codedError)(nil)
)
