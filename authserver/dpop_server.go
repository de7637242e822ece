package authserver

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// DPoPConfig turns on DPoP (RFC 9449): proofs at the token endpoint bind
// access tokens (cnf.jkt, token_type DPoP) and public clients' refresh
// tokens to the client's key; the UserInfo endpoint then accepts such
// tokens only with a proof of that key.
type DPoPConfig struct {
	// RequireNonce makes server nonces mandatory (RFC 9449 §8): a proof
	// without the current one is answered use_dpop_nonce with a
	// DPoP-Nonce header.
	RequireNonce bool
}

// newDPoPVerifier builds the server's proof checker; nil when DPoP is off.
// Nonces are keyed by the cookie secret, which every instance shares.
func (s *Server) newDPoPVerifier() *dpop.Verifier {
	if s.cfg.DPoP == nil {
		return nil
	}
	v := &dpop.Verifier{Replay: s.cfg.Store, Now: s.now}
	if s.cfg.DPoP.RequireNonce {
		k := sha256.Sum256(append([]byte("gatehouse dpop nonce key\x00"), s.cfg.CookieSecrets[0]...))
		v.NonceKey = k[:]
	}
	return v
}

// tokenProof checks the DPoP proof of a token request (RFC 9449 §5) and
// returns its key's thumbprint; "" when the request has none (DPoP off,
// or a Bearer request). A client registered with
// dpop_bound_access_tokens must send one (§5.2).
func (s *Server) tokenProof(w http.ResponseWriter, r *http.Request, dpopBound bool) (string, *oautherr.Error) {
	proofs := r.Header.Values("DPoP")
	if s.dpop == nil {
		if dpopBound {
			return "", oautherr.ServerError("the client requires DPoP, which is not enabled")
		}
		return "", nil // RFC 9449 §5: a server without DPoP ignores the header
	}
	if len(proofs) == 0 {
		if dpopBound {
			return "", oautherr.InvalidDPoPProof("this app must send a DPoP proof")
		}
		return "", nil
	}
	p, err := s.dpop.Verify(r.Context(), dpop.Request{Proofs: proofs, Method: http.MethodPost, URL: s.endpoint("/token")})
	if err != nil {
		return "", s.proofError(w, r, err)
	}
	return p.JKT, nil
}

// proofError maps a refused proof to its OAuth error; a use_dpop_nonce
// answer carries the nonce to use (RFC 9449 §8).
func (s *Server) proofError(w http.ResponseWriter, r *http.Request, err error) *oautherr.Error {
	var de *dpop.Error
	if !errors.As(err, &de) {
		return oautherr.ServerError("checking the DPoP proof failed").WithCause(err)
	}
	if strings.Contains(de.Description, "already been used") {
		s.emitFrom(r, Event{Type: EventReplay, Kind: "dpop_proof"})
	}
	if de.Code == dpop.CodeUseNonce {
		w.Header().Set("DPoP-Nonce", s.dpop.Nonce())
		return oautherr.UseDPoPNonce("%s", de.Description)
	}
	return oautherr.InvalidDPoPProof("%s", de.Description)
}

// resourceProof checks the proof of a request to a resource of this
// server (UserInfo) presenting raw with scheme (RFC 9449 §7): a token
// bound to a key needs the DPoP scheme and a proof of that key; the DPoP
// scheme needs a bound token.
func (s *Server) resourceProof(w http.ResponseWriter, r *http.Request, scheme, raw string, claims *token.AccessTokenClaims) *oautherr.Error {
	bound := claims.Confirmation != nil && claims.Confirmation.JKT != ""
	switch {
	case !bound && scheme == "DPoP":
		return oautherr.InvalidToken("the access token is not DPoP-bound; use the Bearer scheme")
	case !bound:
		return nil
	case scheme != "DPoP":
		return oautherr.InvalidToken("the access token is DPoP-bound; use the DPoP scheme with a proof")
	case s.dpop == nil:
		return oautherr.InvalidToken("DPoP is not enabled")
	}
	_, err := s.dpop.Verify(r.Context(), dpop.Request{Proofs: r.Header.Values("DPoP"), Method: r.Method,
		URL: s.requestURL(r), AccessToken: raw, JKT: claims.Confirmation.JKT})
	if err != nil {
		oe := s.proofError(w, r, err)
		if oe.Code != oautherr.CodeServerError {
			oe.Status = http.StatusUnauthorized
		}
		return oe
	}
	return nil
}

// authorizationToken reads a token sent with the Bearer or DPoP scheme
// (RFC 6750 §2, RFC 9449 §7.1); the body form, for POST, only as Bearer.
func authorizationToken(w http.ResponseWriter, r *http.Request) (scheme, raw string, oerr *oautherr.Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		sch, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(sch, "DPoP") && strings.TrimSpace(tok) != "" {
			if r.URL.Query().Has("access_token") {
				return "", "", oautherr.InvalidRequest("access tokens are not accepted in the query string")
			}
			return "DPoP", strings.TrimSpace(tok), nil
		}
	}
	raw, oerr = bearerToken(w, r)
	return "Bearer", raw, oerr
}
