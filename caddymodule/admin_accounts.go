package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// userJSON is a user in the admin API.
type userJSON struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Name          string     `json:"name"`
	Groups        []string   `json:"groups"`
	Disabled      bool       `json:"disabled"`
	HasPassword   bool       `json:"has_password"`
	Static        bool       `json:"static,omitempty"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
	UpdatedAt     *time.Time `json:"updated_at,omitempty"`
	LastLoginAt   *time.Time `json:"last_login_at"`
	// Identities are the upstream accounts linked to the user (GET of
	// one user only).
	Identities []identityJSON `json:"identities,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toUserJSON(u store.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Groups: u.Groups, Disabled: u.Disabled, HasPassword: u.PasswordHash != "",
		CreatedAt: timePtr(u.CreatedAt), UpdatedAt: timePtr(u.UpdatedAt), LastLoginAt: timePtr(u.LastLoginAt)}
	if j.Groups == nil {
		j.Groups = []string{}
	}
	return j
}

// userPage is a page of the user list.
type userPage struct {
	Users []userJSON `json:"users"`
	Next  string     `json:"next"`
}

// serveAccounts answers everything under /gatehouse/users but the apps.
func (a *AdminUsers) serveAccounts(w http.ResponseWriter, r *http.Request) error {
	// Answers may carry a single-use link; no cache may keep any of them.
	w.Header().Set("Cache-Control", "no-store")
	// The changes' audit events name the caller (authserver.EventUser).
	r = r.WithContext(authserver.WithClientIP(r.Context(), adminCaller(r)))
	parts, ok := splitPath(r.URL.EscapedPath(), strings.TrimSuffix(adminUsersPath, "/"))
	switch {
	case !ok:
	case len(parts) == 0:
		switch r.Method {
		case http.MethodGet:
			return a.listUsers(w, r)
		case http.MethodPost:
			return a.createUser(w, r)
		}
		return methodNotAllowed(w, "GET, POST")
	case len(parts) == 1:
		switch r.Method {
		case http.MethodGet:
			return a.getUser(w, r, parts[0])
		case http.MethodPatch:
			return a.updateUser(w, r, parts[0])
		case http.MethodDelete:
			return a.deleteUser(w, r, parts[0])
		}
		return methodNotAllowed(w, "GET, PATCH, DELETE")
	case len(parts) == 2 && slices.Contains([]string{"password", "disable", "enable", "invite", "reset-link"}, parts[1]),
		len(parts) == 3 && parts[1] == "sessions" && parts[2] == "revoke",
		len(parts) == 3 && parts[1] == "factors" && parts[2] == "reset":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return a.userAction(w, r, parts[0], strings.Join(parts[1:], "/"))
	case len(parts) == 4 && parts[1] == "identities":
		return a.unlinkIdentity(w, r, parts[0], parts[2], parts[3])
	}
	return apiError(http.StatusNotFound, adminNotFound, "no such resource; see /gatehouse/users")
}

