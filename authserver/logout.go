package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// logoutRequest is a sign-out request waiting for the user to confirm it.
// It travels sealed in the "lr" field, like authorization requests in
// "ar", but sealed under its own name so neither can pass for the other.
type logoutRequest struct {
	ClientID string `json:"c,omitempty"`
	// RedirectURI is a post_logout_redirect_uri already verified against
	// the client's registration; empty when there is none to follow.
	RedirectURI string `json:"r,omitempty"`
	State       string `json:"st,omitempty"`
	// Hinted: the request carried a valid id_token_hint issued to
	// ClientID. Only then may confirming the sign-out redirect to
	// RedirectURI; without it the user gets a labelled link instead.
	Hinted   bool  `json:"h,omitempty"`
	IssuedAt int64 `json:"iat"` // unix milliseconds
}

const logoutRequestName = "lr"

// maxSessionGrants bounds how many grants one logout looks at. A session
// gets one grant per code redeemed, so only an unusual session has more.
const maxSessionGrants = 1000

// idTokenHint is what logout needs from an id_token_hint.
type idTokenHint struct {
	Subject         string         `json:"sub"`
	Audience        token.Audience `json:"aud"`
	AuthorizedParty string         `json:"azp"`
	SessionID       string         `json:"sid"`
}

// handleLogout is the end_session_endpoint (OpenID Connect RP-Initiated
// Logout 1.0 §2, §3), for GET and POST.
//
// id_token_hint must be an ID token this server issued (signature and
// iss are checked; an expired one is fine, §2); its aud names the client,
// and client_id, when also sent, must agree. post_logout_redirect_uri is
// considered only when it exactly matches one registered for that client
// (§3); otherwise the signed-out page is shown. state is echoed on the way
// back to the app.
//
// The session ends at once only when the hint's sid is the browser's
// current session; otherwise (no hint, a hint for another session, or a
// cross-site POST that arrives without the SameSite=Lax session cookie)
// the user confirms on a CSRF-protected page first (§2: logout requests
// can be forged).
//
// A registered post_logout_redirect_uri is not proof that following it is
// safe: with open registration anyone can register one, and a bare link
// to this endpoint would then bounce any browser to the attacker's page
// (an open redirector, RFC 9700 §4.11). §3 lets the OP skip the redirect
// when it cannot confirm the request, and we follow it without asking
// only in the case where the request proves itself: a hint issued to that
// client for the browser's current session. After a confirmation, a hint
// for the client (of any session) is enough, since the user has just seen
// which app asked. In every other case the user only ever sees pages:
// the confirmation page while there is a session to end, then the
// signed-out page, which offers the URI (with state) as a link naming its
// host, so the user decides whether to go there.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.renderLogoutError(w, r, status, "logout.problem.unreadable", err.Error())
		return
	}
	if r.Method == http.MethodPost && form.Has(logoutRequestName) {
		s.confirmLogout(w, r, form)
		return
	}
	lr, client, hintSID, problem := s.parseLogoutRequest(r, form)
	if problem != "" {
		status := http.StatusBadRequest
		if problem == serverProblem {
			status = http.StatusInternalServerError
		}
		s.renderLogoutError(w, r, status, problem, "")
		return
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.logoutLookupFailed(w, r, err)
		return
	}
	switch {
	case sess != nil && hintSID != "" && hintSID == sessionSID(sess.IDHash):
		// The RP proved it is signing out its own user in this browser.
		if s.endBrowserSession(w, r, sess) {
			s.finishLogout(w, r, lr, true)
		}
	case sess == nil && r.Method == http.MethodGet:
		// Already signed out: nothing to confirm, and nothing ties the
		// request to this browser, so no redirect either (only a link).
		s.finishLogout(w, r, lr, false)
	default:
		if lr.Hinted {
			// Confirming may redirect, and browsers apply form-action
			// to a form's redirects too.
			setCSP(w.Header(), formActionSource(lr.RedirectURI))
		}
		s.renderLogoutConfirm(w, r, lr, client, sess)
	}
}

// serverProblem is parseLogoutRequest's answer when the store failed.
const serverProblem = "logout.problem.server"

