package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/resource"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// authRequest is a validated authorization request. Between the
// authorization endpoint, the login page and the consent page it travels
// sealed (encrypted and authenticated, with an expiry) in the "ar"
// parameter, so abandoned flows cost no storage.
type authRequest struct {
	ClientID    string `json:"c"`
	RedirectURI string `json:"r"`
	// RedirectURIGiven records whether the request carried redirect_uri,
	// in which case the token request must repeat it (RFC 6749 §4.1.3).
	RedirectURIGiven bool     `json:"rg,omitempty"`
	Scopes           []string `json:"s"`
	State            string   `json:"st,omitempty"`
	Nonce            string   `json:"n,omitempty"`
	CodeChallenge    string   `json:"cc,omitempty"`
	Prompt           []string `json:"p,omitempty"`
	MaxAge           int64    `json:"ma"` // seconds; -1 when absent
	LoginHint        string   `json:"lh,omitempty"`
	// IDPHint names the upstream provider to sign in with (idp_hint),
	// skipping the login page; ignored unless it names a configured one.
	IDPHint   string   `json:"ih,omitempty"`
	Resources []string `json:"res,omitempty"`
	// ACR is the class acr_values asked for: the first value this server
	// supports (amr.go), "" for none.
	ACR      string `json:"acr,omitempty"`
	IssuedAt int64  `json:"iat"` // unix milliseconds
}

func (a *authRequest) hasPrompt(p string) bool { return slices.Contains(a.Prompt, p) }

// maxParamLength bounds free-form parameters (state, nonce, login_hint):
// they are sealed into URLs and echoed to clients.
const maxParamLength = 1024

// isParamText reports whether a free-form parameter can be carried and
// echoed unchanged: at most maxParamLength bytes of valid UTF-8 without
// control characters. JSON (the sealed request, ID tokens) would replace
// invalid UTF-8, so a client would get back a state or nonce other than
// the one it sent (found by FuzzAuthorizeRequest).
func isParamText(s string) bool {
	if len(s) > maxParamLength || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, §4.1.1;
// OIDC Core §3.1.2.1). GET and POST are both supported (OIDC Core
// §3.1.2.1).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ar, client, oerr := s.parseAuthorizeRequest(w, r)
	if oerr != nil {
		// A dynamically registered client's errors are shown, not
		// redirected: see silentError (RFC 9700 §4.18).
		if ar == nil || oerr.NoRedirect || client.Dynamic {
			s.emitFrom(r, Event{Type: EventAuthorization, Result: "error", ClientID: clientIDOf(client)})
			s.renderOAuthError(w, r, oerr, "client_id", clientIDOf(client))
			return
		}
		s.redirectError(w, r, ar, oerr)
		return
	}
	s.proceed(w, r, ar, client, nil)
}

// parseAuthorizeRequest validates the request. When it returns an error
// and a non-nil authRequest, the error may be redirected to
// ar.RedirectURI, which has been verified against the client.
func (s *Server) parseAuthorizeRequest(w http.ResponseWriter, r *http.Request) (*authRequest, *clients.Client, *oautherr.Error) {
	form, err := parseForm(w, r)
	var dup *duplicateParamError
	switch {
	case errors.As(err, &dup):
		if dup.name == "client_id" || dup.name == "redirect_uri" {
			return nil, nil, oautherr.InvalidRequest("parameter %s is repeated", dup.name).WithoutRedirect()
		}
		// Otherwise report it once the redirect URI has been verified.
	case err != nil:
		return nil, nil, oautherr.InvalidRequest("%s", err.Error()).WithoutRedirect()
	}
	pushed := false
	if s.cfg.PushedAuthorization && form.Has("request_uri") {
		// RFC 9126 §4: the request is the one pushed to /par.
		var oerr *oautherr.Error
		if form, oerr = s.pushedRequest(r.Context(), form); oerr != nil {
			return nil, nil, oerr.WithoutRedirect()
		}
		dup, pushed = nil, true
	}
	return s.checkAuthorizeForm(r.Context(), form, dup, pushed)
}

