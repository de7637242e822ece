package authserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// pageHandler sets the headers every HTML-serving route needs. Pages carry
// authorization parameters, so they are never cached and never leak their
// URL through Referer (RFC 9700 §4.2.4); they cannot be framed
// (clickjacking, RFC 9700 §4.16).
func (s *Server) pageHandler(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Pragma", "no-cache")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		setCSP(hd, "")
		h(w, r)
	}
}

// setCSP writes the page Content-Security-Policy. Forms post to this
// server, which may answer with a redirect to the client; browsers apply
// form-action to that redirect too, so the client's redirect origin is
// allowed when a page knows it.
func setCSP(h http.Header, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "+
		"form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// formActionSource is the CSP source expression that allows a redirect to
// redirectURI after a form post.
func formActionSource(redirectURI string) string {
	if clients.MatchesAnyPort(redirectURI) {
		u, err := url.Parse(redirectURI)
		if err == nil {
			host := u.Hostname()
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			return "http://" + host + ":*"
		}
	}
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	if u.Host == "" { // private-use scheme of a native app
		return u.Scheme + ":"
	}
	if strings.ContainsAny(u.Host, "; ,'") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (s *Server) base(title string) ui.Base {
	_, hash := s.cfg.UI.CSS()
	return ui.Base{Lang: "en", Title: title, CSSURL: s.prefix + "/assets/gatehouse.css?v=" + hash}
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	css, hash := s.cfg.UI.CSS()
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	h.Set("ETag", `"`+hash+`"`)
	if match := r.Header.Get("If-None-Match"); match == `"`+hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(css)
}

// errorPage is a page shown instead of a redirect. Its words come from
// the ui package's message catalog (ui.ProblemText).
type errorPage struct {
	status  int
	problem ui.Problem
	code    oautherr.Code
	detail  string // technical, for the app's developer; never internals
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, p errorPage) {
	if p.status == 0 {
		p.status = http.StatusBadRequest
	}
	if p.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", oautherr.RetryAfter)
	}
	err := s.cfg.UI.Render(w, p.status, ui.ErrorPage{
		Base:    s.base(""),
		Heading: p.problem.Heading,
		Message: p.problem.Message,
		Hint:    p.problem.Hint,
		Code:    string(p.code),
		Detail:  p.detail,
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "rendering error page failed", "error", err)
		http.Error(w, http.StatusText(p.status), p.status)
	}
}

// errUnregisteredRedirect is the cause of the authorization error for a
// redirect_uri the client did not register (authorize.go). Like
// clients.ErrUnknown for an unknown client, it gets the error a page of
// its own: the page is chosen by the cause, never by the description.
var errUnregisteredRedirect = errors.New("redirect_uri not registered for the client")

// renderOAuthError logs err, with attrs, and shows it as a page. Used for
// errors that must not be redirected (unknown client, unverified redirect
// URI): plain words for the user, the error code and description for the
// app's developer.
func (s *Server) renderOAuthError(w http.ResponseWriter, r *http.Request, err *oautherr.Error, attrs ...any) {
	err.Log(r.Context(), s.log, "authorization request failed", attrs...)
	p := errorPage{status: http.StatusBadRequest, code: err.Code, detail: err.SafeDescription()}
	switch {
	case err.Code == oautherr.CodeServerError:
		p.status, p.detail = http.StatusInternalServerError, ""
		p.problem = ui.ProblemText("problem.server")
	case err.Code == oautherr.CodeTemporarilyUnavailable:
		p.status, p.detail = http.StatusServiceUnavailable, ""
		p.problem = ui.ProblemText("problem.unavailable")
	case errors.Is(err, clients.ErrUnknown):
		p.problem = ui.ProblemText("problem.unknown_client", s.cfg.UI.Branding().ProductName)
	case errors.Is(err, errUnregisteredRedirect):
		p.problem = ui.ProblemText("problem.bad_redirect")
	default:
		p.problem = ui.ProblemText("problem.bad_request")
	}
	s.renderError(w, r, p)
}

// renderExpiredFlow is the page for a sealed authorization request that
// no longer decodes: too old, tampered with, or from before a key change.
func (s *Server) renderExpiredFlow(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, errorPage{problem: ui.ProblemText("problem.expired_request"), code: oautherr.CodeInvalidRequest})
}

const csrfCookie = "gatehouse_csrf"

// csrfToken returns the anti-CSRF token for this browser's forms, setting
// the CSRF cookie when it is missing. The token is an HMAC of the cookie's
// random value (a signed double-submit cookie), so an attacker can neither
// read nor forge it.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	var value string
	if c, err := r.Cookie(s.cookies.Name(csrfCookie)); err == nil && len(c.Value) == 43 {
		value = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		value = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, s.cookies.Cookie(csrfCookie, value, 0))
		// The new cookie also serves the rest of this request.
		r.AddCookie(&http.Cookie{Name: s.cookies.Name(csrfCookie), Value: value})
	}
	return s.csrfFor(value)
}

func (s *Server) csrfFor(cookieValue string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies the form's token against the CSRF cookie in constant
// time.
func (s *Server) checkCSRF(r *http.Request, form url.Values) bool {
	c, err := r.Cookie(s.cookies.Name(csrfCookie))
	if err != nil || c.Value == "" {
		return false
	}
	want := s.csrfFor(c.Value)
	return subtle.ConstantTimeCompare([]byte(want), []byte(form.Get("csrf"))) == 1
}

func (s *Server) renderStaleForm(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, errorPage{status: http.StatusForbidden, problem: ui.ProblemText("problem.stale_form"), code: oautherr.CodeInvalidRequest})
}
