package gate

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// sessionValue is what the gate's session cookie carries, encrypted and
// authenticated.
type sessionValue struct {
	// ID is random per login: what a sign-out form's token is bound to.
	ID            string   `json:"id,omitempty"`
	Subject       string   `json:"s"`
	Username      string   `json:"u,omitempty"`
	Email         string   `json:"e,omitempty"`
	EmailVerified bool     `json:"ev,omitempty"`
	Name          string   `json:"n,omitempty"`
	Groups        []string `json:"g,omitempty"`
	Issuer        string   `json:"i"`
	GrantID       string   `json:"gid,omitempty"`
	SessionID     string   `json:"sid,omitempty"`
	AuthTime      int64    `json:"at,omitempty"`
	IDP           string   `json:"idp,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	Created       int64    `json:"c"`
	LastSeen      int64    `json:"l"`
}

// pendingLogin is a login in progress, kept in a short-lived cookie named
// after its state so several tabs can log in at once.
type pendingLogin struct {
	State       string `json:"s"`
	Nonce       string `json:"n"`
	Verifier    string `json:"v"`
	ReturnTo    string `json:"r"`
	RedirectURI string `json:"ru"`
	// StepUp: this login asked for a stronger authentication; a login
	// that still falls short is refused, not sent round again. The
	// requirement travels with it: the callback may be served by another
	// gate of the site, with another policy.
	StepUp     bool   `json:"su,omitempty"`
	NeedMFA    bool   `json:"nm,omitempty"`
	NeedACR    string `json:"na,omitempty"`
	NeedMaxAge int64  `json:"nx,omitempty"` // seconds
}

// cookieValueName binds encoded cookies to the site: the name securecookie
// authenticates includes the origin, so a cookie minted for another site
// (even with the same keys) does not decode here.
func (g *Gate) cookieValueName(origin string) string { return g.cfg.CookieName + "|" + origin }

// sessionIdentity returns the identity of a valid session cookie, or nil.
// Decoded cookies are cached by hash, so the common request costs one
// SHA-256 and a map read; the idle timer is refreshed at most once per
// tenth of the idle lifetime, which re-issues the cookie.
func (g *Gate) sessionIdentity(w http.ResponseWriter, r *http.Request, origin string) *Identity {
	value, ok := cookieHeaderValue(r.Header["Cookie"], g.cookieName)
	if !ok || value == "" {
		return nil
	}
	now := g.now()
	key := keyOf(origin, value)
	var id *Identity
	var lastSeen int64
	if e, ok := g.sessions.get(key, now); ok {
		id, lastSeen = e.id, e.extra
	} else {
		var v sessionValue
		if g.codec.Decode(g.cookieValueName(origin), value, &v) != nil {
			return nil
		}
		created := time.Unix(v.Created, 0)
		if now.Sub(created) >= g.cfg.SessionLifetime {
			return nil
		}
		id = &Identity{
			Subject: v.Subject, Username: v.Username, Email: v.Email, EmailVerified: v.EmailVerified,
			Name: v.Name, Groups: v.Groups, Issuer: v.Issuer, Source: SourceSession, IDP: v.IDP,
			ACR: v.ACR, AMR: v.AMR, AuthTime: v.AuthTime,
			grantID: v.GrantID, sessionID: v.SessionID,
		}
		lastSeen = v.LastSeen
		// Cache until the idle or absolute end, whichever comes first.
		exp := min(created.Add(g.cfg.SessionLifetime).Unix(), lastSeen+int64(g.cfg.SessionIdle/time.Second))
		g.sessions.put(key, cacheEntry{id: g.prepare(id), expires: time.Unix(exp, 0), extra: lastSeen}, now)
	}
	idle := int64(g.cfg.SessionIdle / time.Second)
	if now.Unix()-lastSeen >= idle {
		g.sessions.remove(key)
		return nil
	}
	if g.revoked(id) {
		g.sessions.remove(key)
		g.clearSession(w)
		return nil
	}
	if now.Unix()-lastSeen > idle/10 {
		g.refreshSession(w, r, origin, value, key)
	}
	return id
}

// refreshSession re-issues the cookie with a new last-seen time.
func (g *Gate) refreshSession(w http.ResponseWriter, r *http.Request, origin, value string, old cacheKey) {
	var v sessionValue
	if g.codec.Decode(g.cookieValueName(origin), value, &v) != nil {
		return
	}
	v.LastSeen = g.now().Unix()
	if err := g.writeSession(w, origin, v); err != nil {
		g.log.ErrorContext(r.Context(), "refreshing the gate session failed", "error", err)
		return
	}
	g.sessions.remove(old)
}

func (g *Gate) writeSession(w http.ResponseWriter, origin string, v sessionValue) error {
	enc, err := g.codec.Encode(g.cookieValueName(origin), v)
	if err != nil {
		return err
	}
	// A session cookie (no Max-Age): the server enforces the lifetimes.
	http.SetCookie(w, g.cookies.Cookie(g.cfg.CookieName, enc, 0))
	return nil
}

func (g *Gate) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, g.cookies.Cookie(g.cfg.CookieName, "", -1))
}

// startLogin sends a browser to the provider's authorization endpoint with
// fresh state, nonce and PKCE verifier (RFC 9700 §2.1.1, §4.7).
func (g *Gate) startLogin(w http.ResponseWriter, r *http.Request, origin string) {
	g.startLoginFor(w, r, origin, false)
}

// startLoginFor starts a login; a step-up asks the provider for the
// policy's class (acr_values) and a fresh sign-in (max_age).
func (g *Gate) startLoginFor(w http.ResponseWriter, r *http.Request, origin string, stepUp bool) {
	var req AuthRequest
	if stepUp {
		req.ACRValues = g.cfg.Policy.requiredACR()
		if g.cfg.Policy.MaxAge > 0 {
			req.MaxAge = int64(g.cfg.Policy.MaxAge / time.Second)
		}
	}
	p := pendingLogin{
		StepUp:      stepUp,
		State:       randomString(32),
		Nonce:       randomString(32),
		Verifier:    oauth2.GenerateVerifier(), // 32 random octets (RFC 7636 §4.1)
		ReturnTo:    r.URL.RequestURI(),
		RedirectURI: g.CallbackURL(origin),
	}
	if stepUp {
		p.NeedMFA, p.NeedACR, p.NeedMaxAge = g.cfg.Policy.RequireMFA, g.cfg.Policy.RequireACR, req.MaxAge
	}
	authURL, err := g.cfg.Provider.AuthCodeURL(r.Context(), AuthRequest{
		RedirectURI: p.RedirectURI, State: p.State, Nonce: p.Nonce, Verifier: p.Verifier, Scopes: g.cfg.Scopes,
		ACRValues: req.ACRValues, MaxAge: req.MaxAge,
	})
	if err != nil {
		g.log.ErrorContext(r.Context(), "starting a login failed", "error", err)
		g.renderError(w, http.StatusServiceUnavailable, "problem.gate_unavailable", oautherr.CodeTemporarilyUnavailable)
		return
	}
	enc, err := g.loginCodec.Encode(g.cookieValueName(origin)+"|login", p)
	if err != nil {
		g.renderError(w, http.StatusInternalServerError, "problem.gate_start_failed", oautherr.CodeServerError)
		return
	}
	http.SetCookie(w, g.cookies.Cookie(g.loginCookieBase(p.State), enc, loginFlowMaxAge))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// loginCookieBase names the pending-login cookie of one state.
func (g *Gate) loginCookieBase(state string) string {
	k := sha256.Sum256([]byte(state + "\x00"))
	return g.cfg.CookieName + "_login_" + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(k[:5]))
}

// handleCallback completes a login (RFC 6749 §4.1.2): it checks state
// against the pending-login cookie and iss against the provider (RFC 9207,
// mix-up defence), redeems the code, and starts the gate session.
func (g *Gate) handleCallback(w http.ResponseWriter, r *http.Request, origin string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// This URL carries the code and state: never pass it on as Referer.
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	state := q.Get("state")
	expired := func() {
		g.renderError(w, http.StatusBadRequest, "problem.gate_expired", oautherr.CodeInvalidRequest)
	}
	if state == "" || len(state) > 256 {
		expired()
		return
	}
	c, err := r.Cookie(g.cookies.Name(g.loginCookieBase(state)))
	if err != nil {
		expired()
		return
	}
	var p pendingLogin
	if g.loginCodec.Decode(g.cookieValueName(origin)+"|login", c.Value, &p) != nil ||
		subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		expired()
		return
	}
	// One use only: the pending login is gone whatever happens next.
	http.SetCookie(w, g.cookies.Cookie(g.loginCookieBase(state), "", -1))

	issuer, err := g.cfg.Provider.Issuer(r.Context())
	if err != nil {
		g.renderError(w, http.StatusServiceUnavailable, "problem.gate_unavailable", oautherr.CodeTemporarilyUnavailable)
		return
	}
	// RFC 9207 §2.4: iss, when sent, must be the provider's; a provider
	// that says it sends iss must have sent it (mix-up defence).
	if iss, sent := q.Get("iss"), q.Has("iss"); (sent && iss != issuer) || (!sent && g.cfg.Provider.SendsIssuer(r.Context())) {
		g.log.WarnContext(r.Context(), "authorization response from an unexpected issuer", "iss", iss, "iss_sent", sent)
		g.renderError(w, http.StatusBadRequest, "problem.gate_wrong_issuer", oautherr.CodeInvalidRequest)
		return
	}
	if e := oautherr.Code(q.Get("error")); e != "" {
		g.log.InfoContext(r.Context(), "login was not completed", "error", string(e))
		if e == oautherr.CodeAccessDenied {
			g.renderError(w, http.StatusForbidden, "problem.gate_cancelled", e)
			return
		}
		g.renderError(w, http.StatusBadRequest, "problem.gate_not_completed", codeLoginFailed)
		return
	}
	code := q.Get("code")
	if code == "" {
		expired()
		return
	}
	login, err := g.cfg.Provider.Exchange(r.Context(), AuthRequest{RedirectURI: p.RedirectURI, Nonce: p.Nonce, Verifier: p.Verifier}, code)
	if err != nil {
		g.log.WarnContext(r.Context(), "completing a login failed", "error", err)
		if oautherr.IsTemporarilyUnavailable(err) {
			// The issuer (its store) could not redeem the code now; the
			// user is not refused, only asked to come back.
			g.renderError(w, http.StatusServiceUnavailable, "problem.gate_unavailable", oautherr.CodeTemporarilyUnavailable)
			return
		}
		g.renderError(w, http.StatusBadGateway, "problem.gate_not_verified", codeLoginFailed)
		return
	}
	now := g.now().Unix()
	id := login.Identity
	v := sessionValue{
		ID: randomString(16), Subject: id.Subject, Username: id.Username, Email: id.Email, EmailVerified: id.EmailVerified,
		Name: id.Name, Groups: id.Groups, Issuer: issuer, GrantID: login.GrantID, SessionID: login.SessionID,
		AuthTime: login.AuthTime, IDP: id.IDP, ACR: id.ACR, AMR: id.AMR, Created: now, LastSeen: now,
	}
	// A step-up that came back no stronger (the provider could not or
	// would not) is refused here rather than sent round again.
	id.AuthTime = login.AuthTime
	need := Policy{RequireMFA: p.NeedMFA, RequireACR: p.NeedACR, MaxAge: time.Duration(p.NeedMaxAge) * time.Second}
	if p.StepUp && !need.authenticationMet(&id, g.now()) {
		g.log.InfoContext(r.Context(), "step-up login fell short of the gate's requirement", "sub", id.Subject, "acr", id.ACR)
		g.renderError(w, http.StatusForbidden, "problem.gate_step_up_failed", oautherr.CodeAccessDenied)
		return
	}
	if err := g.writeSession(w, origin, v); err != nil {
		g.log.ErrorContext(r.Context(), "writing the gate session failed", "error", err)
		g.renderError(w, http.StatusInternalServerError, "problem.gate_session_failed", oautherr.CodeServerError)
		return
	}
	g.log.InfoContext(r.Context(), "gate login", "sub", id.Subject)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, safeReturnTo(p.ReturnTo), http.StatusFound)
}

// safeReturnTo keeps only same-site relative paths: "/x?y", never
// "//host", "/\host" or anything with a scheme, so the login can never
// become an open redirect.
func safeReturnTo(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n\t") {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return s
}

// handleLogout signs out of the gate and, for the same-Caddy issuer, of
// the issuer session the gate session was built on. Signing out changes
// state, so only a POST carrying the CSRF token of the current session
// does it; GET (a link, an <img> on another site) only shows the
// confirmation page. Without a session there is nothing to end.
func (g *Gate) handleLogout(w http.ResponseWriter, r *http.Request, origin string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	setPageHeaders(w.Header())
	c, err := r.Cookie(g.cookieName)
	var v sessionValue
	if err != nil || g.codec.Decode(g.cookieValueName(origin), c.Value, &v) != nil {
		g.clearSession(w)
		g.renderSignedOut(w)
		return
	}
	if r.Method != http.MethodPost {
		g.renderLogoutConfirm(w, r, origin, v)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutForm)
	if err := r.ParseForm(); err != nil || !g.validLogoutToken(origin, v, r.PostForm.Get("csrf")) {
		p := ui.ProblemText("problem.logout_stale_form")
		err := g.cfg.UI.Render(w, http.StatusForbidden, ui.ErrorPage{Base: g.base(), Heading: p.Heading, Message: p.Message, Hint: p.Hint,
			Code: string(oautherr.CodeInvalidRequest), Action: ui.Link{URL: g.cfg.LogoutPath, Label: ui.Message("gate.sign_out")}})
		if err != nil {
			http.Error(w, p.Heading, http.StatusForbidden)
		}
		return
	}
	l := Login{Identity: Identity{Subject: v.Subject}, GrantID: v.GrantID, SessionID: v.SessionID}
	if err := g.cfg.Provider.EndSession(r.Context(), l); err != nil {
		g.log.ErrorContext(r.Context(), "ending the issuer session failed", "error", err)
	}
	g.log.InfoContext(r.Context(), "gate logout", "sub", v.Subject)
	g.sessions.remove(keyOf(origin, c.Value))
	g.clearSession(w)
	w.Header().Set("Clear-Site-Data", `"cookies"`)
	g.renderSignedOut(w)
}

// maxLogoutForm bounds the sign-out form's body: it holds one token.
const maxLogoutForm = 4 << 10

// logoutBinding is what a sign-out form's CSRF token is bound to: the
// session as it was started, which stays the same while its cookie is
// re-issued with new last-seen times.
type logoutBinding struct {
	Session string `json:"id"`
	Subject string `json:"s"`
	Created int64  `json:"c"`
	Grant   string `json:"g,omitempty"`
}

func (g *Gate) logoutTokenName(origin string) string { return g.cookieValueName(origin) + "|logout" }

// validLogoutToken checks a sign-out form's token against the session it
// must have been issued for. Tokens expire with the login-flow lifetime.
func (g *Gate) validLogoutToken(origin string, v sessionValue, token string) bool {
	if token == "" || len(token) > 1024 {
		return false
	}
	var b logoutBinding
	if g.loginCodec.Decode(g.logoutTokenName(origin), token, &b) != nil {
		return false
	}
	return b == logoutBinding{Session: v.ID, Subject: v.Subject, Created: v.Created, Grant: v.GrantID}
}

func (g *Gate) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, origin string, v sessionValue) {
	token, err := g.loginCodec.Encode(g.logoutTokenName(origin), logoutBinding{Session: v.ID, Subject: v.Subject, Created: v.Created, Grant: v.GrantID})
	if err != nil {
		g.log.ErrorContext(r.Context(), "making a sign-out token failed", "error", err)
		g.renderError(w, http.StatusInternalServerError, "problem.gate_session_failed", oautherr.CodeServerError)
		return
	}
	page := ui.LogoutPage{
		Base:       g.base(),
		FormAction: g.cfg.LogoutPath,
		CSRFToken:  token,
		User:       ui.UserView{Name: v.Name, Username: v.Username, Email: v.Email},
	}
	if err := g.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		http.Error(w, "sign out", http.StatusInternalServerError)
	}
}

// renderSignedOut shows the signed-out page. The way back in is the site
// itself: the gate sends the browser to sign in again.
func (g *Gate) renderSignedOut(w http.ResponseWriter) {
	page := ui.SignedOutPage{Base: g.base(), Continue: ui.Link{URL: "/", Label: ui.Message("gate.sign_in_again")}}
	if err := g.cfg.UI.Render(w, http.StatusOK, page); err != nil {
		http.Error(w, "signed out", http.StatusOK)
	}
}

func (g *Gate) base() ui.Base {
	_, hash := g.cfg.UI.CSS()
	return ui.Base{Lang: "en", CSSURL: assetsPath + "?v=" + hash}
}

// codeLoginFailed labels the pages of a login the provider ended with an
// error other than access_denied, or whose code could not be redeemed. It
// is not a registered OAuth code and is not in any protocol answer: it is
// shown small on the page, for whoever reports the problem.
const codeLoginFailed oautherr.Code = "login_failed"

// renderError shows the error page of problem, a ui.ProblemText id, with
// its code.
func (g *Gate) renderError(w http.ResponseWriter, status int, problem string, code oautherr.Code) {
	w.Header().Set("Cache-Control", "no-store")
	setPageHeaders(w.Header())
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", oautherr.RetryAfter)
	}
	p := ui.ProblemText(problem)
	err := g.cfg.UI.Render(w, status, ui.ErrorPage{Base: g.base(), Heading: p.Heading, Message: p.Message, Hint: p.Hint, Code: string(code)})
	if err != nil {
		http.Error(w, p.Heading, status)
	}
}

// assetsPath serves the pages' stylesheet on the gated site itself, so
// the strict CSP (style-src 'self') holds.
const assetsPath = "/.gatehouse/gatehouse.css"

func (g *Gate) handleCSS(w http.ResponseWriter, r *http.Request) {
	css, hash := g.cfg.UI.CSS()
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	_, _ = w.Write(css)
}