// parseLogoutRequest validates an RP's logout request. A non-empty
// problem is the message id (ui catalog) of what is wrong, for the error
// page; nothing was changed.
func (s *Server) parseLogoutRequest(r *http.Request, form url.Values) (lr *logoutRequest, client *clients.Client, hintSID, problem string) {
	lr = &logoutRequest{IssuedAt: s.now().UnixMilli()}
	clientID := form.Get("client_id")
	if raw := form.Get("id_token_hint"); raw != "" {
		hint, ok := s.verifyIDTokenHint(r.Context(), raw)
		if !ok {
			return nil, nil, "", "logout.problem.bad_hint"
		}
		aud := hint.Audience[0]
		if clientID != "" && clientID != aud {
			return nil, nil, "", "logout.problem.client_mismatch"
		}
		clientID, hintSID = aud, hint.SessionID
		lr.Hinted = true
	}
	if len(clientID) > 255 {
		return nil, nil, "", "logout.problem.bad_client"
	}
	if clientID != "" {
		c, err := s.clientFor(r.Context(), clientID)
		switch {
		case errors.Is(err, clients.ErrUnknown):
			return nil, nil, "", "logout.problem.unknown_client"
		case err != nil:
			s.log.ErrorContext(r.Context(), "client lookup failed at logout", "error", err)
			return nil, nil, "", serverProblem
		}
		client, lr.ClientID = c, c.ID
	}
	lr.State = form.Get("state")
	if !isParamText(lr.State) {
		return nil, nil, "", "logout.problem.state_too_long"
	}
	if ru := form.Get("post_logout_redirect_uri"); ru != "" {
		if client != nil && slices.Contains(client.PostLogoutRedirectURIs, ru) {
			lr.RedirectURI = ru
		} else {
			// §3: never redirect to an unregistered URI. The user still
			// signs out, and sees the signed-out page instead.
			s.log.InfoContext(r.Context(), "post_logout_redirect_uri not registered; not redirecting", "client_id", lr.ClientID)
		}
	}
	return lr, client, hintSID, ""
}

// verifyIDTokenHint checks that raw is an ID token this server signed.
// Expiry is ignored (RP-Initiated Logout §2); the audience must name one
// client, which is how the hint identifies the RP.
func (s *Server) verifyIDTokenHint(ctx context.Context, raw string) (*idTokenHint, bool) {
	v := &token.Verifier{
		Keys:         s.cfg.Keys,
		Issuer:       s.Issuer(),
		Algorithms:   clients.IDTokenAlgs(s.cfg.Keys.Algorithms()),
		Type:         "JWT", // what issue.go sets; access and logout tokens differ
		IgnoreExpiry: true,
		Now:          s.now,
	}
	var hint idTokenHint
	if err := v.Verify(ctx, raw, &hint); err != nil {
		return nil, false
	}
	switch {
	case len(hint.Audience) == 1 && hint.Audience[0] != "":
	case hint.AuthorizedParty != "" && hint.Audience.Contains(hint.AuthorizedParty):
		hint.Audience = token.Audience{hint.AuthorizedParty}
	default:
		return nil, false
	}
	return &hint, true
}

// confirmLogout handles the confirmation form (and the account page's
// sign-out button): CSRF-checked, it ends whatever session the browser
// has now.
func (s *Server) confirmLogout(w http.ResponseWriter, r *http.Request, form url.Values) {
	if !s.checkCSRF(r, form) {
		s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.logout_stale_form"), code: oautherr.CodeInvalidRequest})
		return
	}
	var lr logoutRequest
	if s.requests.Decode(logoutRequestName, form.Get(logoutRequestName), &lr) != nil {
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.logout_expired"), code: oautherr.CodeInvalidRequest})
		return
	}
	// The client may have changed since the page was shown.
	if lr.RedirectURI != "" {
		c, err := s.clientFor(r.Context(), lr.ClientID)
		if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, lr.RedirectURI) {
			lr.RedirectURI = ""
		}
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.logoutLookupFailed(w, r, err)
		return
	}
	if sess != nil && !s.endBrowserSession(w, r, sess) {
		return
	}
	// The user confirmed, but only a hint shows the app itself asked; a
	// request anyone could have linked to gets the labelled link.
	s.finishLogout(w, r, &lr, lr.Hinted)
}

// endBrowserSession ends sess and clears the cookie. On failure it shows
// an error page and returns false: the session may still be live.
func (s *Server) endBrowserSession(w http.ResponseWriter, r *http.Request, sess *browserSession) bool {
	err := s.EndSession(r.Context(), sess.IDHash)
	http.SetCookie(w, s.cookies.Cookie(sessionCookie, "", -1))
	if err != nil {
		s.renderFailure(w, r, fmt.Errorf("ending %s's session: %w", sess.Subject, err), "ending a session failed", ui.ProblemText("problem.logout_failed"))
		return false
	}
	s.log.InfoContext(r.Context(), "signed out", "sub", sess.Subject)
	return true
}

// finishLogout ends a sign-out. With redirect, it redirects to the
// verified post-logout URI with state; otherwise, or when there is no
// such URI, it shows the signed-out page, which offers the URI (with
// state) as a link naming where it leads.
func (s *Server) finishLogout(w http.ResponseWriter, r *http.Request, lr *logoutRequest, redirect bool) {
	target := postLogoutTarget(lr)
	if target != "" && redirect {
		w.Header().Set("Location", target)
		w.WriteHeader(redirectStatus(r))
		return
	}
	if target != "" {
		s.log.InfoContext(r.Context(), "post_logout_redirect_uri offered as a link, not followed", "client_id", lr.ClientID)
	}
	if err := s.cfg.UI.Render(w, http.StatusOK, ui.SignedOutPage{Base: s.base(""), AppReturn: target}); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the signed-out page failed", "error", err)
	}
}

