package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// accountAppsPath is the signed-in user's connected-apps page.
const accountAppsPath = "/account/apps"

// accountLogin is the sealed request of a login that returns to the
// account page instead of an app. It is sealed under its own name, so it
// can never pass for an authorization request (or the other way round),
// and it holds no URL: the one place it leads back to is the account
// page, so there is nothing to redirect openly.
type accountLogin struct {
	IssuedAt int64 `json:"iat"` // unix milliseconds
	// Device: the login returns to /device (device_verification.go),
	// with the user code it was opened with, if any.
	Device   bool   `json:"dv,omitempty"`
	UserCode string `json:"uc,omitempty"`
}

const accountLoginName = "account"

// ErrUnknownUser is returned for a subject the user directory lacks.
var ErrUnknownUser = errors.New("unknown user")

// ConnectedApp is an app a user has allowed to access their account: a
// consent, described with what the client registration says about it.
type ConnectedApp struct {
	ClientID string
	// Name, LogoURI and ClientURI come from the client; a client that no
	// longer exists has its id as Name and Removed set.
	Name, LogoURI, ClientURI string
	Removed                  bool
	Scopes                   []string
	// Resources are the services (RFC 8707 resource indicators) the user
	// allowed the app to reach.
	Resources  []string
	dynamic    bool      // self-registered: the pages do not load its logo (logoOf)
	GrantedAt  time.Time // first consent
	UpdatedAt  time.Time // last consent (new scopes)
	LastUsedAt time.Time // last tokens issued; zero if never
}

// ConnectedApps lists the apps subject has allowed, oldest first.
// ErrUnknownUser when the directory has no such user; any other error is
// a failure of the directory or the store.
func (s *Server) ConnectedApps(ctx context.Context, subject string) ([]ConnectedApp, error) {
	if _, err := s.cfg.Users.UserByID(ctx, subject); errors.Is(err, identity.ErrNotFound) {
		return nil, ErrUnknownUser
	} else if err != nil {
		return nil, err
	}
	consents, err := s.cfg.Store.ListConsents(ctx, subject)
	if err != nil {
		return nil, err
	}
	apps := make([]ConnectedApp, 0, len(consents))
	for _, c := range consents {
		app := ConnectedApp{ClientID: c.ClientID, Name: c.ClientID, Scopes: c.Scopes, Resources: c.Resources,
			GrantedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, LastUsedAt: c.LastUsedAt}
		client, err := s.clientFor(ctx, c.ClientID)
		switch {
		case errors.Is(err, clients.ErrUnknown):
			app.Removed = true
		case err != nil:
			return nil, err
		default:
			app.Name, app.LogoURI, app.ClientURI, app.dynamic = client.Name, client.LogoURI, client.ClientURI, client.Dynamic
		}
		apps = append(apps, app)
	}
	return apps, nil
}

// RevokeConnectedApp takes back what subject allowed clientID: every grant
// (refresh token family, and the access tokens issued under it) is
// revoked, then the consent is removed, so the app must ask again. It
// reports whether there was anything to revoke.
func (s *Server) RevokeConnectedApp(ctx context.Context, subject, clientID string) (bool, error) {
	n, err := s.cfg.Store.RevokeGrantsFor(ctx, subject, clientID, s.now())
	if err != nil {
		return false, err
	}
	err = s.cfg.Store.DeleteConsent(ctx, subject, clientID)
	found := n > 0 || err == nil
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		return found, err
	}
	if found {
		s.emit(ctx, Event{Type: EventConsent, Result: "revoked", Subject: subject, ClientID: clientID})
		s.log.InfoContext(ctx, "connected app revoked", "sub", subject, "client_id", clientID, "grants", n)
	}
	return found, nil
}

// handleAccountApps is the connected-apps page: GET lists the apps the
// signed-in user allowed; POST (action=revoke, client_id, csrf) revokes
// one and shows the list again (post/redirect/get). Without a session the
// browser goes to the login page, which returns here.
// accountRequest starts every account page: it parses the form and finds
// the signed-in session. Without one the browser goes to the login page,
// which returns here; ok is false when the answer has been written.
func (s *Server) accountRequest(w http.ResponseWriter, r *http.Request) (form url.Values, sess *browserSession, ok bool) {
	form, err := parseForm(w, r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.renderError(w, r, errorPage{status: status, problem: ui.ProblemText("problem.account_bad_request"),
			code: oautherr.CodeInvalidRequest, detail: err.Error()})
		return nil, nil, false
	}
	sess, err = s.currentSession(r)
	if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return nil, nil, false
	}
	if sess == nil {
		s.redirectToAccountLogin(w, r)
		return nil, nil, false
	}
	return form, sess, true
}

