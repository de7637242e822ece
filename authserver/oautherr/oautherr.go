// Package oautherr is the one OAuth 2.0 error type of Gatehouse: codes as
// spelled on the wire (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; OIDC Core
// §3.1.2.6; RFC 7591 §3.2.2; RFC 8707 §2), an HTTP status, a hidden cause
// for the logs, and a flag for errors that must never be redirected.
//
// Errors are built by constructor functions, never shared mutable values.
package oautherr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// Code is an OAuth 2.0 error code: the "error" parameter, as spelled on
// the wire. Code decides what happens to an error; the description is for
// people, so nothing compares it.
type Code string

// The codes this server sends, each defined by the specification cited
// above it: a client can act only on a code it knows.
const (
	// RFC 6749 §4.1.2.1 and §5.2.
	CodeInvalidRequest          Code = "invalid_request"
	CodeInvalidClient           Code = "invalid_client"
	CodeInvalidGrant            Code = "invalid_grant"
	CodeUnauthorizedClient      Code = "unauthorized_client"
	CodeUnsupportedGrantType    Code = "unsupported_grant_type"
	CodeUnsupportedResponseType Code = "unsupported_response_type"
	CodeInvalidScope            Code = "invalid_scope"
	CodeAccessDenied            Code = "access_denied"
	CodeServerError             Code = "server_error"
	CodeTemporarilyUnavailable  Code = "temporarily_unavailable"

	// OpenID Connect Core §3.1.2.6.
	CodeLoginRequired          Code = "login_required"
	CodeConsentRequired        Code = "consent_required"
	CodeInteractionRequired    Code = "interaction_required"
	CodeRequestNotSupported    Code = "request_not_supported"
	CodeRequestURINotSupported Code = "request_uri_not_supported"

	// RFC 6750 §3.1.
	CodeInvalidToken      Code = "invalid_token"
	CodeInsufficientScope Code = "insufficient_scope"
	// RFC 9470 §3: the user's authentication is too weak or too old.
	CodeInsufficientUserAuthentication Code = "insufficient_user_authentication"

	// RFC 8707 §2.
	CodeInvalidTarget Code = "invalid_target"

	// RFC 7591 §3.2.2.
	CodeInvalidRedirectURI    Code = "invalid_redirect_uri"
	CodeInvalidClientMetadata Code = "invalid_client_metadata"
)

// Error is an OAuth 2.0 protocol error.
type Error struct {
	// Code is the "error" parameter.
	Code Code
	// Description is the human-readable "error_description". It is shown
	// to clients, so it never contains internals.
	Description string
	// Status is the HTTP status used when the error is written as JSON.
	Status int
	// NoRedirect marks authorization errors that must be shown to the user
	// instead of being sent to the redirect_uri, because the client or its
	// redirect_uri could not be verified (RFC 6749 §4.1.2.1).
	NoRedirect bool

	cause error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.cause != nil {
		msg += " (" + e.cause.Error() + ")"
	}
	return msg
}

// Unwrap returns the hidden cause.
func (e *Error) Unwrap() error { return e.cause }

// WithCause returns a copy of e carrying err as its hidden cause; the cause
// is logged but never sent to the client.
//
// A server_error whose cause is temporary (IsTemporarilyUnavailable: the
// store could not be reached in time) becomes temporarily_unavailable
// with status 503, the code RFC 6749 §4.1.2.1 has for it: the client is
// told to try again, never sent a bare 500. Every server error built from
// a cause passes here, so no endpoint has to remember it.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.cause = err
	if c.Code == CodeServerError && IsTemporarilyUnavailable(err) {
		c.Code, c.Status = CodeTemporarilyUnavailable, http.StatusServiceUnavailable
	}
	return &c
}

// TemporarilyUnavailable reports whether e is temporarily_unavailable or
// has a temporary cause, so that an OAuth error passed on as a cause keeps
// saying so.
func (e *Error) TemporarilyUnavailable() bool {
	return e.Code == CodeTemporarilyUnavailable || IsTemporarilyUnavailable(e.cause)
}

