package gate

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
)

// DPoP at the gate (RFC 9449 §7): a token bound to a key (cnf.jkt) is
// accepted only under the DPoP scheme with a fresh proof of that key for
// this request, checked on every request (the verified-token cache holds
// the token, never the proof); a bound token sent as Bearer is refused,
// and so is an unbound token sent as DPoP.

// errProof is a request refused for its DPoP proof or scheme; oe is the
// answer.
type errProof struct{ oe *oautherr.Error }

func (e *errProof) Error() string { return e.oe.Error() }

// credential verifies the Authorization header's token (Bearer or DPoP)
// and, for a DPoP-bound token, the request's proof.
func (g *Gate) credential(r *http.Request, header, origin string) (*Identity, error) {
	scheme, raw, _ := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	isDPoP := strings.EqualFold(scheme, "DPoP") && raw != ""
	if isDPoP {
		if g.cfg.Introspect {
			return nil, &errProof{oautherr.InvalidToken("DPoP-bound tokens are not accepted by an introspecting gate")}
		}
		header = "Bearer " + raw
	}
	id, err := g.bearer(r.Context(), header, g.resource(origin))
	if err != nil {
		return nil, err
	}
	switch {
	case id.jkt == "" && isDPoP:
		return nil, &errProof{oautherr.InvalidToken("the access token is not DPoP-bound; use the Bearer scheme")}
	case id.jkt == "":
		return id, nil
	case !isDPoP:
		return nil, &errProof{oautherr.InvalidToken("the access token is DPoP-bound; use the DPoP scheme with a proof")}
	case g.cfg.DPoP == nil:
		return nil, &errProof{oautherr.InvalidToken("this gate does not accept DPoP-bound tokens")}
	}
	_, err = g.cfg.DPoP.Verify(r.Context(), dpop.Request{Proofs: r.Header.Values("DPoP"), Method: r.Method,
		URL: origin + r.URL.EscapedPath(), AccessToken: raw, JKT: id.jkt})
	var de *dpop.Error
	switch {
	case errors.As(err, &de):
		oe := oautherr.InvalidDPoPProof("%s", de.Description)
		oe.Status = http.StatusUnauthorized
		return nil, &errProof{oe}
	case err != nil:
		return nil, err // the replay record could not be asked: 503
	}
	return id, nil
}

// proofChallenge answers a request refused for DPoP with the DPoP
// scheme's challenge (RFC 9449 §7.1).
func (g *Gate) proofChallenge(w http.ResponseWriter, r *http.Request, origin string, pe *errProof) {
	g.log.DebugContext(r.Context(), "DPoP request rejected", "reason", pe.oe.Description, "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", oautherr.DPoPChallenge(origin, pe.oe, dpop.Algorithms()))
	oautherr.WriteJSON(w, pe.oe)
}