// checkAuthorizeForm validates the parameters of an authorization
// request, from /authorize or pushed to /par (pushed). When it returns an
// error and a non-nil authRequest, the error may be redirected to
// ar.RedirectURI, which has been verified against the client.
func (s *Server) checkAuthorizeForm(ctx context.Context, form url.Values, dup *duplicateParamError, pushed bool) (*authRequest, *clients.Client, *oautherr.Error) {
	// 1. Client and redirect URI: errors here are never redirected
	// (RFC 6749 §4.1.2.1).
	clientID := form.Get("client_id")
	if clientID == "" {
		return nil, nil, oautherr.InvalidRequest("the client_id parameter is missing").WithoutRedirect()
	}
	client, err := s.clientFor(ctx, clientID)
	if errors.Is(err, clients.ErrUnknown) {
		// Its cause, clients.ErrUnknown, gives it its own page (renderOAuthError).
		return nil, nil, oautherr.InvalidRequest("the app (client_id) is not registered").WithCause(err).WithoutRedirect()
	} else if err != nil {
		return nil, nil, oautherr.ServerError("client lookup failed").WithCause(err).WithoutRedirect()
	}
	if client.RequirePushedAuthorizationRequests && !pushed {
		// RFC 9126 §6: such a client's requests come only through /par.
		return nil, client, oautherr.InvalidRequest("this app must push its authorization requests to the pushed_authorization_request_endpoint").WithoutRedirect()
	}
	ar := &authRequest{ClientID: client.ID, MaxAge: -1, IssuedAt: s.now().UnixMilli()}
	if ru := form.Get("redirect_uri"); ru != "" {
		if !client.MatchRedirectURI(ru) {
			return nil, client, oautherr.InvalidRequest("the redirect_uri is not registered for this app").
				WithCause(errUnregisteredRedirect).WithoutRedirect()
		}
		ar.RedirectURI, ar.RedirectURIGiven = ru, true
	} else if len(client.RedirectURIs) == 1 {
		// RFC 6749 §3.1.2.3: optional when exactly one is registered.
		ar.RedirectURI = client.RedirectURIs[0]
	} else {
		return nil, client, oautherr.InvalidRequest("the redirect_uri parameter is missing").WithoutRedirect()
	}

	// 2. Everything else is reported to the verified redirect URI.
	ar.State = form.Get("state")
	if !isParamText(ar.State) {
		ar.State = ""
		return ar, client, oautherr.InvalidRequest("state must be printable UTF-8 of at most %d bytes", maxParamLength)
	}
	if dup != nil {
		return ar, client, oautherr.InvalidRequest("parameter %s is repeated", dup.name)
	}
	if form.Has("request") {
		return ar, client, oautherr.RequestNotSupported("request objects are not supported")
	}
	if form.Has("request_uri") {
		return ar, client, oautherr.RequestURINotSupported("request_uri is not supported")
	}
	switch rt := form.Get("response_type"); rt {
	case "code":
	case "":
		return ar, client, oautherr.InvalidRequest("the response_type parameter is missing")
	default:
		return ar, client, oautherr.UnsupportedResponseType("only response_type=code is supported")
	}
	if rm := form.Get("response_mode"); rm != "" && rm != "query" {
		return ar, client, oautherr.InvalidRequest("only response_mode=query is supported")
	}
	if !client.AllowsGrant("authorization_code") {
		return ar, client, oautherr.UnauthorizedClient("this app may not use the authorization code flow")
	}

	scopes, ok := clients.ParseScope(form.Get("scope"))
	if !ok {
		return ar, client, oautherr.InvalidScope("the scope parameter is malformed")
	}
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	for _, sc := range scopes {
		if !client.AllowsScope(sc, supportedScopes) {
			return ar, client, oautherr.InvalidScope("scope %q is not allowed for this app", sc)
		}
	}
	ar.Scopes = scopes

	// PKCE (RFC 7636 §4.3, §4.4.1); only S256 (RFC 9700 §2.1.1), and
	// required for public clients.
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return ar, client, oautherr.InvalidRequest("code_challenge_method without code_challenge")
	case challenge != "" && method != "S256":
		return ar, client, oautherr.InvalidRequest("code_challenge_method must be S256")
	case challenge != "" && !isS256Challenge(challenge):
		return ar, client, oautherr.InvalidRequest("code_challenge is not a valid S256 challenge")
	case challenge == "" && client.Type.Public():
		return ar, client, oautherr.InvalidRequest("this app must use PKCE: code_challenge with code_challenge_method=S256 is required")
	}
	ar.CodeChallenge = challenge

	if p := form.Get("prompt"); p != "" {
		for _, v := range strings.Fields(p) {
			switch v {
			case "none", "login", "consent", "select_account":
			default:
				return ar, client, oautherr.InvalidRequest("unsupported prompt value %q", v)
			}
			if !slices.Contains(ar.Prompt, v) {
				ar.Prompt = append(ar.Prompt, v)
			}
		}
		// OIDC Core §3.1.2.1: none must not be combined with other values.
		if ar.hasPrompt("none") && len(ar.Prompt) > 1 {
			return ar, client, oautherr.InvalidRequest("prompt=none cannot be combined with other values")
		}
	}
	if ma := form.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 {
			return ar, client, oautherr.InvalidRequest("max_age must be a non-negative integer")
		}
		ar.MaxAge = n
	}
	// OIDC Core §3.1.2.1: acr_values lists classes in order of
	// preference; the first one this server knows is the one it works to
	// reach (step-up), and values it does not know are ignored.
	if av := form.Get("acr_values"); av != "" {
		if !isParamText(av) {
			return ar, client, oautherr.InvalidRequest("acr_values must be printable UTF-8 of at most %d bytes", maxParamLength)
		}
		for _, v := range strings.Fields(av) {
			if slices.Contains(s.acrValuesSupported(), v) {
				ar.ACR = v
				break
			}
		}
	}
	ar.Nonce, ar.LoginHint = form.Get("nonce"), form.Get("login_hint")
	if hint := form.Get("idp_hint"); hint != "" && len(s.cfg.Providers) > 0 && s.provider(hint) != nil {
		ar.IDPHint = hint
	}
	if !isParamText(ar.Nonce) || !isParamText(ar.LoginHint) {
		return ar, client, oautherr.InvalidRequest("nonce and login_hint must be printable UTF-8 of at most %d bytes", maxParamLength)
	}
	if res := form["resource"]; len(res) > 0 {
		if len(res) > 8 {
			return ar, client, oautherr.InvalidTarget("too many resource parameters")
		}
		normalized, oerr := normalizeResources(res)
		if oerr != nil {
			return ar, client, oerr
		}
		ar.Resources = normalized
	}
	return ar, client, nil
}

