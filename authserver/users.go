package authserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// A user directory (identity.Directory) answers identity.ErrNotFound for a
// user it does not have, and any other error when it could not be asked.
// The two must never be confused: treating a failed lookup as "no such
// user" would sign people out, refuse their tokens (invalid_grant,
// invalid_token) and make apps drop grants that are still good. A failed
// lookup is a server error, answered 503 so that clients try again.

// userLookupFailed is the OAuth error of a failed user or session lookup:
// a server_error (logged as one), with status 503; temporarily_unavailable
// when it was the store that could not be reached (oautherr.WithCause).
func userLookupFailed(err error) *oautherr.Error {
	msg := "the user directory could not be reached"
	if errors.Is(err, store.ErrUnavailable) {
		msg = "the sign-in service is temporarily unavailable; try again"
	}
	oe := oautherr.ServerError("%s", msg).WithCause(err)
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

// renderUserLookupFailed is the error page of a failed user or session
// lookup.
func (s *Server) renderUserLookupFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		s.renderUnavailable(w, r, err)
		return
	}
	s.log.ErrorContext(r.Context(), "user lookup failed", "error", err)
	s.renderError(w, r, errorPage{status: http.StatusServiceUnavailable, problem: ui.ProblemText("problem.server"), code: oautherr.CodeServerError})
}

// The store, like the directory, may fail to answer (a database that is
// down, slow or full): store.ErrUnavailable. A page then says so, with
// 503 and Retry-After, and an endpoint answers temporarily_unavailable
// (oautherr.WithCause); neither ever reads it as "not signed in" or "no
// such grant".

// renderUnavailable is the page shown when the store could not be reached:
// 503 with Retry-After, and words that tell the user to try again soon.
func (s *Server) renderUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "the store could not be reached", "error", err, "path", r.URL.Path)
	s.renderError(w, r, errorPage{status: http.StatusServiceUnavailable, problem: ui.ProblemText("problem.unavailable"), code: oautherr.CodeTemporarilyUnavailable})
}

// renderFailure is the page of an operation that failed with err: the
// unavailable page when the store could not be reached, otherwise a 500
// with problem, logged as msg.
func (s *Server) renderFailure(w http.ResponseWriter, r *http.Request, err error, msg string, problem ui.Problem) {
	if errors.Is(err, store.ErrUnavailable) {
		s.renderUnavailable(w, r, err)
		return
	}
	s.log.ErrorContext(r.Context(), msg, "error", err)
	s.renderError(w, r, errorPage{status: http.StatusInternalServerError, problem: problem, code: oautherr.CodeServerError})
}
