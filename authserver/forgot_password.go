package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// forgotPasswordPath is the "forgot password" page, served when the
// server can send email (Config.Mailer).
const forgotPasswordPath = "/account/forgot-password"

// Limits of "forgot password" requests. Per client address: a few at
// once, then one a minute (answered 429, which says nothing about any
// account). Per email address and per account: a few a day, beyond
// which requests are answered as usual but send nothing, so nobody can
// flood a mailbox or learn from a refusal that the account exists.
const (
	forgotPerIPBurst       = 5
	forgotPerIPInterval    = time.Minute
	forgotPerMailBurst     = 3
	forgotPerMailInterval  = 8 * time.Hour
	maxPendingResetEmails  = 16
	resetEmailSendDeadline = time.Minute
)

// forgotPassword is the state of the "forgot password" flow.
type forgotPassword struct {
	perIP      *throttle.RateLimiter
	perAddress *throttle.RateLimiter // by email address and by account
	pending    chan struct{}         // bounds emails being sent
	wg         sync.WaitGroup
}

func newForgotPassword() *forgotPassword {
	return &forgotPassword{
		perIP:      throttle.NewRateLimiter(forgotPerIPBurst, forgotPerIPInterval, nil),
		perAddress: throttle.NewRateLimiter(forgotPerMailBurst, forgotPerMailInterval, nil),
		pending:    make(chan struct{}, maxPendingResetEmails),
	}
}

// handleForgotPassword serves the "forgot password" page. POST (csrf,
// email) answers the same page whether or not an account has that
// address, before anything about it is looked up: the lookup and the
// email happen afterwards, in the background, so neither the answer nor
// its timing tells who has an account.
func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	page := ui.ForgotPasswordPage{Base: s.base(""), FormAction: s.prefix + forgotPasswordPath, SignInURL: s.prefix + accountAppsPath}
	if r.Method != http.MethodPost {
		s.renderForgot(w, r, page, http.StatusOK)
		return
	}
	email := strings.TrimSpace(form.Get("email"))
	page.Email = email
	switch {
	case !s.checkCSRF(r, form):
		page.Error = ui.Message("password.error.stale")
		s.renderForgot(w, r, page, http.StatusForbidden)
		return
	case email == "" || len(email) > 254:
		page.Error = ui.Message("password.error.email")
		s.renderForgot(w, r, page, http.StatusBadRequest)
		return
	}
	if ok, wait := s.forgot.perIP.Allow(ClientIP(r), s.now()); !ok {
		w.Header().Set("Retry-After", throttle.RetryAfter(wait))
		page.Error = ui.Message("password.error.too_many", humanWait(wait))
		s.renderForgot(w, r, page, http.StatusTooManyRequests)
		return
	}
	s.log.InfoContext(r.Context(), "password reset requested", "event", "user.reset_requested_by_email", "client_ip", ClientIP(r))
	select {
	case s.forgot.pending <- struct{}{}:
		s.forgot.wg.Add(1)
		go func() {
			defer func() { <-s.forgot.pending; s.forgot.wg.Done() }()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), resetEmailSendDeadline)
			defer cancel()
			s.sendResetEmail(ctx, email)
		}()
	default:
		s.log.WarnContext(r.Context(), "too many password reset emails in flight; this request sends none")
	}
	page = ui.ForgotPasswordPage{Base: s.base(""), Sent: true, SignInURL: page.SignInURL}
	s.renderForgot(w, r, page, http.StatusOK)
}

// sendResetEmail emails a reset link to the account with that address,
// if there is one and neither the address nor the account has asked too
// often.
func (s *Server) sendResetEmail(ctx context.Context, email string) {
	now := s.now()
	if ok, _ := s.forgot.perAddress.Allow("email:"+store.UserKey(email), now); !ok {
		s.log.InfoContext(ctx, "password reset email not sent: too many for this address")
		return
	}
	u, token, expires, err := s.cfg.Accounts.ResetByEmail(ctx, email)
	if errors.Is(err, accounts.ErrNotFound) {
		return
	} else if err != nil {
		s.log.ErrorContext(ctx, "issuing a password reset failed", "error", err)
		return
	}
	if ok, _ := s.forgot.perAddress.Allow("account:"+u.ID, now); !ok {
		s.log.InfoContext(ctx, "password reset email not sent: too many for this account", "sub", u.ID)
		return
	}
	product := s.cfg.UI.Branding().ProductName
	if product == "" {
		product = "Gatehouse"
	}
	body := fmt.Sprintf("Hello %s,\n\nSomeone asked to reset the password of your %s account (%s). "+
		"To choose a new password, open this link. It works once, until %s:\n\n%s\n\n"+
		"If you did not ask for this, ignore this email: your password stays as it is.\n",
		strings.TrimSpace(u.Name+" "), product, u.Username, expires.UTC().Format("2006-01-02 15:04 MST"), s.ChoosePasswordURL(token))
	err = s.cfg.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: "Reset your " + product + " password", Body: body})
	if err != nil {
		s.log.ErrorContext(ctx, "sending a password reset email failed", "sub", u.ID, "error", err)
		return
	}
	s.log.InfoContext(ctx, "password reset email sent", "event", "user.reset_email_sent", "sub", u.ID)
}

func (s *Server) renderForgot(w http.ResponseWriter, r *http.Request, page ui.ForgotPasswordPage, status int) {
	if !page.Sent {
		page.CSRFToken = s.csrfToken(w, r)
	}
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the forgot-password page failed", "error", err)
	}
}

// waitForResetEmails waits for emails being sent, or ctx.
func (s *Server) waitForResetEmails(ctx context.Context) error {
	if s.forgot == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { s.forgot.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