// normalizeResource checks a resource indicator (RFC 8707 §2: an absolute
// URI without a fragment) and returns its normal form, the one consents,
// grants and access tokens carry (package resource).
func normalizeResource(raw string) (string, error) {
	if !isParamText(raw) {
		return "", resource.ErrInvalid
	}
	return resource.Normalize(raw)
}

// normalizeResources normalises the resource parameters of a request,
// sorted and without duplicates.
func normalizeResources(raw []string) ([]string, *oautherr.Error) {
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		n, err := normalizeResource(r)
		if err != nil {
			return nil, oautherr.InvalidTarget("%s", err.Error())
		}
		out = append(out, n)
	}
	return slices.Compact(slices.Sorted(slices.Values(out))), nil
}

// proceed decides what an authorization request needs next: a login, a
// consent, or a code. sess is the session just created by a login, or nil
// to use the browser's session cookie.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, ar *authRequest, client *clients.Client, sess *browserSession) {
	if sess == nil {
		var err error
		if sess, err = s.currentSession(r); err != nil {
			s.redirectError(w, r, ar, userLookupFailed(err))
			return
		}
	}
	now := s.now()
	if sess != nil && s.needsLogin(ar, sess, now) {
		sess = nil
	}
	if sess == nil {
		if ar.hasPrompt("none") {
			s.silentError(w, r, ar, client, oautherr.LoginRequired("the user is not signed in"))
			return
		}
		if ar.IDPHint != "" && s.provider(ar.IDPHint) != nil {
			s.redirectToPage(w, r, federationStartPath(ar.IDPHint), ar)
			return
		}
		s.redirectToPage(w, r, "/login", ar)
		return
	}
	// Step-up (OIDC Core §3.1.2.1 acr_values; mfa.go): a session weaker
	// than the app or the request asks for proves a second factor first.
	switch step, err := s.factorNeeded(r.Context(), client, ar, sess.Subject, sess.AMR); {
	case err != nil:
		s.redirectError(w, r, ar, userLookupFailed(err))
		return
	case step != factorNone:
		if ar.hasPrompt("none") {
			s.silentError(w, r, ar, client, oautherr.InteractionRequired("a second factor is required"))
			return
		}
		s.redirectToPage(w, r, secondFactorPath, ar)
		return
	}
	need, err := s.needsConsent(r, ar, client, sess)
	if err != nil {
		s.redirectError(w, r, ar, oautherr.From(err))
		return
	}
	if need {
		if ar.hasPrompt("none") {
			s.silentError(w, r, ar, client, oautherr.ConsentRequired("the user has not granted this app access"))
			return
		}
		s.redirectToPage(w, r, "/consent", ar)
		return
	}
	s.issueCode(w, r, ar, client, sess)
}