// splitPath returns the unescaped segments after base, so an id may hold
// any character when escaped.
func splitPath(escaped, base string) ([]string, bool) {
	if escaped == base {
		return nil, true
	}
	rest, ok := strings.CutPrefix(escaped, base+"/")
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

func (a *AdminUsers) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apiError(http.StatusBadRequest, adminInvalidRequest, "the query string is malformed")
	}
	f := store.UserFilter{Limit: defaultPageLimit, After: q.Get("after"),
		UsernamePrefix: q.Get("username"), EmailPrefix: q.Get("email"), GroupPrefix: q.Get("group")}
	for name := range q {
		if !slices.Contains([]string{"after", "limit", "username", "email", "group"}, name) {
			return fieldError(name, "unknown parameter; use after, limit, username, email or group")
		}
		if len(q[name]) > 1 {
			return fieldError(name, "given more than once")
		}
		if len(q.Get(name)) > 255 {
			return fieldError(name, "is longer than 255 bytes")
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return fieldError("limit", fmt.Sprintf("must be an integer from 1 to %d", maxPageLimit))
		}
		f.Limit = n
	}
	// One more than asked tells whether there is a next page.
	want := f.Limit
	f.Limit++
	users, err := a.app.Accounts().List(r.Context(), f)
	if err != nil {
		return a.failUser(r, err)
	}
	out := userPage{Users: []userJSON{}}
	if len(users) > want {
		users = users[:want]
		out.Next = users[want-1].ID
	}
	for _, u := range users {
		out.Users = append(out.Users, toUserJSON(u))
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

func (a *AdminUsers) getUser(w http.ResponseWriter, r *http.Request, id string) error {
	u, err := a.app.Accounts().Get(r.Context(), id)
	if errors.Is(err, accounts.ErrStatic) {
		su := a.app.Accounts().GetStatic(r.Context(), id)
		return writeAdminJSON(w, http.StatusOK, userJSON{ID: su.ID, Username: su.Username, Email: su.Email,
			EmailVerified: su.EmailVerified, Name: su.Name, Groups: append([]string{}, su.Groups...),
			HasPassword: su.Password != nil, Static: true})
	}
	if err != nil {
		return a.failUser(r, err)
	}
	j := toUserJSON(u)
	if j.Identities, err = a.linkedIdentities(r, id); err != nil {
		return a.failUser(r, err)
	}
	return writeAdminJSON(w, http.StatusOK, j)
}

// userFields are the members a create or update may carry.
type userFields struct {
	Username, Email, Name, Password *string
	EmailVerified                   *bool
	Groups                          *[]string
}

// decodeUserFields decodes body, refusing an unknown member or a value of
// the wrong type with a 400 naming it.
func decodeUserFields(body map[string]json.RawMessage, allowed ...string) (userFields, error) {
	var f userFields
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range body {
			if !yield(k) {
				return
			}
		}
	}) {
		raw := body[name]
		if !slices.Contains(allowed, name) {
			return f, fieldError(name, "unknown field; allowed: "+strings.Join(allowed, ", "))
		}
		var err error
		switch name {
		case "username":
			f.Username, err = decodeAs[string](raw)
		case "email":
			f.Email, err = decodeAs[string](raw)
		case "name":
			f.Name, err = decodeAs[string](raw)
		case "password":
			f.Password, err = decodeAs[string](raw)
		case "email_verified":
			f.EmailVerified, err = decodeAs[bool](raw)
		case "groups":
			f.Groups, err = decodeAs[[]string](raw)
		}
		if err != nil {
			return f, fieldError(name, err.Error())
		}
	}
	return f, nil
}

// decodeAs decodes a JSON value of type T; null is refused.
func decodeAs[T any](raw json.RawMessage) (*T, error) {
	var v T
	if string(raw) == "null" || json.Unmarshal(raw, &v) != nil {
		switch any(v).(type) {
		case string:
			return nil, errors.New("must be a string")
		case bool:
			return nil, errors.New("must be true or false")
		default:
			return nil, errors.New("must be an array of strings")
		}
	}
	return &v, nil
}

func (a *AdminUsers) createUser(w http.ResponseWriter, r *http.Request) error {
	body, err := readAdminObject(w, r, adminInvalidRequest)
	if err != nil {
		return err
	}
	f, err := decodeUserFields(body, "username", "email", "email_verified", "name", "groups", "password")
	if err != nil {
		return err
	}
	in := accounts.NewUser{}
	for dst, src := range map[*string]*string{&in.Username: f.Username, &in.Email: f.Email, &in.Name: f.Name, &in.Password: f.Password} {
		if src != nil {
			*dst = *src
		}
	}
	if f.EmailVerified != nil {
		in.EmailVerified = *f.EmailVerified
	}
	if f.Groups != nil {
		in.Groups = *f.Groups
	}
	u, err := a.app.Accounts().Create(r.Context(), in)
	if err != nil {
		return a.failUser(r, err)
	}
	w.Header().Set("Location", adminUsersPath+url.PathEscape(u.ID))
	return writeAdminJSON(w, http.StatusCreated, toUserJSON(u))
}

