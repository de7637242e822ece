package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// The user's side of the device authorization grant (RFC 8628 §3.3) at
// /device: sign in, enter the code the device shows (or arrive with it
// from verification_uri_complete), see "Is this your code?" with the
// app's name and what it asks for, and allow or deny. The confirmation is
// also the consent page: allowing a third-party app records its consent.
//
// Against device-code phishing (RFC 8628 §5.4: an attacker sends a victim
// a code of their own device) the page always asks before approving, even
// for a code carried in the link, and says to go on only for a code on a
// screen in front of the user. Wrong codes are throttled per account and
// per address (RFC 8628 §5.1).

// newUserCodeGuard builds the user code entry throttle.
func (s *Server) newUserCodeGuard() error {
	p, err := s.cfg.UserCodeThrottle.WithDefaults(throttle.DefaultUserCode())
	if err != nil {
		return fmt.Errorf("authserver: user code throttle: %w", err)
	}
	s.userCodes = throttle.NewGuard(p, s.cfg.ThrottleState.UserCodes(), func(table string) {
		s.log.Warn("the user code throttle is full of live counters; new " + table + " keys go uncounted for now")
	})
	return nil
}

// handleDevice serves /device.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	typed := form.Get("user_code")
	if sess == nil {
		s.redirectToDeviceLogin(w, r, typed)
		return
	}
	page := ui.DevicePage{
		Base: s.base(""), FormAction: s.prefix + devicePath, CSRFToken: s.csrfToken(w, r), UserCode: typed,
		User: ui.UserView{Name: sess.User.Name, Username: sess.User.Username, Email: sess.User.Email},
	}
	if r.Method == http.MethodPost && !s.checkCSRF(r, form) {
		s.renderStaleForm(w, r)
		return
	}
	decision := form.Get("decision")
	if r.Method != http.MethodPost {
		// A link (verification_uri_complete, opened from a QR code or
		// typed) looks the code up for confirmation; the user still
		// confirms. A link followed from another site only fills the
		// form in: another site must not be able to spend the user's
		// allowance of wrong codes (and lock their code entry) by
		// loading /device?user_code=... in their browser.
		if typed == "" || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.renderDevicePage(w, r, http.StatusOK, page)
			return
		}
		decision = "lookup"
	}
	switch decision {
	case "lookup", "allow", "deny":
	default:
		s.renderError(w, r, errorPage{status: http.StatusBadRequest, problem: ui.ProblemText("problem.no_decision"), code: oautherr.CodeInvalidRequest})
		return
	}
	d, client, ok := s.lookUpUserCode(w, r, sess, &page)
	if !ok {
		return
	}
	s.fillDevicePage(&page, d, client)
	if decision == "lookup" {
		page.Step, page.UserCode = "confirm", displayUserCode(mustNormalize(typed))
		s.renderDevicePage(w, r, http.StatusOK, page)
		return
	}
	s.decideDevice(w, r, sess, d, client, decision == "allow", page)
}

// lookUpUserCode finds the pending request of the typed code, counting
// wrong codes against the account and the address. When ok is false the
// answer (the form with an error, or 429) has been written.
func (s *Server) lookUpUserCode(w http.ResponseWriter, r *http.Request, sess *browserSession, page *ui.DevicePage) (store.DeviceAuthorization, *clients.Client, bool) {
	retry := func(status int, msg string) (store.DeviceAuthorization, *clients.Client, bool) {
		page.Step, page.Error = "enter", msg
		s.renderDevicePage(w, r, status, *page)
		return store.DeviceAuthorization{}, nil, false
	}
	code, ok := normalizeUserCode(page.UserCode)
	if !ok {
		return retry(http.StatusBadRequest, ui.Message("device.error.malformed"))
	}
	subject, ip := throttle.AccountKey(sess.Subject), ClientIP(r)
	if ok, wait := s.userCodes.Admit(subject, ip, s.now()); !ok {
		s.emitFrom(r, Event{Type: EventThrottled, Kind: "user_code", Subject: sess.Subject})
		s.log.InfoContext(r.Context(), "device code entry throttled", "sub", sess.Subject, "client_ip", ip, "retry_after", throttle.RetryAfter(wait))
		w.Header().Set("Retry-After", throttle.RetryAfter(wait))
		return retry(http.StatusTooManyRequests, ui.Message("device.error.throttled", humanWait(wait)))
	}
	result := throttle.Failed
	defer func() {
		if lockedSubject, lockedIP := s.userCodes.Done(subject, ip, result, s.now()); lockedSubject || lockedIP {
			s.log.WarnContext(r.Context(), "too many wrong device codes; locked", "sub", sess.Subject, "client_ip", ip, "account", lockedSubject, "address", lockedIP)
		}
	}()
	d, err := s.cfg.Store.GetDeviceAuthorizationByUserCode(r.Context(), hashToken(code))
	now := s.now()
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !now.Before(d.ExpiresAt):
		s.log.InfoContext(r.Context(), "unknown or expired device code entered", "sub", sess.Subject)
		return retry(http.StatusBadRequest, ui.Message("device.error.unknown"))
	case err != nil:
		result = throttle.Abandoned
		s.renderFailure(w, r, err, "looking up a device code failed", ui.ProblemText("problem.sign_in_failed"))
		return d, nil, false
	}
	result = throttle.Succeeded
	if d.Status != store.DevicePending {
		return retry(http.StatusBadRequest, ui.Message("device.error.decided"))
	}
	client, err := s.clientFor(r.Context(), d.ClientID)
	if err != nil {
		// The app was deleted since; its request is void.
		return retry(http.StatusBadRequest, ui.Message("device.error.unknown"))
	}
	return d, client, true
}

