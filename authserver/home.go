package authserver

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// handleUnowned answers a request for a path that is none of the server's
// routes (Owns is false): the issuer URL itself gets a small home page
// naming the service, which is what a person who types that address
// should see; any other path a 404 page. Both are pages like the others:
// strict CSP, no caching (pageHandler). A host that serves other routes
// beside the issuer (the Caddy handler) lets them answer first.
func (s *Server) handleUnowned(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.prefix+"/" && (s.prefix == "" || r.URL.Path != s.prefix) {
		s.renderError(w, r, errorPage{status: http.StatusNotFound, problem: ui.ProblemText("problem.not_found")})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// As the routes answer a method they do not serve.
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	err := s.cfg.UI.Render(w, http.StatusOK, ui.HomePage{
		Base:         s.base(""),
		AccountURL:   s.prefix + accountAppsPath,
		DiscoveryURL: s.prefix + "/.well-known/openid-configuration",
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "rendering the home page failed", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}
