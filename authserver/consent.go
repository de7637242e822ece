package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// handleConsent shows what a third-party app asks for (GET) and records
// the user's decision (POST).
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	sealed := form.Get("ar")
	ar, client, ok := s.openAuthRequest(r, sealed)
	if !ok {
		s.renderExpiredFlow(w, r)
		return
	}
	setCSP(w.Header(), formActionSource(ar.RedirectURI))
	sess, err := s.currentSession(r)
	if err != nil {
		s.redirectError(w, r, ar, userLookupFailed(err))
		return
	}
	if sess == nil {
		// Signed out in another tab, or the session expired meanwhile.
		s.redirectToPage(w, r, "/login", ar)
		return
	}
	if r.Method != http.MethodPost {
		s.renderConsent(w, r, sealed, ar, client, sess)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderStaleForm(w, r)
		return
	}
	switch form.Get("decision") {
	case "allow":
	case "deny":
		s.emitFrom(r, Event{Type: EventConsent, Result: "denied", Subject: sess.Subject, ClientID: client.ID, Scopes: ar.Scopes})
		s.log.InfoContext(r.Context(), "consent denied", "sub", sess.Subject, "client_id", client.ID)
		s.redirectError(w, r, ar, oautherr.AccessDenied("the user denied access"))
		return
	default:
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.no_decision"), code: oautherr.CodeInvalidRequest})
		return
	}
	now := s.now()
	c := store.Consent{Subject: sess.Subject, ClientID: client.ID, Scopes: ar.Scopes, Resources: ar.Resources, CreatedAt: now, UpdatedAt: now}
	if prev, err := s.cfg.Store.GetConsent(r.Context(), sess.Subject, client.ID); err == nil {
		c.Scopes = union(prev.Scopes, ar.Scopes)
		c.Resources = union(prev.Resources, ar.Resources)
	} else if !errors.Is(err, store.ErrNotFound) {
		s.redirectError(w, r, ar, oautherr.ServerError("could not record consent").WithCause(err))
		return
	}
	if err := s.cfg.Store.SaveConsent(r.Context(), c); err != nil {
		s.redirectError(w, r, ar, oautherr.ServerError("could not record consent").WithCause(err))
		return
	}
	s.emitFrom(r, Event{Type: EventConsent, Result: "granted", Subject: sess.Subject, ClientID: client.ID, Scopes: ar.Scopes})
	s.log.InfoContext(r.Context(), "consent granted", "sub", sess.Subject, "client_id", client.ID, "scope", joinScopes(ar.Scopes), "resources", ar.Resources)
	s.issueCode(w, r, ar, client, sess)
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, sealed string, ar *authRequest, client *clients.Client, sess *browserSession) {
	scopes := make([]ui.ScopeView, 0, len(ar.Scopes))
	for _, sc := range ar.Scopes {
		scopes = append(scopes, ui.ScopeView{Name: sc, Description: ui.ScopeDescription(sc)})
	}
	// Ask for a fresh login as someone else, keeping the request.
	switchAR := *ar
	switchAR.Prompt = append(slices.DeleteFunc(slices.Clone(ar.Prompt), func(p string) bool { return p == "none" }), "login")
	switchAR.IssuedAt = s.now().UnixMilli()
	switchURL := ""
	if enc, err := s.requests.Encode("ar", &switchAR); err == nil {
		switchURL = s.prefix + "/login?" + url.Values{"ar": {enc}}.Encode()
	}
	page := ui.ConsentPage{
		Base:        s.base(""),
		FormAction:  s.prefix + "/consent",
		AuthRequest: sealed,
		CSRFToken:   s.csrfToken(w, r),
		Client: ui.ClientView{
			Name: client.Name, LogoURI: logoOf(client), ClientURI: client.ClientURI,
			PolicyURI: client.PolicyURI, TOSURI: client.TOSURI, FirstParty: client.Type.Trusted(),
			SoftwareID: client.SoftwareID, SoftwareVersion: client.SoftwareVersion, MetadataHost: metadataHostOf(client),
		},
		Scopes:           scopes,
		Resources:        s.resourceViews(ar.Resources),
		User:             ui.UserView{Name: sess.User.Name, Username: sess.User.Username, Email: sess.User.Email},
		SwitchAccountURL: switchURL,
	}
	if err := s.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the consent page failed", "error", err)
	}
}