// needsLogin applies prompt=login and max_age (OIDC Core §3.1.2.1) to an
// existing session. A login made after the request was issued satisfies
// both, which is how the flow continues after the login page.
func (s *Server) needsLogin(ar *authRequest, sess *browserSession, now time.Time) bool {
	authTime := sess.AuthTime.UnixMilli()
	if (ar.hasPrompt("login") || ar.hasPrompt("select_account")) && authTime < ar.IssuedAt {
		return true
	}
	if ar.MaxAge >= 0 && now.UnixMilli()-authTime > ar.MaxAge*1000 && authTime < ar.IssuedAt {
		return true
	}
	return false
}

// needsConsent reports whether the user must see the consent page:
// third-party apps only, when asked by prompt=consent, for offline_access
// (OIDC Core §11), or when the request has scopes or names resources not
// granted before.
// First-party apps are trusted with everything except offline_access,
// which, as in Stytch Connected Apps, asks unless the app has
// BypassConsentForOfflineAccess.
func (s *Server) needsConsent(r *http.Request, ar *authRequest, client *clients.Client, sess *browserSession) (bool, error) {
	if client.Type.Trusted() {
		return slices.Contains(ar.Scopes, "offline_access") && !client.BypassConsentForOfflineAccess, nil
	}
	if ar.hasPrompt("consent") || slices.Contains(ar.Scopes, "offline_access") {
		return true, nil
	}
	c, err := s.cfg.Store.GetConsent(r.Context(), sess.Subject, client.ID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	// Consent is bound to the resources too (RFC 8707): an app allowed
	// to reach one service must ask before it reaches another.
	return !containsAll(c.Scopes, ar.Scopes) || !containsAll(c.Resources, ar.Resources), nil
}

// redirectToPage sends the browser to the login or consent page carrying
// the sealed request.
func (s *Server) redirectToPage(w http.ResponseWriter, r *http.Request, page string, ar *authRequest) {
	sealed, err := s.requests.Encode("ar", ar)
	if err != nil {
		s.redirectError(w, r, ar, oautherr.ServerError("could not continue the request").WithCause(err))
		return
	}
	s.emitFrom(r, Event{Type: EventAuthorization, Result: strings.TrimPrefix(page, "/") + "_page", ClientID: ar.ClientID})
	http.Redirect(w, r, s.prefix+page+"?"+url.Values{"ar": {sealed}}.Encode(), redirectStatus(r))
}

// openAuthRequest decodes the sealed request of a login or consent page.
func (s *Server) openAuthRequest(r *http.Request, sealed string) (*authRequest, *clients.Client, bool) {
	var ar authRequest
	if sealed == "" || s.requests.Decode("ar", sealed, &ar) != nil {
		return nil, nil, false
	}
	client, err := s.clientFor(r.Context(), ar.ClientID)
	if err != nil || !client.MatchRedirectURI(ar.RedirectURI) {
		// The client was removed or changed since the request began.
		return nil, nil, false
	}
	return &ar, client, true
}

// issueCode stores a new authorization code and redirects to the client
// with it (RFC 6749 §4.1.2).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ar *authRequest, client *clients.Client, sess *browserSession) {
	now := s.now()
	raw, hash := randomToken(codePrefix)
	code := store.AuthCode{
		Hash:          hash,
		GrantID:       randomID(),
		ClientID:      client.ID,
		Subject:       sess.Subject,
		SessionIDHash: sess.IDHash,
		Scopes:        ar.Scopes,
		Resources:     ar.Resources,
		Nonce:         ar.Nonce,
		CodeChallenge: ar.CodeChallenge,
		AuthTime:      sess.AuthTime,
		AMR:           sess.AMR,
		CreatedAt:     now,
		ExpiresAt:     now.Add(s.cfg.Lifetimes.AuthCode),
	}
	if ar.RedirectURIGiven {
		code.RedirectURI = ar.RedirectURI
	}
	if ar.CodeChallenge != "" {
		code.CodeChallengeMethod = "S256"
	}
	if err := s.cfg.Store.CreateAuthCode(r.Context(), code); err != nil {
		s.redirectError(w, r, ar, oautherr.ServerError("could not issue an authorization code").WithCause(err))
		return
	}
	s.emitFrom(r, Event{Type: EventAuthorization, Result: "code_issued", ClientID: client.ID, Subject: sess.Subject, Scopes: ar.Scopes})
	s.log.InfoContext(r.Context(), "authorization code issued", "client_id", client.ID, "sub", sess.Subject, "scope", joinScopes(ar.Scopes))
	s.redirectToClient(w, r, ar, url.Values{"code": {raw}})
}

