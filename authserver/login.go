package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

const sessionCookie = "gatehouse_session"

// browserSession is a verified browser session: the cookie decoded and
// its server-side record found live.
type browserSession struct {
	IDHash   string
	Subject  string
	AuthTime time.Time
	// AMR is how the user authenticated (RFC 8176), never empty.
	AMR  []string
	User *identity.User
}

// sessionCookieValue is what the session cookie carries, encrypted.
type sessionCookieValue struct {
	ID       string `json:"i"`
	Subject  string `json:"s"`
	AuthTime int64  `json:"a"`
	Expires  int64  `json:"e"`
}

// currentSession returns the browser's live session, or nil. The cookie
// alone is not trusted: its server-side record must exist, be unrevoked
// and unexpired, and name the same user, who must still exist. An error
// means the store or the user directory could not be asked (users.go):
// the browser may well be signed in, so callers answer with a server
// error, never a login.
func (s *Server) currentSession(r *http.Request) (*browserSession, error) {
	rec, err := s.sessionRecord(r)
	if rec == nil || err != nil {
		return nil, err
	}
	u, err := s.cfg.Users.UserByID(r.Context(), rec.Subject)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &browserSession{IDHash: rec.IDHash, Subject: rec.Subject, AuthTime: rec.AuthTime, AMR: sessionAMR(rec.AMR), User: u}, nil
}

// sessionRecord returns the live server-side record of the browser's
// session cookie, or nil, without looking the user up. An error means the
// store could not say: the session may well be live.
func (s *Server) sessionRecord(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(s.cookies.Name(sessionCookie))
	if err != nil {
		return nil, nil
	}
	var v sessionCookieValue
	if s.sessions.Decode(sessionCookie, c.Value, &v) != nil {
		return nil, nil
	}
	now := s.now()
	if now.Unix() >= v.Expires {
		return nil, nil
	}
	rec, err := s.cfg.Store.GetSession(r.Context(), hashToken(v.ID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("session lookup: %w", err)
	}
	if !rec.RevokedAt.IsZero() || !now.Before(rec.ExpiresAt) || rec.Subject != v.Subject {
		return nil, nil
	}
	return &rec, nil
}

// startSession creates a new session for u, always with a fresh id so a
// session fixed before login is never promoted (session fixation), and
// revokes the browser's previous session. amr is how u authenticated
// (RFC 8176 values).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *identity.User, amr []string) (*browserSession, error) {
	return s.startSessionFrom(w, r, u, upstreamSignIn{AMR: amr})
}

// upstreamSignIn is how a user signed in: the methods (RFC 8176), and for
// a sign-in through an upstream identity provider (federated.go) its name
// and when the user authenticated there.
type upstreamSignIn struct {
	IDP      string
	AMR      []string
	AuthTime time.Time // when the user authenticated upstream; zero: now
}

// startSessionFrom is startSession for a sign-in through a provider, whose
// reported methods become the session's amr.
func (s *Server) startSessionFrom(w http.ResponseWriter, r *http.Request, u *identity.User, up upstreamSignIn) (*browserSession, error) {
	now := s.now()
	authTime := now
	if !up.AuthTime.IsZero() {
		authTime = up.AuthTime
	}
	raw, hash := randomToken(sessionIDPrefix)
	rec := store.Session{
		IDHash:    hash,
		Subject:   u.ID,
		AuthTime:  authTime,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.Lifetimes.Session),
		UserAgent: shortUserAgent(r.UserAgent()),
		AMR:       up.AMR,
		IDP:       up.IDP,
	}
	if err := s.cfg.Store.CreateSession(r.Context(), rec); err != nil {
		return nil, err
	}
	if old, err := s.sessionRecord(r); err != nil {
		s.log.ErrorContext(r.Context(), "looking up the previous session failed", "error", err)
	} else if old != nil {
		if err := s.cfg.Store.RevokeSession(r.Context(), old.IDHash, now); err != nil {
			s.log.ErrorContext(r.Context(), "revoking the previous session failed", "error", err)
		}
	}
	value, err := s.sessions.Encode(sessionCookie, sessionCookieValue{
		ID: raw, Subject: u.ID, AuthTime: authTime.Unix(), Expires: rec.ExpiresAt.Unix(),
	})
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, s.cookies.Cookie(sessionCookie, value, s.cfg.Lifetimes.Session))
	return &browserSession{IDHash: hash, Subject: u.ID, AuthTime: authTime, AMR: up.AMR, User: u}, nil
}

