package oautherr

import (
	"net/http"
	"strings"
)

// RFC 9449 §12.2.
const (
	CodeInvalidDPoPProof Code = "invalid_dpop_proof"
	CodeUseDPoPNonce     Code = "use_dpop_nonce"
)

// InvalidDPoPProof is a refused DPoP proof (RFC 9449 §5.10 at the token
// endpoint, §7.1 at a resource).
func InvalidDPoPProof(format string, args ...any) *Error {
	return newError(CodeInvalidDPoPProof, http.StatusBadRequest, format, args)
}

// UseDPoPNonce asks the client to retry with the nonce sent in the
// DPoP-Nonce header (RFC 9449 §8).
func UseDPoPNonce(format string, args ...any) *Error {
	return newError(CodeUseDPoPNonce, http.StatusBadRequest, format, args)
}

// DPoPChallenge is the WWW-Authenticate value of the DPoP scheme (RFC 9449
// §7.1): like BearerChallenge, with the accepted algorithms.
func DPoPChallenge(realm string, err *Error, algs []string) string {
	c := BearerChallenge(realm, err, `algs="`+strings.Join(algs, " ")+`"`)
	return "DPoP" + strings.TrimPrefix(c, "Bearer")
}
