package authserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// A user directory (identity.Directory) answers identity.ErrNotFound for a
// user it does not have, and any other error when it could not be asked.
// The two must never be confused: treating a failed lookup as "no such
// user" would sign people out, refuse their tokens (invalid_grant,
// invalid_token) and make apps drop grants that are still good. A failed
// lookup is a server error, answered 503 so that clients try again.

// userLookupFailed is the OAuth error of a failed user lookup: a
// server_error (logged as one), with status 503.
func userLookupFailed(err error) *oautherr.Error {
	oe := oautherr.ServerError("the user directory could not be reached").WithCause(err)
	oe.Status = http.StatusServiceUnavailable
	return oe
}

// grantUser looks up the user a code or a grant was issued to, for the
// token endpoint: invalid_grant when they no longer exist.
func (s *Server) grantUser(ctx context.Context, subject string) (*identity.User, *oautherr.Error) {
	u, err := s.cfg.Users.UserByID(ctx, subject)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return nil, oautherr.InvalidGrant("the user no longer exists")
	case err != nil:
		return nil, userLookupFailed(err)
	}
	return u, nil
}

// renderUserLookupFailed is the error page of a failed user lookup.
func (s *Server) renderUserLookupFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "user lookup failed", "error", err)
	s.renderError(w, r, errorPage{status: http.StatusServiceUnavailable, problem: ui.ProblemText("problem.server"), code: oautherr.CodeServerError})
}
