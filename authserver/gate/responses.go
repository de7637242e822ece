package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// metadataURL is where this resource's RFC 9728 metadata is served for
// the site at origin (§3.1: path-suffixed for a resource with a path).
func (g *Gate) metadataURL(origin string) string { return origin + g.metadataAt }

// unauthorized answers an API request without a valid token: 401 with an
// RFC 6750 §3 challenge that points to the RFC 9728 metadata (§5.1), with
// invalid_token when a token was presented but failed, invalid_request
// when the Authorization header holds no Bearer token, and no error code
// at all when the request carried no credentials (RFC 6750 §3.1).
func (g *Gate) unauthorized(w http.ResponseWriter, r *http.Request, origin string, err error) {
	var oe *oautherr.Error
	switch {
	case err == nil:
	case errors.Is(err, errNoBearer):
		oe = oautherr.InvalidRequest("use an Authorization: Bearer access token")
		oe.Status = http.StatusUnauthorized
	case errors.Is(err, token.ErrExpired):
		oe = oautherr.InvalidToken("the access token has expired")
	case errors.Is(err, token.ErrInvalidAudience):
		oe = oautherr.InvalidToken("the access token is not for this resource")
	default:
		oe = oautherr.InvalidToken("the access token is invalid")
	}
	if err != nil && !errors.Is(err, errNoBearer) {
		g.log.DebugContext(r.Context(), "bearer token rejected", "reason", err.Error(), "path", r.URL.Path)
	}
	w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(origin, oe,
		fmt.Sprintf("resource_metadata=%q", g.metadataURL(origin))))
	if oe == nil {
		// The challenge says it all; an error body would need a code
		// RFC 6750 §3.1 says not to send.
		oautherr.NoStore(w.Header())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	oautherr.WriteJSON(w, oe)
}

// unverifiable reports whether a bearer token could not be checked at all
// (the provider, its keys or its introspection endpoint did not answer,
// the issuer's store is down), as opposed to checked and refused. Such a
// token may be perfectly good: it gets a 503, never a 401 that would make
// a client drop it. A misconfigured verifier is no passing outage that a
// retry would cure, so it stays a refusal.
func unverifiable(err error) bool {
	for _, refused := range []error{errNoBearer, errInactive, token.ErrMalformed, token.ErrInvalidAlgorithm,
		token.ErrUnknownKey, token.ErrInvalidSignature, token.ErrInvalidType, token.ErrExpired,
		token.ErrNotYetValid, token.ErrInvalidIssuer, token.ErrInvalidAudience, token.ErrMisconfigured} {
		if errors.Is(err, refused) {
			return false
		}
	}
	return true
}

// unavailable answers an API request whose token could not be verified
// now: 503 temporarily_unavailable with Retry-After. Tokens and sessions
// verified before stay admitted from the cache meanwhile.
func (g *Gate) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	g.log.WarnContext(r.Context(), "bearer token could not be verified", "error", err.Error(), "path", r.URL.Path)
	oautherr.WriteJSON(w, oautherr.TemporarilyUnavailable("the token could not be verified right now; try again"))
}

// forbidden answers a caller the policy does not admit: a page for
// browsers, 403 insufficient_scope (RFC 6750 §3.1) for API clients.
func (g *Gate) forbidden(w http.ResponseWriter, r *http.Request, origin string, id *Identity, missing []string) {
	g.log.InfoContext(r.Context(), "access denied by policy", "sub", id.Subject, "source", string(id.Source), "path", r.URL.Path)
	if id.Source == SourceSession && isBrowserNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		setPageHeaders(w.Header())
		p := ui.ProblemText("problem.gate_forbidden", displayName(id))
		err := g.cfg.UI.Render(w, http.StatusForbidden, ui.ErrorPage{
			Base:    g.base(),
			Heading: p.Heading,
			Message: p.Message,
			Hint:    p.Hint,
			Code:    string(oautherr.CodeAccessDenied),
			// The hint suggests another account: signing out is the way.
			Action: ui.Link{URL: g.cfg.LogoutPath, Label: ui.Message("gate.sign_out")},
		})
		if err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
		}
		return
	}
	oe := oautherr.InsufficientScope("the caller is not allowed to use this resource")
	extra := []string{fmt.Sprintf("resource_metadata=%q", g.metadataURL(origin))}
	if len(missing) > 0 {
		oe = oautherr.InsufficientScope("the access token lacks a required scope")
		extra = append([]string{fmt.Sprintf("scope=%q", strings.Join(g.cfg.Policy.Scopes, " "))}, extra...)
	}
	w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(origin, oe, extra...))
	oautherr.WriteJSON(w, oe)
}

func displayName(id *Identity) string {
	for _, s := range []string{id.Email, id.Username, id.Name, id.Subject} {
		if s != "" {
			return s
		}
	}
	return ui.Message("gate.this_account")
}

// setPageHeaders are the security headers of the gate's own pages.
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// handleMetadata serves RFC 9728 §2 protected resource metadata.
func (g *Gate) handleMetadata(w http.ResponseWriter, r *http.Request, origin string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	issuer, err := g.cfg.Provider.Issuer(r.Context())
	if err != nil {
		oautherr.WriteJSON(w, oautherr.TemporarilyUnavailable("the authorization server is not reachable"))
		return
	}
	scopes := append([]string(nil), g.cfg.Scopes...)
	for _, s := range g.cfg.Policy.Scopes {
		if !strings.Contains(" "+strings.Join(scopes, " ")+" ", " "+s+" ") {
			scopes = append(scopes, s)
		}
	}
	if !slices.Contains(scopes, "offline_access") && g.offlineAccess(r.Context()) {
		scopes = append(scopes, "offline_access")
	}
	doc := map[string]any{
		"resource":                 g.resource(origin),
		"authorization_servers":    []string{issuer},
		"scopes_supported":         scopes,
		"bearer_methods_supported": []string{"header"},
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(doc)
}

// insufficientAuthentication answers a caller whose user authentication
// is weaker than the policy requires (RFC 9470 §3): 401 with error
// insufficient_user_authentication and acr_values naming the class to
// obtain a new token with.
func (g *Gate) insufficientAuthentication(w http.ResponseWriter, r *http.Request, origin string) {
	oe := oautherr.InsufficientUserAuthentication("a stronger authentication is required")
	extra := []string{}
	if acr := g.cfg.Policy.requiredACR(); acr != "" {
		extra = append(extra, fmt.Sprintf("acr_values=%q", acr))
	}
	if ma := g.cfg.Policy.MaxAge; ma > 0 {
		extra = append(extra, fmt.Sprintf("max_age=\"%d\"", int64(ma/time.Second)))
	}
	extra = append(extra, fmt.Sprintf("resource_metadata=%q", g.metadataURL(origin)))
	g.log.DebugContext(r.Context(), "user authentication too weak", "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(origin, oe, extra...))
	oautherr.WriteJSON(w, oe)
}
