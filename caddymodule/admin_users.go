package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func init() {
	caddy.RegisterModule(AdminUsers{})
}

// AdminUsers manages users on Caddy's admin endpoint: the accounts kept
// in the store (admin_accounts.go) and every user's connected apps:
//
//	GET    /gatehouse/users[?after=&limit=&username=&email=&group=]  list stored users
//	POST   /gatehouse/users                          create
//	GET    /gatehouse/users/{id}                     read (a configured user: "static": true)
//	PATCH  /gatehouse/users/{id}                     change the fields sent
//	DELETE /gatehouse/users/{id}                     delete; sessions and grants end
//	POST   /gatehouse/users/{id}/password            set the password; sessions and grants end
//	POST   /gatehouse/users/{id}/disable|enable      disabling ends sessions and grants
//	POST   /gatehouse/users/{id}/sessions/revoke     end every session and grant
//	POST   /gatehouse/users/{id}/invite|reset-link   a single-use link to choose a password
//	GET    /gatehouse/users/{subject}/apps              the apps the user allowed
//	DELETE /gatehouse/users/{subject}/apps/{client_id}  revoke one (204; 404 if nothing to revoke)
//
// Users from the configuration are read-only (409 static_user), but their
// sessions can be revoked. Errors are JSON like the client API's; a
// refused value is 400 invalid_request with "field" naming it, a username
// or email in use 409 conflict.
//
// Caddy loads every module of the admin.api namespace, one level deep
// only, hence the ID admin.api.gatehouse_users beside the client API's
// admin.api.gatehouse.
type AdminUsers struct {
	adminModule
}

// CaddyModule returns the Caddy module information.
func (AdminUsers) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gatehouse_users",
		New: func() caddy.Module { return new(AdminUsers) },
	}
}

const adminUsersPath = "/gatehouse/users/"

// Routes returns the admin routes.
func (a *AdminUsers) Routes() []caddy.AdminRoute {
	h := writeCodedErrors(a.route)
	return []caddy.AdminRoute{{Pattern: adminUsersPath, Handler: h}, {Pattern: strings.TrimSuffix(adminUsersPath, "/"), Handler: h}}
}

// route sends /gatehouse/users/{subject}/apps[...] to the connected apps,
// everything else to the accounts.
func (a *AdminUsers) route(w http.ResponseWriter, r *http.Request) error {
	if a.app == nil || a.app.Server() == nil || a.app.Accounts() == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("the gatehouse app is not configured")}
	}
	rest, _ := strings.CutPrefix(r.URL.EscapedPath(), adminUsersPath)
	if parts := strings.Split(rest, "/"); len(parts) >= 2 && parts[1] == "apps" {
		return a.serve(w, r)
	}
	return a.serveAccounts(w, r)
}

// connectedAppJSON is one connected app in the admin API.
type connectedAppJSON struct {
	ClientID      string     `json:"client_id"`
	Name          string     `json:"name"`
	LogoURI       string     `json:"logo_uri,omitempty"`
	ClientURI     string     `json:"client_uri,omitempty"`
	ClientRemoved bool       `json:"client_removed,omitempty"`
	Scopes        []string   `json:"scopes"`
	Resources     []string   `json:"resources"`
	GrantedAt     time.Time  `json:"granted_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
}

func (a *AdminUsers) serve(w http.ResponseWriter, r *http.Request) error {
	subject, clientID, err := parseUsersPath(r.URL.EscapedPath())
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: err}
	}
	srv := a.app.Server()
	if clientID == "" {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed; use GET", r.Method)}
		}
		apps, err := srv.ConnectedApps(r.Context(), subject)
		if errors.Is(err, authserver.ErrUnknownUser) {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("user %q: not found", subject)}
		} else if errors.Is(err, store.ErrUnavailable) {
			return storeUnavailable(a.app.logger, r, err)
		} else if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("listing connected apps: %v", err)}
		}
		out := struct {
			Subject string             `json:"subject"`
			Apps    []connectedAppJSON `json:"apps"`
		}{Subject: subject, Apps: []connectedAppJSON{}}
		for _, app := range apps {
			j := connectedAppJSON{ClientID: app.ClientID, Name: app.Name, LogoURI: app.LogoURI, ClientURI: app.ClientURI,
				ClientRemoved: app.Removed, Scopes: app.Scopes, GrantedAt: app.GrantedAt, UpdatedAt: app.UpdatedAt}
			if j.Scopes == nil {
				j.Scopes = []string{}
			}
			if j.Resources = app.Resources; j.Resources == nil {
				j.Resources = []string{}
			}
			if !app.LastUsedAt.IsZero() {
				t := app.LastUsedAt
				j.LastUsedAt = &t
			}
			out.Apps = append(out.Apps, j)
		}
		w.Header().Set("Content-Type", "application/json")
		// The response is under way: an encoding failure cannot become an
		// error response any more.
		_ = json.NewEncoder(w).Encode(out)
		return nil
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed; use DELETE", r.Method)}
	}
	found, err := srv.RevokeConnectedApp(r.Context(), subject, clientID)
	if errors.Is(err, store.ErrUnavailable) {
		return storeUnavailable(a.app.logger, r, err)
	} else if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("revoking the app: %v", err)}
	}
	if !found {
		return caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: fmt.Errorf("user %q has not allowed app %q", subject, clientID)}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseUsersPath splits /gatehouse/users/{subject}/apps[/{client_id}],
// unescaping each segment, so a subject or client id may hold any
// character, "/" included, when escaped.
func parseUsersPath(escaped string) (subject, clientID string, err error) {
	rest, ok := strings.CutPrefix(escaped, adminUsersPath)
	parts := strings.Split(rest, "/")
	if !ok || (len(parts) != 2 && len(parts) != 3) || parts[1] != "apps" {
		return "", "", errors.New("not found: use /gatehouse/users/{subject}/apps[/{client_id}]")
	}
	if subject, err = url.PathUnescape(parts[0]); err != nil || subject == "" {
		return "", "", errors.New("not found: the subject is missing or badly escaped")
	}
	if len(parts) == 3 {
		if clientID, err = url.PathUnescape(parts[2]); err != nil || clientID == "" {
			return "", "", errors.New("not found: the client id is missing or badly escaped")
		}
	}
	return subject, clientID, nil
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminUsers)(nil)
	_ caddy.AdminRouter = (*AdminUsers)(nil)
)