// handleLogin serves the login page (GET) and checks credentials (POST).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	ar, client, ok := s.openSignIn(r, form.Get("ar"))
	if !ok {
		s.renderExpiredFlow(w, r)
		return
	}
	setCSP(w.Header(), formActionSource(ar.RedirectURI))
	if r.Method != http.MethodPost {
		s.renderLogin(w, r, form.Get("ar"), ar, client, ar.LoginHint, "", http.StatusOK)
		return
	}
	if s.cfg.PasswordLoginOff {
		s.renderLogin(w, r, form.Get("ar"), ar, client, "", ui.Message("login.error.password_off"), http.StatusForbidden)
		return
	}
	if !s.checkCSRF(r, form) {
		s.renderLogin(w, r, form.Get("ar"), ar, client, form.Get("username"), ui.Message("login.error.stale"), http.StatusForbidden)
		return
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		s.renderLogin(w, r, form.Get("ar"), ar, client, username, ui.Message("login.error.missing"), http.StatusBadRequest)
		return
	}
	u, err := s.cfg.Users.UserByUsername(r.Context(), username)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	known := err == nil
	// Brute-force defence (throttle.go): a waiting account or address is
	// refused before the password is looked at. A browser where this user
	// signed in before, and whose device cookie is not locked itself, is
	// counted on that cookie instead (device.go), so nobody can lock the
	// user out of it by guessing elsewhere.
	subject, ip := loginSubject(username, u, known), ClientIP(r)
	trusted := false
	if known && u != nil {
		if device := s.trustedDevice(r, u.ID); s.logins.Exempts(device, s.now()) {
			subject, ip, trusted = device, "", true
		}
	}
	if ok, wait := s.logins.AdmitWait(r.Context(), subject, ip, s.now); !ok {
		s.throttledLogin(w, r, form.Get("ar"), ar, client, username, wait)
		return
	}
	result := throttle.Abandoned
	defer func() {
		lockedSubject, lockedIP := s.logins.Done(subject, ip, result, s.now())
		s.logLoginLock(r, username, trusted, lockedSubject, lockedIP)
	}()
	var hash *identity.PasswordHash
	if known {
		hash = u.Password
	}
	// An unknown user is hashed against a dummy, so both failures take
	// the same time and give the same answer (no user enumeration). A
	// browser its user signed in on before is served first, so a storm
	// of guesses elsewhere does not keep them out.
	verify := s.cfg.Hasher.Verify
	if trusted {
		verify = s.cfg.Hasher.VerifyUrgent
	}
	if err := verify(r.Context(), hash, password); err != nil || !known || u.Password == nil {
		if errors.Is(err, r.Context().Err()) && err != nil {
			return // the client went away
		}
		if errors.Is(err, identity.ErrBusy) {
			s.busyLogin(w, r, form.Get("ar"), ar, client, username)
			return // nothing was checked: not a failure
		}
		result = throttle.Failed
		s.emitFrom(r, Event{Type: EventLogin, Result: "failure", Method: "password", Username: username, ClientID: clientIDOf(client)})
		s.log.InfoContext(r.Context(), "login failed", "username", username, "client_id", clientIDOf(client), "trusted_device", trusted)
		s.renderLogin(w, r, form.Get("ar"), ar, client, username, ui.Message("login.error.wrong"), http.StatusUnauthorized)
		return
	}
	result = throttle.Succeeded
	if s.cfg.Accounts != nil {
		s.cfg.Accounts.AfterLogin(r.Context(), u, password)
	}
	// A second factor, when one is due, comes before any session exists
	// (mfa.go): the password alone signs nobody in.
	step, err := s.factorNeeded(r.Context(), client, ar, u.ID, []string{amrPassword})
	if err != nil {
		s.renderUserLookupFailed(w, r, err)
		return
	}
	if step != factorNone {
		s.log.InfoContext(r.Context(), "password accepted, second factor due", "sub", u.ID, "client_id", clientIDOf(client))
		s.startSecondFactor(w, r, form.Get("ar"), client, u, step)
		return
	}
	sess, err := s.startSession(w, r, u, []string{amrPassword})
	if err != nil {
		s.renderFailure(w, r, err, "starting a session failed", ui.ProblemText("problem.sign_in_failed"))
		return
	}
	if !s.logins.Policy().Off {
		s.setDeviceCookie(w, r, u.ID)
	}
	s.emitFrom(r, Event{Type: EventLogin, Result: "success", Method: "password", Subject: u.ID, Username: username, ClientID: clientIDOf(client)})
	s.log.InfoContext(r.Context(), "login succeeded", "sub", u.ID, "client_id", clientIDOf(client), "trusted_device", trusted)
	if client == nil {
		http.Redirect(w, r, s.afterAccountLogin(form.Get("ar")), http.StatusSeeOther)
		return
	}
	s.proceed(w, r, ar, client, sess)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, sealed string, ar *authRequest, client *clients.Client, username, msg string, status int) {
	page := ui.LoginPage{
		Base:        s.base(""),
		FormAction:  s.prefix + "/login",
		AuthRequest: sealed,
		CSRFToken:   s.csrfToken(w, r),
		Username:    username,
		Error:       msg,
		Providers:   s.loginProviders(sealed),
		PasswordOff: s.cfg.PasswordLoginOff,
	}
	if s.forgot != nil && !s.cfg.PasswordLoginOff {
		page.ForgotURL = s.prefix + forgotPasswordPath
	}
	if client != nil {
		page.ClientName, page.ClientLogoURI = client.Name, logoOf(client)
		// One gate client serves every gated site: name the site the user
		// is signing in to (its verified redirect URI's host).
		if client.ID == clients.GateID {
			if u, err := url.Parse(ar.RedirectURI); err == nil && u.Host != "" {
				page.ClientName = u.Host
			}
		}
	}
	if err := s.cfg.UI.Render(w, status, page); err != nil {
		s.log.ErrorContext(r.Context(), "rendering the login page failed", "error", err)
	}
}