func (s *Server) handleAccountApps(w http.ResponseWriter, r *http.Request) {
	form, sess, ok := s.accountRequest(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		s.renderAccountApps(w, r, sess)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.account_stale_form"), code: oautherr.CodeInvalidRequest})
		return
	}
	clientID := form.Get("client_id")
	if form.Get("action") != "revoke" || clientID == "" || len(clientID) > 255 {
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_no_app"), code: oautherr.CodeInvalidRequest})
		return
	}
	// Removing an app that is already gone (a double submit) is no error:
	// the list shows the outcome either way.
	if _, err := s.RevokeConnectedApp(r.Context(), sess.Subject, clientID); err != nil {
		s.renderFailure(w, r, fmt.Errorf("revoking %s's connected app %q: %w", sess.Subject, clientID, err), "revoking a connected app failed", ui.ProblemText("problem.revoke_failed"))
		return
	}
	http.Redirect(w, r, s.prefix+accountAppsPath, http.StatusSeeOther)
}

func (s *Server) renderAccountApps(w http.ResponseWriter, r *http.Request, sess *browserSession) {
	apps, err := s.ConnectedApps(r.Context(), sess.Subject)
	if err != nil {
		s.renderFailure(w, r, fmt.Errorf("listing %s's connected apps: %w", sess.Subject, err), "listing connected apps failed", ui.ProblemText("problem.list_apps_failed"))
		return
	}
	signOut, err := s.requests.Encode(logoutRequestName, &logoutRequest{IssuedAt: s.now().UnixMilli()})
	if err != nil {
		s.log.ErrorContext(r.Context(), "sealing a logout request failed", "error", err)
	}
	page := ui.AccountAppsPage{
		Base:       s.base(""),
		FormAction: s.prefix + accountAppsPath,
		CSRFToken:  s.csrfToken(w, r),
		User:       ui.UserView{Name: sess.User.Name, Username: sess.User.Username, Email: sess.User.Email},
	}
	if signOut != "" {
		page.SignOutAction, page.SignOutRequest = s.prefix+"/logout", signOut
	}
	if s.cfg.Accounts != nil {
		page.SettingsURL = s.prefix + accountPath
	}
	for _, a := range apps {
		v := ui.AppView{ClientID: a.ClientID, Name: a.Name, LogoURI: a.LogoURI, ClientURI: a.ClientURI,
			GrantedAt: a.GrantedAt, LastUsedAt: a.LastUsedAt, Resources: s.resourceViews(a.Resources)}
		if a.dynamic {
			v.LogoURI = "" // see logoOf
		}
		for _, sc := range a.Scopes {
			v.Scopes = append(v.Scopes, ui.ScopeView{Name: sc, Description: ui.ScopeDescription(sc)})
		}
		page.Apps = append(page.Apps, v)
	}
	if err := s.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the connected apps page failed", "error", err)
	}
}

// redirectToAccountLogin sends the browser to the login page with a sealed
// request that comes back to the account page.
func (s *Server) redirectToAccountLogin(w http.ResponseWriter, r *http.Request) {
	sealed, err := s.requests.Encode(accountLoginName, accountLogin{IssuedAt: s.now().UnixMilli()})
	if err != nil {
		s.log.ErrorContext(r.Context(), "sealing an account login failed", "error", err)
		s.renderError(w, r, errorPage{status: http.StatusInternalServerError, problem: ui.ProblemText("problem.account_login_failed"), code: oautherr.CodeServerError})
		return
	}
	http.Redirect(w, r, s.prefix+"/login?"+url.Values{"ar": {sealed}}.Encode(), redirectStatus(r))
}

// openAccountLogin decodes the sealed request of a login for the account
// page. The authRequest it returns has no client and no redirect URI; the
// login page uses only its (empty) login hint.
func (s *Server) openAccountLogin(sealed string) (*authRequest, bool) {
	var al accountLogin
	if sealed == "" || s.requests.Decode(accountLoginName, sealed, &al) != nil {
		return nil, false
	}
	return &authRequest{MaxAge: -1, IssuedAt: al.IssuedAt}, true
}

// openSignIn decodes the sealed request a sign-in step carries: an app's
// authorization request, or a login for the account pages (no client).
func (s *Server) openSignIn(r *http.Request, sealed string) (*authRequest, *clients.Client, bool) {
	if ar, client, ok := s.openAuthRequest(r, sealed); ok {
		return ar, client, true
	}
	ar, ok := s.openAccountLogin(sealed)
	return ar, nil, ok
}

// clientIDOf is c's id, or "" for a login without an app.
func clientIDOf(c *clients.Client) string {
	if c == nil {
		return ""
	}
	return c.ID
}
