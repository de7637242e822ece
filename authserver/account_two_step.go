package authserver

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// accountTwoStepPath is where the account page's two-step verification
// section posts: "start" sets up an authenticator app, "confirm" turns it
// on with a first code (and shows recovery codes once), "recovery"
// replaces the recovery codes, "remove" turns two-step verification off.
const accountTwoStepPath = "/account/two-step"

// twoStepView is the account page's section for the signed-in user.
func (s *Server) twoStepView(r *http.Request, sess *browserSession) (*ui.TwoStepView, error) {
	if !s.mfaOn() {
		return nil, nil
	}
	factors, err := s.confirmedFactors(r.Context(), sess.Subject)
	if err != nil {
		return nil, err
	}
	v := &ui.TwoStepView{On: len(factors) > 0, FormAction: s.prefix + accountTwoStepPath}
	if v.On {
		if v.RecoveryLeft, err = s.cfg.Store.CountRecoveryCodes(r.Context(), sess.Subject); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (s *Server) handleAccountTwoStep(w http.ResponseWriter, r *http.Request) {
	form, sess, ok := s.accountRequest(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		http.Redirect(w, r, s.prefix+accountPath, http.StatusSeeOther)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.account_stale_form"), code: oautherr.CodeInvalidRequest})
		return
	}
	ctx := r.Context()
	done := func(key string) {
		http.Redirect(w, r, s.prefix+accountPath+"?"+url.Values{"done": {key}}.Encode(), http.StatusSeeOther)
	}
	switch form.Get("action") {
	case "start":
		page, err := s.newEnrolment(ctx, sess.User)
		if err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		page.FormAction, page.CSRFToken = s.prefix+accountTwoStepPath, s.csrfToken(w, r)
		s.render(w, r, http.StatusOK, page)
	case "confirm":
		id := form.Get("factor")
		if id == "" || len(id) > 64 {
			s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_bad_request"), code: oautherr.CodeInvalidRequest})
			return
		}
		res, err := s.checkCode(ctx, r, sess.Subject, form.Get("code"), id)
		if err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		if res.method == "" {
			s.renderEnrolAgain(w, r, "", sess.User, "", id, res)
			return
		}
		s.emitFrom(r, Event{Type: EventUser, Result: "factor_added", Subject: sess.Subject, Username: sess.User.Username})
		s.showRecoveryCodes(w, r, sess)
	case "recovery":
		factors, err := s.confirmedFactors(ctx, sess.Subject)
		if err != nil {
			s.accountChangeFailed(w, r, err)
			return
		}
		if len(factors) == 0 {
			s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_bad_request"), code: oautherr.CodeInvalidRequest})
			return
		}
		s.emitFrom(r, Event{Type: EventUser, Result: "recovery_codes_replaced", Subject: sess.Subject, Username: sess.User.Username})
		s.showRecoveryCodes(w, r, sess)
	case "remove":
		if _, err := s.cfg.Store.DeleteFactors(ctx, sess.Subject); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.accountChangeFailed(w, r, err)
			return
		}
		s.emitFrom(r, Event{Type: EventUser, Result: "factors_removed", Subject: sess.Subject, Username: sess.User.Username})
		done("two_step_off")
	default:
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.account_bad_request"), code: oautherr.CodeInvalidRequest})
	}
}

// showRecoveryCodes replaces the user's recovery codes and shows the new
// ones, this once.
func (s *Server) showRecoveryCodes(w http.ResponseWriter, r *http.Request, sess *browserSession) {
	codes, err := s.newRecoveryCodes(r.Context(), sess.Subject)
	if err != nil {
		s.accountChangeFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, ui.EnrolFactorPage{Base: s.base(""), RecoveryCodes: codes, DoneURL: s.prefix + accountPath})
}
