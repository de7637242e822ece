package authserver

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// secondFactorPath is the sign-in's second step: a code from an
// authenticator app or a recovery code, or enrolment when the app
// requires a factor the user does not have yet.
const secondFactorPath = "/login/factor"

// pendingName names the sealed pendingLogin in forms (and in the codec,
// so no other sealed value can stand in for it).
const pendingName = "pending"

// pendingLifetime bounds the time between the password and the second
// factor.
const pendingLifetime = 10 * time.Minute

// pendingLogin is a sign-in whose first factor is proven and whose second
// is not yet: it travels sealed in the second-factor form, so no session
// exists until both are proven.
type pendingLogin struct {
	Subject  string   `json:"s"`
	AMR      []string `json:"m"`
	IssuedAt int64    `json:"iat"` // unix milliseconds
}

// factorStep is what a sign-in still needs before its session is enough.
type factorStep int

const (
	factorNone   factorStep = iota
	factorVerify            // prove a confirmed factor
	factorEnrol             // set one up, then it counts as proven
)

// mfaOn reports whether second factors are offered at all.
func (s *Server) mfaOn() bool { return s.cfg.MFA.Asks() && s.cfg.Sealer != nil }

// mfaPolicyFor is the policy that applies when signing in to client (nil:
// the account pages): the client's own, else the server's; off when the
// server's is off.
func (s *Server) mfaPolicyFor(c *clients.Client) factor.Policy {
	if !s.mfaOn() {
		return factor.Off
	}
	if c == nil {
		return s.cfg.MFA
	}
	return c.MFA.Or(s.cfg.MFA)
}

// acrValuesSupported lists the classes this server can reach.
func (s *Server) acrValuesSupported() []string {
	if s.mfaOn() {
		return acrValuesSupported
	}
	return acrValuesSupported[:1]
}

// factorNeeded decides whether a user who authenticated with amr must
// still prove (or set up) a second factor for client and request ar.
// The policy asks users who have a factor for it; "required", or a
// request for the MFA class (acr_values), leads users without one through
// enrolment.
func (s *Server) factorNeeded(ctx context.Context, client *clients.Client, ar *authRequest, userID string, amr []string) (factorStep, error) {
	if slices.Contains(amr, amrMFA) || !s.mfaOn() {
		return factorNone, nil
	}
	policy := s.mfaPolicyFor(client)
	// A request for a class this session does not reach (acr_values).
	askedMFA := ar != nil && ar.ACR != "" && !acrMeets(acrOf(amr), ar.ACR)
	if !policy.Asks() && !askedMFA {
		return factorNone, nil
	}
	factors, err := s.confirmedFactors(ctx, userID)
	switch {
	case err != nil:
		return factorNone, err
	case len(factors) > 0:
		return factorVerify, nil
	case policy == factor.Required || askedMFA:
		return factorEnrol, nil
	}
	return factorNone, nil
}

func (s *Server) confirmedFactors(ctx context.Context, userID string) ([]store.UserFactor, error) {
	all, err := s.cfg.Store.ListFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(f store.UserFactor) bool { return !f.Confirmed() }), nil
}

// startSecondFactor shows the second step of a sign-in whose password
// was just checked (handleLogin).
func (s *Server) startSecondFactor(w http.ResponseWriter, r *http.Request, sealedAR string, client *clients.Client, u *identity.User, step factorStep) {
	p := pendingLogin{Subject: u.ID, AMR: []string{amrPassword}, IssuedAt: s.now().UnixMilli()}
	s.renderFactorStep(w, r, sealedAR, client, u, p, step, "", http.StatusOK)
}