// silentError answers a request that failed without the user doing
// anything (prompt=none). A dynamically registered client's redirect URI
// was chosen by whoever registered it, so rather than let anyone bounce
// browsers off the issuer to any site without a click (RFC 9700 §4.18),
// such clients get the error page; other clients get the redirect.
func (s *Server) silentError(w http.ResponseWriter, r *http.Request, ar *authRequest, client *clients.Client, err *oautherr.Error) {
	if client.Dynamic {
		s.emitFrom(r, Event{Type: EventAuthorization, Result: "error", ClientID: ar.ClientID})
		s.renderOAuthError(w, r, err, "client_id", ar.ClientID, "dynamic_client", true)
		return
	}
	s.redirectError(w, r, ar, err)
}

// redirectError sends an error to the verified redirect URI with state and
// iss (RFC 6749 §4.1.2.1, RFC 9207 §2).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, ar *authRequest, err *oautherr.Error) {
	err.Log(r.Context(), s.log, "authorization request failed", "client_id", ar.ClientID)
	s.emitFrom(r, Event{Type: EventAuthorization, Result: "error", ClientID: ar.ClientID})
	v := url.Values{"error": {string(err.Code)}}
	if d := err.SafeDescription(); d != "" {
		v.Set("error_description", d)
	}
	s.redirectToClient(w, r, ar, v)
}

// redirectToClient redirects to ar.RedirectURI with params, state and iss
// added to its query, keeping any query it already has (RFC 6749 §3.1.2).
func (s *Server) redirectToClient(w http.ResponseWriter, r *http.Request, ar *authRequest, params url.Values) {
	u, err := url.Parse(ar.RedirectURI)
	if err != nil { // cannot happen: it matched a validated registration
		s.renderOAuthError(w, r, oautherr.ServerError("bad redirect URI").WithCause(err), "client_id", ar.ClientID)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	q.Set("iss", s.Issuer())
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.WriteHeader(redirectStatus(r))
}

// redirectStatus is 303 after a POST so the browser follows with a GET
// and never re-posts credentials to the next hop (RFC 9700 §4.12), 302
// otherwise.
func redirectStatus(r *http.Request) int {
	if r.Method == http.MethodPost {
		return http.StatusSeeOther
	}
	return http.StatusFound
}
