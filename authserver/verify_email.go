package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// verifyEmailPath confirms a new email address from the link sent to it.
const verifyEmailPath = "/account/verify-email"

// changeEmail sends a confirmation link to the new address the signed-in
// user typed on the account page; their email changes when it is
// confirmed.
func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, sess *browserSession, email string, done func(string)) {
	token, expires, err := s.cfg.Accounts.RequestEmailChange(r.Context(), sess.Subject, email)
	var fe *accounts.FieldError
	if errors.As(err, &fe) {
		s.renderAccount(w, r, sess, "", ui.Message("settings.error.email", fe.Reason), "email", http.StatusBadRequest)
		return
	} else if err != nil {
		s.accountChangeFailed(w, r, err)
		return
	}
	link := s.Issuer() + verifyEmailPath + "?" + url.Values{"token": {token}}.Encode()
	product := s.cfg.UI.Branding().ProductName
	if product == "" {
		product = "Gatehouse"
	}
	body := fmt.Sprintf("Hello,\n\nTo use this address for your %s account (%s), open this link. It works once, until %s:\n\n%s\n\n"+
		"If you did not ask for this, ignore this email: nothing changes.\n",
		product, sess.User.Username, expires.UTC().Format("2006-01-02 15:04 MST"), link)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.cfg.Mailer.Send(ctx, mail.Message{To: email, Subject: "Confirm your email address for " + product, Body: body}); err != nil {
		s.log.ErrorContext(r.Context(), "sending an email confirmation failed", "sub", sess.Subject, "error", err)
		s.renderAccount(w, r, sess, "", ui.Message("settings.error.send"), "email", http.StatusServiceUnavailable)
		return
	}
	done("email_sent")
}

// handleVerifyEmail serves the confirmation link: GET asks to confirm
// (a mail scanner that fetches links confirms nothing), POST (token,
// csrf) makes the address the user's email, verified.
func (s *Server) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	token := form.Get("token")
	invalid := func() {
		s.renderError(w, r, errorPage{status: http.StatusNotFound, problem: ui.ProblemText("problem.email_link"), code: oautherr.CodeInvalidRequest})
	}
	u, email, err := s.cfg.Accounts.CheckEmailToken(r.Context(), token)
	if errors.Is(err, accounts.ErrNotFound) {
		invalid()
		return
	} else if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	page := ui.VerifyEmailPage{Base: s.base(""), FormAction: s.prefix + verifyEmailPath, Token: token,
		Email: email, Username: u.Username, AccountURL: s.prefix + accountPath}
	if r.Method == http.MethodPost {
		if !s.checkCSRF(r, form) {
			s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.account_stale_form"), code: oautherr.CodeInvalidRequest})
			return
		}
		_, err := s.cfg.Accounts.ConfirmEmail(r.Context(), token)
		var fe *accounts.FieldError
		switch {
		case errors.Is(err, accounts.ErrNotFound), errors.As(err, &fe):
			invalid()
			return
		case err != nil:
			s.accountChangeFailed(w, r, err)
			return
		}
		page = ui.VerifyEmailPage{Base: s.base(""), Done: true, AccountURL: page.AccountURL}
	} else {
		page.CSRFToken = s.csrfToken(w, r)
	}
	if err := s.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the email confirmation page failed", "error", err)
	}
}