// IsTemporarilyUnavailable reports whether err, or an error it wraps, says
// it is temporary with a TemporarilyUnavailable() bool method, as
// store.ErrUnavailable does (this package does not import the store).
func IsTemporarilyUnavailable(err error) bool {
	var t interface{ TemporarilyUnavailable() bool }
	return errors.As(err, &t) && t.TemporarilyUnavailable()
}

// RetryAfter is the Retry-After value (RFC 9110 §10.2.3), in seconds, sent
// with every temporarily_unavailable answer: about the store's call
// timeout, the time an outage takes to show and a brief one to pass.
const RetryAfter = "5"

// WithoutRedirect returns a copy of e that must not be redirected.
func (e *Error) WithoutRedirect() *Error {
	c := *e
	c.NoRedirect = true
	return &c
}

func newError(code Code, status int, format string, args []any) *Error {
	desc := format
	if len(args) > 0 {
		desc = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Description: desc, Status: status}
}

// RFC 6749 §4.1.2.1 and §5.2.

func InvalidRequest(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, http.StatusBadRequest, format, args)
}

// InvalidClient is client authentication failure (RFC 6749 §5.2). The
// token endpoint answers it with 401 and a WWW-Authenticate challenge.
func InvalidClient(format string, args ...any) *Error {
	return newError(CodeInvalidClient, http.StatusUnauthorized, format, args)
}

func InvalidGrant(format string, args ...any) *Error {
	return newError(CodeInvalidGrant, http.StatusBadRequest, format, args)
}

func UnauthorizedClient(format string, args ...any) *Error {
	return newError(CodeUnauthorizedClient, http.StatusBadRequest, format, args)
}

func UnsupportedGrantType(format string, args ...any) *Error {
	return newError(CodeUnsupportedGrantType, http.StatusBadRequest, format, args)
}

func UnsupportedResponseType(format string, args ...any) *Error {
	return newError(CodeUnsupportedResponseType, http.StatusBadRequest, format, args)
}

func InvalidScope(format string, args ...any) *Error {
	return newError(CodeInvalidScope, http.StatusBadRequest, format, args)
}

func AccessDenied(format string, args ...any) *Error {
	return newError(CodeAccessDenied, http.StatusForbidden, format, args)
}

func ServerError(format string, args ...any) *Error {
	return newError(CodeServerError, http.StatusInternalServerError, format, args)
}

func TemporarilyUnavailable(format string, args ...any) *Error {
	return newError(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, format, args)
}

// OpenID Connect Core §3.1.2.6.

func LoginRequired(format string, args ...any) *Error {
	return newError(CodeLoginRequired, http.StatusBadRequest, format, args)
}

func ConsentRequired(format string, args ...any) *Error {
	return newError(CodeConsentRequired, http.StatusBadRequest, format, args)
}

func InteractionRequired(format string, args ...any) *Error {
	return newError(CodeInteractionRequired, http.StatusBadRequest, format, args)
}

// RequestNotSupported answers the request parameter (OIDC Core §6.1),
// which this server does not support.
func RequestNotSupported(format string, args ...any) *Error {
	return newError(CodeRequestNotSupported, http.StatusBadRequest, format, args)
}

// RequestURINotSupported answers the request_uri parameter (OIDC Core
// §6.2), which this server does not support.
func RequestURINotSupported(format string, args ...any) *Error {
	return newError(CodeRequestURINotSupported, http.StatusBadRequest, format, args)
}

// RFC 6750 §3.1.

func InvalidToken(format string, args ...any) *Error {
	return newError(CodeInvalidToken, http.StatusUnauthorized, format, args)
}

func InsufficientScope(format string, args ...any) *Error {
	return newError(CodeInsufficientScope, http.StatusForbidden, format, args)
}

