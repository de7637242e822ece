package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// accountPath is the signed-in user's own account page: profile,
// password and sessions, next to the connected apps (account.go).
const accountPath = "/account"

// maxListedSessions bounds the sessions the account page lists.
const maxListedSessions = 50

// settingsNotices are the confirmations a change leads to (post/
// redirect/get: ?done=<key>).
var settingsNotices = map[string]string{
	"profile":       "settings.notice.profile",
	"password":      "settings.notice.password",
	"ended_session": "settings.notice.ended_session",
	"ended_others":  "settings.notice.ended_others",
	"email_sent":    "settings.notice.email_sent",
	"two_step_off":  "factor.notice.removed",
}

// handleAccount is the account page. GET shows it; POST (csrf, action)
// changes the name ("profile", name), the password ("password",
// current, password, confirm; the other sessions end), signs out one
// other session ("end_session", session) or all others ("end_others"),
// then shows the page again with a confirmation. Names and passwords of
// users from the configuration cannot be changed here.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	form, sess, ok := s.accountRequest(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		notice := ""
		if id, ok := settingsNotices[form.Get("done")]; ok {
			notice = ui.Message(id)
		}
		s.renderAccount(w, r, sess, notice, "", "", http.StatusOK)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.account_stale_form"), code: oautherr.CodeInvalidRequest})
		return
	}
	ctx, m := r.Context(), s.cfg.Accounts
	done := func(key string) {
		http.Redirect(w, r, s.prefix+accountPath+"?"+url.Values{"done": {key}}.Encode(), http.StatusSeeOther)
	}
	switch action := form.Get("action"); {
	case action == "profile" && sess.User.Stored:
		name := form.Get("name")
		_, err := m.Update(ctx, sess.Subject, accounts.Patch{Name: &name})
		var fe *accounts.FieldError
		if errors.As(err, &fe) {
			s.renderAccount(w, r, sess, "", ui.Message("settings.error.name", fe.Reason), "profile", http.StatusBadRequest)
			return
		} else if err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		if email := strings.TrimSpace(form.Get("email")); s.cfg.Mailer != nil && form.Has("email") && !strings.EqualFold(email, sess.User.Email) {
			s.changeEmail(w, r, sess, email, done)
			return
		}
		done("profile")
	case action == "password" && sess.User.Stored:
		s.changePassword(w, r, sess, form, done)
	case action == "end_session":
		target := form.Get("session")
		if target == sess.IDHash || !s.ownsSession(r, sess.Subject, target) {
			s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_bad_request"), code: oautherr.CodeInvalidRequest})
			return
		}
		if err := s.EndSession(ctx, target); err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		done("ended_session")
	case action == "end_others":
		if _, _, err := m.RevokeSessions(ctx, sess.Subject, sess.IDHash, "signed out elsewhere"); err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		done("ended_others")
	default:
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_bad_request"), code: oautherr.CodeInvalidRequest})
	}
}

// changePassword checks the current password under the login throttle
// (the form must not become a way around it), then sets the new one and
// ends every other session.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, sess *browserSession, form url.Values, done func(string)) {
	current, next, confirm := form.Get("current"), form.Get("password"), form.Get("confirm")
	fail := func(msg string) { s.renderAccount(w, r, sess, "", msg, "password", http.StatusBadRequest) }
	switch {
	case current == "" || next == "" || confirm == "" || len(current) > 1024:
		fail(ui.Message("password.error.missing"))
		return
	case next != confirm:
		fail(ui.Message("password.error.mismatch"))
		return
	}
	subject, ip := throttle.AccountKey(sess.Subject), ClientIP(r)
	if ok, wait := s.logins.Admit(subject, ip, s.now()); !ok {
		w.Header().Set("Retry-After", throttle.RetryAfter(wait))
		s.renderAccount(w, r, sess, "", ui.Message("password.error.throttled", humanWait(wait)), "password", http.StatusTooManyRequests)
		return
	}
	result := throttle.Abandoned
	defer func() { s.logins.Done(subject, ip, result, s.now()) }()
	err := s.cfg.Accounts.ChangePassword(r.Context(), sess.Subject, current, next, sess.IDHash)
	var fe *accounts.FieldError
	switch {
	case errors.Is(err, accounts.ErrWrongPassword):
		result = throttle.Failed
		fail(ui.Message("password.error.current"))
	case errors.As(err, &fe):
		result = throttle.Succeeded // the current password was right
		fail(ui.Message("password.error.policy", fe.Reason))
	case err != nil:
		s.accountChangeFailed(w, r, err)
	default:
		result = throttle.Succeeded
		done("password")
	}
}

// ownsSession reports whether idHash is one of subject's live sessions.
func (s *Server) ownsSession(r *http.Request, subject, idHash string) bool {
	if idHash == "" || len(idHash) > 128 {
		return false
	}
	list, err := s.cfg.Store.ListUserSessions(r.Context(), subject, s.now(), maxListedSessions)
	if err != nil {
		s.log.ErrorContext(r.Context(), "listing sessions failed", "sub", subject, "error", err)
		return false
	}
	for _, other := range list {
		if other.IDHash == idHash {
			return true
		}
	}
	return false
}

func (s *Server) accountChangeFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "changing an account failed", "error", err)
	s.renderError(w, r, errorPage{status: http.StatusInternalServerError, problem: ui.ProblemText("problem.server"), code: oautherr.CodeServerError})
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, sess *browserSession, notice, problem, problemIn string, status int) {
	list, err := s.cfg.Store.ListUserSessions(r.Context(), sess.Subject, s.now(), maxListedSessions)
	if err != nil {
		s.accountChangeFailed(w, r, err)
		return
	}
	page := ui.AccountSettingsPage{
		Base:          s.base(""),
		FormAction:    s.prefix + accountPath,
		CSRFToken:     s.csrfToken(w, r),
		User:          ui.UserView{Name: sess.User.Name, Username: sess.User.Username, Email: sess.User.Email},
		Editable:      sess.User.Stored,
		EmailEditable: sess.User.Stored && s.cfg.Mailer != nil,
		MinLength:     s.cfg.Accounts.Policy().MinLength,
		Notice:        notice, Error: problem, ErrorIn: problemIn,
		AppsURL: s.prefix + accountAppsPath,
	}
	if page.TwoStep, err = s.twoStepView(r, sess); err != nil {
		s.accountChangeFailed(w, r, err)
		return
	}
	if signOut, err := s.requests.Encode(logoutRequestName, &logoutRequest{IssuedAt: s.now().UnixMilli()}); err == nil {
		page.SignOutAction, page.SignOutRequest = s.prefix+"/logout", signOut
	}
	if page.Identities, err = s.linkedIdentityViews(r.Context(), sess.Subject); err != nil {
		s.accountChangeFailed(w, r, err)
		return
	}
	for _, other := range list {
		browser, system := deviceOf(other.UserAgent)
		v := ui.SessionView{ID: other.IDHash, Browser: browser, System: system,
			SignedInAt: other.AuthTime, Current: other.IDHash == sess.IDHash}
		if v.Current { // this device first, then the others, newest first
			page.Sessions = append([]ui.SessionView{v}, page.Sessions...)
		} else {
			page.Sessions = append(page.Sessions, v)
		}
	}
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the account page failed", "error", err)
	}
}