func mustNormalize(typed string) string {
	code, _ := normalizeUserCode(typed)
	return code
}

// fillDevicePage shows the app and what it asks for.
func (s *Server) fillDevicePage(page *ui.DevicePage, d store.DeviceAuthorization, client *clients.Client) {
	page.Client = ui.ClientView{Name: client.Name, FirstParty: client.Type.Trusted()}
	for _, sc := range d.Scopes {
		page.Scopes = append(page.Scopes, ui.ScopeView{Name: sc, Description: ui.ScopeDescription(sc)})
	}
	page.Resources = s.resourceViews(d.Resources)
}

// decideDevice records the user's answer, and with it, for a third-party
// app, the consent.
func (s *Server) decideDevice(w http.ResponseWriter, r *http.Request, sess *browserSession, d store.DeviceAuthorization, client *clients.Client, allow bool, page ui.DevicePage) {
	now := s.now()
	if allow {
		// The app's second-factor policy (mfa.go) holds for the device
		// grant too: a session without the factor it asks for cannot
		// approve. (This page does not lead through the second step
		// itself; the user signs in again with it.)
		switch step, err := s.factorNeeded(r.Context(), client, nil, sess.Subject, sess.AMR); {
		case err != nil:
			s.renderFailure(w, r, err, "checking the second-factor policy failed", ui.ProblemText("problem.sign_in_failed"))
			return
		case step != factorNone:
			page.Step, page.Error = "enter", ui.Message("device.error.second_factor")
			s.renderDevicePage(w, r, http.StatusForbidden, page)
			return
		}
	}
	if allow && !client.Type.Trusted() {
		c := store.Consent{Subject: sess.Subject, ClientID: client.ID, Scopes: d.Scopes, Resources: d.Resources, CreatedAt: now, UpdatedAt: now}
		if prev, err := s.cfg.Store.GetConsent(r.Context(), sess.Subject, client.ID); err == nil {
			c.Scopes, c.Resources = union(prev.Scopes, d.Scopes), union(prev.Resources, d.Resources)
		} else if !errors.Is(err, store.ErrNotFound) {
			s.renderFailure(w, r, err, "reading a consent failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
		if err := s.cfg.Store.SaveConsent(r.Context(), c); err != nil {
			s.renderFailure(w, r, err, "recording a consent failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
	}
	err := s.cfg.Store.DecideDeviceAuthorization(r.Context(), d.UserCodeHash, now, store.DeviceDecision{
		Approved: allow, Subject: sess.Subject, SessionIDHash: sess.IDHash, AuthTime: sess.AuthTime,
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		page.Step, page.Error = "enter", ui.Message("device.error.decided")
		s.renderDevicePage(w, r, http.StatusConflict, page)
		return
	case errors.Is(err, store.ErrNotFound):
		page.Step, page.Error = "enter", ui.Message("device.error.unknown")
		s.renderDevicePage(w, r, http.StatusBadRequest, page)
		return
	case err != nil:
		s.renderFailure(w, r, err, "recording a device decision failed", ui.ProblemText("problem.sign_in_failed"))
		return
	}
	result := "denied"
	page.Step = "denied"
	if allow {
		result, page.Step = "granted", "approved"
	}
	s.emitFrom(r, Event{Type: EventConsent, Result: result, Subject: sess.Subject, ClientID: client.ID, Scopes: d.Scopes})
	s.log.InfoContext(r.Context(), "device authorization answered", "sub", sess.Subject, "client_id", client.ID, "result", result)
	page.UserCode = ""
	s.renderDevicePage(w, r, http.StatusOK, page)
}

func (s *Server) renderDevicePage(w http.ResponseWriter, r *http.Request, status int, page ui.DevicePage) {
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the device page failed", "error", err)
	}
}

// redirectToDeviceLogin sends the browser to the login page with a
// sealed request that comes back to /device, with the code it carried.
func (s *Server) redirectToDeviceLogin(w http.ResponseWriter, r *http.Request, typed string) {
	if _, ok := normalizeUserCode(typed); !ok {
		typed = ""
	}
	sealed, err := s.requests.Encode(accountLoginName, accountLogin{IssuedAt: s.now().UnixMilli(), Device: true, UserCode: typed})
	if err != nil {
		s.log.ErrorContext(r.Context(), "sealing a device login failed", "error", err)
		s.renderError(w, r, errorPage{status: http.StatusInternalServerError, problem: ui.ProblemText("problem.account_login_failed"), code: oautherr.CodeServerError})
		return
	}
	http.Redirect(w, r, s.prefix+"/login?"+url.Values{"ar": {sealed}}.Encode(), redirectStatus(r))
}

// afterAccountLogin is where a login without an app returns: /device for
// one started there, else the connected-apps page. Neither is a URL
// from the request.
func (s *Server) afterAccountLogin(sealed string) string {
	var al accountLogin
	if s.requests.Decode(accountLoginName, sealed, &al) == nil && al.Device && s.cfg.DeviceAuthorization {
		target := s.prefix + devicePath
		if al.UserCode != "" {
			target += "?" + url.Values{"user_code": {al.UserCode}}.Encode()
		}
		return target
	}
	return s.prefix + accountAppsPath
}
