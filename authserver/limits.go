package authserver

import (
	"errors"
	"net/http"
)

// renderFormError answers a page form (login, consent) whose body could
// not be read: 413 when it is larger than maxFormBytes, else 400 (a body
// that is not a form, or malformed). Nothing was looked at, so nothing
// changed.
func (s *Server) renderFormError(w http.ResponseWriter, r *http.Request, err error) {
	var dup *duplicateParamError
	if errors.As(err, &dup) {
		// A repeated field is what a forged or stale form looks like.
		s.renderStaleForm(w, r)
		return
	}
	p := errorPage{status: http.StatusBadRequest, heading: "This request is not valid",
		message: "The form could not be read.", hint: "Go back to the app and start signing in again.", code: "invalid_request"}
	if errors.Is(err, errBodyTooLarge) {
		p.status, p.message = http.StatusRequestEntityTooLarge, "The form is too large."
	}
	s.renderError(w, r, p)
}