func (a *AdminUsers) updateUser(w http.ResponseWriter, r *http.Request, id string) error {
	body, err := readAdminObject(w, r, adminInvalidRequest)
	if err != nil {
		return err
	}
	f, err := decodeUserFields(body, "username", "email", "email_verified", "name", "groups")
	if err != nil {
		return err
	}
	u, err := a.app.Accounts().Update(r.Context(), id, accounts.Patch{Username: f.Username, Email: f.Email,
		EmailVerified: f.EmailVerified, Name: f.Name, Groups: f.Groups})
	if err != nil {
		return a.failUser(r, err)
	}
	return writeAdminJSON(w, http.StatusOK, toUserJSON(u))
}

func (a *AdminUsers) deleteUser(w http.ResponseWriter, r *http.Request, id string) error {
	if err := a.app.Accounts().Delete(r.Context(), id); err != nil {
		return a.failUser(r, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// linkJSON is an invitation or reset link: shown once, stored only hashed.
type linkJSON struct {
	UserID    string    `json:"user_id"`
	Link      string    `json:"link"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *AdminUsers) userAction(w http.ResponseWriter, r *http.Request, id, action string) error {
	m, ctx := a.app.Accounts(), r.Context()
	switch action {
	case "password":
		body, err := readAdminObject(w, r, adminInvalidRequest)
		if err != nil {
			return err
		}
		f, err := decodeUserFields(body, "password")
		if err != nil {
			return err
		}
		if f.Password == nil {
			return fieldError("password", "is required")
		}
		if err := m.SetPassword(ctx, id, *f.Password); err != nil {
			return a.failUser(r, err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "disable", "enable":
		if err := m.SetDisabled(ctx, id, action == "disable"); err != nil {
			return a.failUser(r, err)
		}
		return a.getUser(w, r, id)
	case "sessions/revoke":
		// Any user's sessions, a configured one's too.
		if _, err := m.Get(ctx, id); err != nil && !errors.Is(err, accounts.ErrStatic) {
			return a.failUser(r, err)
		}
		sessions, grants, err := m.RevokeSessions(ctx, id, "", "admin")
		if err != nil {
			return a.failUser(r, err)
		}
		return writeAdminJSON(w, http.StatusOK, map[string]int{"sessions_revoked": sessions, "grants_revoked": grants})
	case "factors/reset":
		// Any user's factors, a configured one's too (a lost device).
		if _, err := m.Get(ctx, id); err != nil && !errors.Is(err, accounts.ErrStatic) {
			return a.failUser(r, err)
		}
		n, err := m.ResetFactors(ctx, id, "admin")
		if err != nil {
			return a.failUser(r, err)
		}
		return writeAdminJSON(w, http.StatusOK, map[string]int{"factors_deleted": n})
	}
	issue := m.Invite
	if action == "reset-link" {
		issue = m.ResetLink
	}
	token, expires, err := issue(ctx, id)
	if err != nil {
		return a.failUser(r, err)
	}
	return writeAdminJSON(w, http.StatusCreated, linkJSON{UserID: id, Link: a.app.Server().ChoosePasswordURL(token), Token: token, ExpiresAt: expires})
}

// fieldError is the 400 answer to a refused value.
func fieldError(field, reason string) error {
	return apiErrorField(http.StatusBadRequest, adminInvalidRequest, field, field+": "+reason)
}

func apiErrorField(status int, code adminCode, field, description string) error {
	return caddy.APIError{HTTPStatus: status, Err: &codedError{Code: code, Description: description, Field: field}}
}

// failUser turns an accounts error into the admin API's answer.
func (a *AdminUsers) failUser(r *http.Request, err error) error {
	var fe *accounts.FieldError
	switch {
	case errors.As(err, &fe) && fe.Taken:
		return apiErrorField(http.StatusConflict, adminConflict, fe.Field, fe.Error())
	case errors.As(err, &fe):
		return apiErrorField(http.StatusBadRequest, adminInvalidRequest, fe.Field, fe.Error())
	case errors.Is(err, accounts.ErrNotFound):
		return apiError(http.StatusNotFound, adminNotFound, "no user has that id")
	case errors.Is(err, accounts.ErrStatic):
		return apiError(http.StatusConflict, adminStaticUser,
			"the user is defined in the Caddyfile (static) and is read-only at run time; change the configuration instead")
	}
	a.log.Error("user management failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	return apiError(http.StatusInternalServerError, adminServerError, "the request failed; the server log has details")
}