// postLogoutTarget is where the app asked the user to be sent after
// signing out: its verified post_logout_redirect_uri with state added
// (RP-Initiated Logout §3), or "" when there is none.
func postLogoutTarget(lr *logoutRequest) string {
	if lr.RedirectURI == "" {
		return ""
	}
	u, err := url.Parse(lr.RedirectURI)
	if err != nil {
		return ""
	}
	if lr.State != "" {
		q := u.Query()
		q.Set("state", lr.State)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, lr *logoutRequest, client *clients.Client, sess *browserSession) {
	sealed, err := s.requests.Encode(logoutRequestName, lr)
	if err != nil {
		s.log.ErrorContext(r.Context(), "sealing a logout request failed", "error", err)
		s.renderLogoutError(w, r, http.StatusInternalServerError, serverProblem, "")
		return
	}
	page := ui.LogoutPage{
		Base:          s.base(""),
		FormAction:    s.prefix + "/logout",
		LogoutRequest: sealed,
		CSRFToken:     s.csrfToken(w, r),
	}
	if sess != nil {
		page.User = ui.UserView{Name: sess.User.Name, Username: sess.User.Username, Email: sess.User.Email}
	}
	if client != nil {
		page.ClientName, page.ClientLogoURI = client.Name, logoOf(client)
	}
	if err := s.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the logout page failed", "error", err)
	}
}

// renderLogoutError shows what is wrong with a sign-out request: problem
// is a message id of the ui catalog, detail an optional technical note.
func (s *Server) renderLogoutError(w http.ResponseWriter, r *http.Request, status int, problem, detail string) {
	p := errorPage{status: status, problem: ui.ProblemText("problem.logout_invalid", ui.Message(problem)),
		code: oautherr.CodeInvalidRequest, detail: detail}
	if status >= 500 {
		p = errorPage{status: status, problem: ui.ProblemText("problem.logout_server"), code: oautherr.CodeServerError}
	}
	s.renderError(w, r, p)
}

// logoutLookupFailed answers a sign-out whose session's user could not be
// looked up (users.go): nothing was changed.
func (s *Server) logoutLookupFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		s.renderUnavailable(w, r, err)
		return
	}
	s.log.ErrorContext(r.Context(), "user lookup failed", "error", err)
	s.renderLogoutError(w, r, http.StatusServiceUnavailable, serverProblem, "")
}

// EndSession ends the browser session whose id hash is idHash, wherever
// the logout started (the end_session_endpoint, the account page, a
// gate's logout): it revokes the session record, revokes the grants made
// in the session unless they have offline_access, and notifies by
// back-channel logout (in the background) every client that received
// tokens in the session. Grants with offline_access survive: the user
// let the app keep access while they are away, and takes it back on the
// connected-apps page. An unknown or already ended session is not an
// error, and is not notified twice.
//
// The error is about the session record; failures after it is revoked are
// logged.
func (s *Server) EndSession(ctx context.Context, idHash string) error {
	rec, err := s.cfg.Store.GetSession(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !rec.RevokedAt.IsZero() {
		return nil
	}
	now := s.now()
	if err := s.cfg.Store.RevokeSession(ctx, idHash, now); err != nil {
		return err
	}
	s.afterSessionEnded(ctx, rec, now)
	return nil
}

func (s *Server) afterSessionEnded(ctx context.Context, rec store.Session, now time.Time) {
	grants, err := s.cfg.Store.ListGrantsBySession(ctx, rec.IDHash, maxSessionGrants)
	if err != nil {
		s.log.ErrorContext(ctx, "listing a session's grants at logout failed", "sub", rec.Subject, "error", err)
		return
	}
	if len(grants) == maxSessionGrants {
		s.log.WarnContext(ctx, "session has too many grants; only the first are handled at logout", "sub", rec.Subject, "limit", maxSessionGrants)
	}
	var clients []string
	for _, g := range grants {
		if !slices.Contains(clients, g.ClientID) {
			clients = append(clients, g.ClientID)
		}
		if !g.RevokedAt.IsZero() || !now.Before(g.ExpiresAt) || slices.Contains(g.Scopes, "offline_access") {
			continue
		}
		if err := s.cfg.Store.RevokeGrant(ctx, g.ID, now); err != nil {
			s.log.ErrorContext(ctx, "revoking a grant at logout failed", "grant_id", g.ID, "error", err)
		}
	}
	sid := sessionSID(rec.IDHash)
	for _, id := range clients {
		c, err := s.clientFor(ctx, id)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		tok, err := s.logoutToken(c, rec.Subject, sid, now)
		if err != nil {
			s.log.ErrorContext(ctx, "signing a logout token failed", "client_id", c.ID, "error", err)
			continue
		}
		s.backchannel.send(c.ID, c.BackchannelLogoutURI, tok)
	}
}

// Shutdown waits until ctx is done for back-channel logout deliveries in
// flight, then abandons the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.backchannel.shutdown(ctx), s.waitForResetEmails(ctx))
}