func (s *Server) renderFactorStep(w http.ResponseWriter, r *http.Request, sealedAR string, client *clients.Client, u *identity.User, p pendingLogin, step factorStep, msg string, status int) {
	pending, err := s.requests.Encode(pendingName, p)
	if err != nil {
		s.renderFailure(w, r, err, "sealing a pending sign-in failed", ui.ProblemText("problem.sign_in_failed"))
		return
	}
	if step == factorEnrol {
		page, err := s.newEnrolment(r.Context(), u)
		if err != nil {
			s.renderFailure(w, r, err, "starting an enrolment failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
		page.FormAction, page.AuthRequest, page.Pending = s.prefix+secondFactorPath, sealedAR, pending
		page.CSRFToken, page.Required, page.Error = s.csrfToken(w, r), true, msg
		s.render(w, r, status, page)
		return
	}
	page := ui.SecondFactorPage{
		Base: s.base(""), FormAction: s.prefix + secondFactorPath, AuthRequest: sealedAR,
		Pending: pending, CSRFToken: s.csrfToken(w, r), Error: msg,
	}
	if client != nil {
		page.ClientName = client.Name
	}
	s.render(w, r, status, page)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page ui.Page) {
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering a page failed", "error", err)
	}
}

// newEnrolment stores a new, unconfirmed TOTP factor for u (replacing
// any earlier unconfirmed one) and returns the page showing its secret.
func (s *Server) newEnrolment(ctx context.Context, u *identity.User) (ui.EnrolFactorPage, error) {
	existing, err := s.cfg.Store.ListFactors(ctx, u.ID)
	if err != nil {
		return ui.EnrolFactorPage{}, err
	}
	for _, f := range existing {
		if !f.Confirmed() {
			if err := s.cfg.Store.DeleteFactor(ctx, u.ID, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return ui.EnrolFactorPage{}, err
			}
		}
	}
	issuer := s.issuer.Host
	secret, url, err := factor.NewTOTP(issuer, u.Username)
	if err != nil {
		return ui.EnrolFactorPage{}, err
	}
	id := "fac_" + randomID()
	// The factor's id is the associated data: a sealed secret copied to
	// another factor's row does not open.
	sealed, err := s.cfg.Sealer.Seal(secret, []byte(id))
	if err != nil {
		return ui.EnrolFactorPage{}, err
	}
	now := s.now()
	if err := s.cfg.Store.CreateFactor(ctx, store.UserFactor{
		ID: id, UserID: u.ID, Kind: store.FactorTOTP, Name: "Authenticator app", Secret: sealed, CreatedAt: now,
	}); err != nil {
		return ui.EnrolFactorPage{}, err
	}
	png, err := factor.QRPNG(url, 200)
	if err != nil {
		return ui.EnrolFactorPage{}, err
	}
	return ui.EnrolFactorPage{
		Base: s.base(""), FactorID: id, ManualKey: factor.ManualKey(secret),
		QRImage: ui.PNGDataURL(base64.StdEncoding.EncodeToString(png)),
	}, nil
}

// codeResult is the outcome of a code typed on a factor page.
type codeResult struct {
	method string // "totp" or "recovery_code" on success
	msg    string // already-localised refusal
	status int
	wait   time.Duration // set when throttled
}

// checkCode checks a code against the user's factors (or, with enrolID,
// the unconfirmed factor being set up) under the throttle: the account's
// factor counter and the address, as for passwords. Each TOTP code counts
// once (the store keeps the last accepted step, RFC 6238 §5.2); each
// recovery code once.
func (s *Server) checkCode(ctx context.Context, r *http.Request, userID, code, enrolID string) (codeResult, error) {
	if code == "" || len(code) > 64 {
		return codeResult{msg: ui.Message("factor.error.missing"), status: http.StatusBadRequest}, nil
	}
	subject, ip := throttle.FactorKey(userID), ClientIP(r)
	if ok, wait := s.logins.AdmitWait(ctx, subject, ip, s.now); !ok {
		return codeResult{msg: ui.Message("factor.error.throttled", humanWait(wait)), status: http.StatusTooManyRequests, wait: wait}, nil
	}
	outcome := throttle.Abandoned
	defer func() { s.logins.Done(subject, ip, outcome, s.now()) }()
	res, err := s.matchCode(ctx, userID, code, enrolID)
	switch {
	case err != nil:
		return res, err
	case res.method != "":
		outcome = throttle.Succeeded
	default:
		outcome = throttle.Failed
	}
	return res, nil
}

func (s *Server) matchCode(ctx context.Context, userID, code, enrolID string) (codeResult, error) {
	wrong := codeResult{msg: ui.Message("factor.error.wrong"), status: http.StatusUnauthorized}
	now := s.now()
	if enrolID == "" && factor.LooksLikeRecoveryCode(code) {
		err := s.cfg.Store.UseRecoveryCode(ctx, userID, factor.HashRecoveryCode(code), now)
		if errors.Is(err, store.ErrNotFound) {
			return wrong, nil
		}
		return codeResult{method: "recovery_code"}, err
	}
	all, err := s.cfg.Store.ListFactors(ctx, userID)
	if err != nil {
		return codeResult{}, err
	}
	for _, f := range all {
		if f.Kind != store.FactorTOTP || (enrolID == "") != f.Confirmed() || (enrolID != "" && f.ID != enrolID) {
			continue
		}
		secret, err := s.cfg.Sealer.Open(f.Secret, []byte(f.ID))
		if err != nil {
			return codeResult{}, err
		}
		step, err := factor.CheckTOTP(secret, code, now)
		if errors.Is(err, factor.ErrWrongCode) {
			continue
		} else if err != nil {
			return codeResult{}, err
		}
		if enrolID != "" {
			err = s.cfg.Store.ConfirmFactor(ctx, userID, f.ID, step, now)
		} else {
			err = s.cfg.Store.UseFactorStep(ctx, userID, f.ID, step, now)
		}
		switch {
		case errors.Is(err, store.ErrStepUsed):
			return codeResult{msg: ui.Message("factor.error.used"), status: http.StatusUnauthorized}, nil
		case errors.Is(err, store.ErrNotFound):
			return wrong, nil // removed or confirmed meanwhile
		case err != nil:
			return codeResult{}, err
		}
		return codeResult{method: "totp"}, nil
	}
	return wrong, nil
}

// newRecoveryCodes replaces the user's recovery codes and returns the new
// ones, to be shown once.
func (s *Server) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, hashes := factor.NewRecoveryCodes()
	if err := s.cfg.Store.ReplaceRecoveryCodes(ctx, userID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, nil
}

// handleSecondFactor is the sign-in's second step. GET comes from
// proceed (a signed-in user whose session is too weak: step-up); POST
// "verify" checks a code, "confirm" finishes an enrolment, "continue"
// goes on after the recovery codes were shown.
func (s *Server) handleSecondFactor(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	sealedAR := form.Get("ar")
	ar, client, ok := s.openSignIn(r, sealedAR)
	if !ok {
		s.renderExpiredFlow(w, r)
		return
	}
	setCSP(w.Header(), formActionSource(ar.RedirectURI))
	ctx := r.Context()
	if r.Method != http.MethodPost || form.Get("action") == "continue" {
		if r.Method == http.MethodPost && !s.checkCSRF(r, form) {
			s.renderExpiredFlow(w, r)
			return
		}
		s.stepUp(w, r, sealedAR, ar, client)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderExpiredFlow(w, r)
		return
	}
	var p pendingLogin
	if s.requests.Decode(pendingName, form.Get(pendingName), &p) != nil ||
		s.now().UnixMilli()-p.IssuedAt > pendingLifetime.Milliseconds() || p.Subject == "" {
		s.renderExpiredFlow(w, r)
		return
	}
	u, err := s.cfg.Users.UserByID(ctx, p.Subject)
	if errors.Is(err, identity.ErrNotFound) {
		s.renderExpiredFlow(w, r)
		return
	} else if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	enrolID := ""
	step := factorVerify
	if form.Get("action") == "confirm" {
		enrolID, step = form.Get("factor"), factorEnrol
		if enrolID == "" || len(enrolID) > 64 {
			s.renderExpiredFlow(w, r)
			return
		}
	}
	res, err := s.checkCode(ctx, r, u.ID, form.Get("code"), enrolID)
	if err != nil {
		s.renderFailure(w, r, err, "checking a second factor failed", ui.ProblemText("problem.sign_in_failed"))
		return
	}
	if res.method == "" {
		s.emitFrom(r, Event{Type: EventLogin, Result: "failure", Method: "second_factor", Subject: u.ID, Username: u.Username, ClientID: clientIDOf(client)})
		s.log.InfoContext(ctx, "second factor refused", "sub", u.ID, "client_id", clientIDOf(client))
		if res.wait > 0 {
			w.Header().Set("Retry-After", throttle.RetryAfter(res.wait))
		}
		if step == factorEnrol {
			// The same unconfirmed factor is shown again: a new QR code
			// would undo what the user just scanned.
			s.renderEnrolAgain(w, r, sealedAR, u, form.Get(pendingName), enrolID, res)
			return
		}
		s.renderFactorStep(w, r, sealedAR, client, u, p, step, res.msg, res.status)
		return
	}
	amr := append(slices.Clone(p.AMR), amrOTP, amrMFA)
	sess, err := s.startSession(w, r, u, amr)
	if err != nil {
		s.renderFailure(w, r, err, "starting a session failed", ui.ProblemText("problem.sign_in_failed"))
		return
	}
	if !s.logins.Policy().Off {
		s.setDeviceCookie(w, r, u.ID)
	}
	s.emitFrom(r, Event{Type: EventLogin, Result: "success", Method: res.method, Subject: u.ID, Username: u.Username, ClientID: clientIDOf(client)})
	s.log.InfoContext(ctx, "second factor accepted", "sub", u.ID, "client_id", clientIDOf(client), "method", res.method)
	if step == factorEnrol {
		codes, err := s.newRecoveryCodes(ctx, u.ID)
		if err != nil {
			s.renderFailure(w, r, err, "storing recovery codes failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
		s.render(w, r, http.StatusOK, ui.EnrolFactorPage{
			Base: s.base(""), FormAction: s.prefix + secondFactorPath, AuthRequest: sealedAR,
			CSRFToken: s.csrfToken(w, r), RecoveryCodes: codes,
		})
		return
	}
	s.continueSignIn(w, r, sealedAR, ar, client, sess)
}

// continueSignIn goes on after a complete sign-in: to the app's
// authorization request, or, for a sign-in without an app, where that
// login returns (the account pages, or the device page; sealedAR).
func (s *Server) continueSignIn(w http.ResponseWriter, r *http.Request, sealedAR string, ar *authRequest, client *clients.Client, sess *browserSession) {
	if client == nil {
		http.Redirect(w, r, s.afterAccountLogin(sealedAR), http.StatusSeeOther)
		return
	}
	s.proceed(w, r, ar, client, sess)
}

// stepUp serves a signed-in browser sent here by proceed: its session
// lacks the second factor the app or request asks for.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request, sealedAR string, ar *authRequest, client *clients.Client) {
	sess, err := s.currentSession(r)
	if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	if sess == nil {
		s.redirectToPage(w, r, "/login", ar)
		return
	}
	step, err := s.factorNeeded(r.Context(), client, ar, sess.Subject, sess.AMR)
	if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	if step == factorNone {
		s.continueSignIn(w, r, sealedAR, ar, client, sess)
		return
	}
	p := pendingLogin{Subject: sess.Subject, AMR: sess.AMR, IssuedAt: s.now().UnixMilli()}
	s.renderFactorStep(w, r, sealedAR, client, sess.User, p, step, "", http.StatusOK)
}

// renderEnrolAgain shows the enrolment of factor id again after a wrong
// code, from its stored secret.
func (s *Server) renderEnrolAgain(w http.ResponseWriter, r *http.Request, sealedAR string, u *identity.User, pending, id string, res codeResult) {
	page, ok := s.enrolmentPage(r.Context(), u, id)
	if !ok {
		s.renderExpiredFlow(w, r)
		return
	}
	page.FormAction, page.AuthRequest, page.Pending = s.prefix+secondFactorPath, sealedAR, pending
	page.CSRFToken, page.Required, page.Error = s.csrfToken(w, r), pending != "", res.msg
	if sealedAR == "" {
		page.FormAction = s.prefix + accountTwoStepPath
	}
	s.render(w, r, res.status, page)
}

// enrolmentPage rebuilds the page of u's unconfirmed factor id.
func (s *Server) enrolmentPage(ctx context.Context, u *identity.User, id string) (ui.EnrolFactorPage, bool) {
	all, err := s.cfg.Store.ListFactors(ctx, u.ID)
	if err != nil {
		return ui.EnrolFactorPage{}, false
	}
	for _, f := range all {
		if f.ID != id || f.Confirmed() {
			continue
		}
		secret, err := s.cfg.Sealer.Open(f.Secret, []byte(f.ID))
		if err != nil {
			return ui.EnrolFactorPage{}, false
		}
		url, err := factor.TOTPURL(s.issuer.Host, u.Username, secret)
		if err != nil {
			return ui.EnrolFactorPage{}, false
		}
		png, err := factor.QRPNG(url, 200)
		if err != nil {
			return ui.EnrolFactorPage{}, false
		}
		return ui.EnrolFactorPage{Base: s.base(""), FactorID: id, ManualKey: factor.ManualKey(secret),
			QRImage: ui.PNGDataURL(base64.StdEncoding.EncodeToString(png))}, true
	}
	return ui.EnrolFactorPage{}, false
}
