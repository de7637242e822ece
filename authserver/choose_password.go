package authserver

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// choosePasswordPath is the page where an invitation or reset link lets
// its user choose a password.
const choosePasswordPath = "/account/choose-password"

// ChoosePasswordURL is the link that carries an invitation or password
// reset token (accounts.Manager.Invite, ResetLink) to the page where its
// user chooses a password.
func (s *Server) ChoosePasswordURL(token string) string {
	return s.Issuer() + choosePasswordPath + "?" + url.Values{"token": {token}}.Encode()
}

// handleChoosePassword serves the page of an invitation or reset link:
// GET shows the form for the token in the query, POST (token, csrf,
// password, confirm) sets the password and uses the token up. A token
// that is unknown, used or expired gets the same page whatever the
// reason. The token travels in the link's query, so the page (like every
// page) is sent with Referrer-Policy: no-referrer and never cached.
func (s *Server) handleChoosePassword(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	token := form.Get("token")
	u, kind, err := s.cfg.Accounts.CheckToken(r.Context(), token)
	if errors.Is(err, accounts.ErrNotFound) {
		s.renderError(w, r, errorPage{status: http.StatusNotFound, problem: ui.ProblemText("problem.password_link"), code: oautherr.CodeInvalidRequest})
		return
	} else if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	page := ui.ChoosePasswordPage{
		Base: s.base(""), FormAction: s.prefix + choosePasswordPath, Token: token, Username: u.Username,
		Invite: kind == store.UserTokenInvite, MinLength: s.cfg.Accounts.Policy().MinLength,
	}
	if r.Method != http.MethodPost {
		s.renderChoosePassword(w, r, page, http.StatusOK)
		return
	}
	if !s.checkCSRF(r, form) {
		page.Error = ui.Message("password.error.stale")
		s.renderChoosePassword(w, r, page, http.StatusForbidden)
		return
	}
	password, confirm := form.Get("password"), form.Get("confirm")
	switch {
	case password == "" || confirm == "":
		page.Error = ui.Message("password.error.missing")
	case password != confirm:
		page.Error = ui.Message("password.error.mismatch")
	}
	if page.Error != "" {
		s.renderChoosePassword(w, r, page, http.StatusBadRequest)
		return
	}
	_, err = s.cfg.Accounts.UseToken(r.Context(), token, password)
	var fe *accounts.FieldError
	switch {
	case errors.As(err, &fe):
		page.Error = ui.Message("password.error.policy", fe.Reason)
		s.renderChoosePassword(w, r, page, http.StatusBadRequest)
		return
	case errors.Is(err, accounts.ErrNotFound):
		// Used by another request since CheckToken.
		s.renderError(w, r, errorPage{status: http.StatusNotFound, problem: ui.ProblemText("problem.password_link"), code: oautherr.CodeInvalidRequest})
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "setting a password from a link failed", "sub", u.ID, "error", err)
		s.renderError(w, r, errorPage{status: http.StatusInternalServerError, problem: ui.ProblemText("problem.server"), code: oautherr.CodeServerError})
		return
	}
	page = ui.ChoosePasswordPage{Base: s.base(""), Done: true, SignInURL: s.prefix + accountAppsPath}
	s.renderChoosePassword(w, r, page, http.StatusOK)
}

func (s *Server) renderChoosePassword(w http.ResponseWriter, r *http.Request, page ui.ChoosePasswordPage, status int) {
	if !page.Done {
		page.CSRFToken = s.csrfToken(w, r)
	}
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the choose-password page failed", "error", err)
	}
}
