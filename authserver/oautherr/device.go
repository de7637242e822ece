package oautherr

import "net/http"

// RFC 8628 §3.5: the token endpoint's answers to a device polling before
// its user has decided, polling too fast, or too late.
const (
	CodeAuthorizationPending Code = "authorization_pending"
	CodeSlowDown             Code = "slow_down"
	CodeExpiredToken         Code = "expired_token"
)

// CodeInvalidRequestURI is OIDC Core §3.1.2.6's answer to a request_uri
// that is unknown, used or expired (RFC 9126 §4 names no code of its own).
const CodeInvalidRequestURI Code = "invalid_request_uri"

func AuthorizationPending(format string, args ...any) *Error {
	return newError(CodeAuthorizationPending, http.StatusBadRequest, format, args)
}

func SlowDown(format string, args ...any) *Error {
	return newError(CodeSlowDown, http.StatusBadRequest, format, args)
}

func ExpiredToken(format string, args ...any) *Error {
	return newError(CodeExpiredToken, http.StatusBadRequest, format, args)
}

// DeviceAccessDenied is access_denied at the token endpoint (RFC 8628
// §3.5): a 400 like every other token error (RFC 6749 §5.2), where the
// authorization endpoint's access_denied is a 403 page.
func DeviceAccessDenied(format string, args ...any) *Error {
	return newError(CodeAccessDenied, http.StatusBadRequest, format, args)
}

func InvalidRequestURI(format string, args ...any) *Error {
	return newError(CodeInvalidRequestURI, http.StatusBadRequest, format, args)
}