// InsufficientUserAuthentication is RFC 9470 §3's 401: the token's user
// authentication does not meet the resource's requirement.
func InsufficientUserAuthentication(format string, args ...any) *Error {
	return newError(CodeInsufficientUserAuthentication, http.StatusUnauthorized, format, args)
}

// RFC 8707 §2.

func InvalidTarget(format string, args ...any) *Error {
	return newError(CodeInvalidTarget, http.StatusBadRequest, format, args)
}

// RFC 7591 §3.2.2.

func InvalidRedirectURI(format string, args ...any) *Error {
	return newError(CodeInvalidRedirectURI, http.StatusBadRequest, format, args)
}

func InvalidClientMetadata(format string, args ...any) *Error {
	return newError(CodeInvalidClientMetadata, http.StatusBadRequest, format, args)
}

// From returns err as an *Error. Anything else becomes a server_error that
// keeps err as its hidden cause, so internals never reach a client.
func From(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	if IsTemporarilyUnavailable(err) {
		return ServerError("the service is temporarily unavailable; try again shortly").WithCause(err)
	}
	return ServerError("the server could not complete the request").WithCause(err)
}

// LogLevel is the level e is logged at. A server_error is the server's
// failure, whatever its status (500, or 503 for a directory that could not
// be reached), and so is a temporarily_unavailable with a cause (the store
// could not be reached): Error, for the operator to look into. Every other
// code says what the client or user got wrong and is answered in full:
// Info, a record of the refusal.
func (e *Error) LogLevel() slog.Level {
	if e.Code == CodeServerError || (e.Code == CodeTemporarilyUnavailable && e.cause != nil) {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Log logs e on l at its LogLevel, after attrs (slog key-value pairs).
// At Error the log gets the whole error, hidden cause included, since the
// operator must learn why; below it the code and the description, which
// are what the client was told.
func (e *Error) Log(ctx context.Context, l *slog.Logger, msg string, attrs ...any) {
	level := e.LogLevel()
	if !l.Enabled(ctx, level) {
		return
	}
	// Report the caller's source line, not this one (the log/slog
	// "wrapping output methods" pattern).
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.Add(attrs...)
	if level >= slog.LevelError {
		r.Add("error", e.Error())
	} else {
		r.Add("error", string(e.Code), "reason", e.Description)
	}
	_ = l.Handler().Handle(ctx, r)
}

// SafeDescription returns the description restricted to the characters
// RFC 6749 §5.2 allows in error_description (%x20-21 / %x23-5B / %x5D-7E),
// replacing any other with a space.
func (e *Error) SafeDescription() string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ' '
		}
		return r
	}, e.Description)
}

// Body is the JSON error response of RFC 6749 §5.2.
type Body struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// NoStore sets the headers RFC 6749 §5.1 requires on responses that carry
// credentials or errors about them.
func NoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// WriteJSON writes err as an RFC 6749 §5.2 JSON error with no-store caching,
// and Retry-After on a 503.
func WriteJSON(w http.ResponseWriter, err error) {
	oe := From(err)
	h := w.Header()
	NoStore(h)
	if oe.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", RetryAfter)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(oe.Status)
	_ = json.NewEncoder(w).Encode(Body{Error: string(oe.Code), ErrorDescription: oe.SafeDescription()})
}

// BearerChallenge builds an RFC 6750 §3 WWW-Authenticate value. With a nil
// err it is the bare challenge for a request that carried no token, which
// RFC 6750 §3.1 says should carry no error code.
func BearerChallenge(realm string, err *Error, extra ...string) string {
	parts := []string{}
	if realm != "" {
		parts = append(parts, fmt.Sprintf("realm=%q", realm))
	}
	if err != nil {
		parts = append(parts, fmt.Sprintf("error=%q", err.Code))
		if d := err.SafeDescription(); d != "" {
			parts = append(parts, fmt.Sprintf("error_description=%q", d))
		}
	}
	parts = append(parts, extra...)
	if len(parts) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// Interface guard
var _ error = (*Error)(nil)
