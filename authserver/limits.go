package authserver

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// renderFormError answers a page form (login, consent) whose body could
// not be read: 413 when it is larger than maxFormBytes, else 400 (a body
// that is not a form, or malformed). Nothing was looked at, so nothing
// changed.
func (s *Server) renderFormError(w http.ResponseWriter, r *http.Request, err error) {
	var dup *duplicateParamError
	switch {
	case errors.As(err, &dup):
		// A repeated field is what a forged or stale form looks like.
		s.renderStaleForm(w, r)
	case errors.Is(err, errBodyTooLarge):
		s.renderError(w, r, errorPage{status: http.StatusRequestEntityTooLarge, problem: ui.ProblemText("problem.form_too_large"), code: oautherr.CodeInvalidRequest})
	default:
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.bad_form"), code: oautherr.CodeInvalidRequest})
	}
}
