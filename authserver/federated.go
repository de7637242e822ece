package authserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/federation"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// Signing in through an upstream identity provider ("Sign in with ...").
// The login page links to federationStartPath, which remembers the
// sign-in in a sealed cookie bound to this browser and sends the browser
// to the provider; the provider sends it back to federationCallbackPath,
// where package federation checks the answer and this file finds the
// user: by a linked identity, by a verified email (when allowed), or by
// creating one (just-in-time).

// FederatedProvider is an upstream provider and what may happen at a
// first sign-in through it.
type FederatedProvider struct {
	*federation.Provider
	// JIT creates a stored user at the first sign-in of an upstream
	// account that is linked to nobody.
	JIT bool
	// LinkByVerifiedEmail links a first sign-in to the stored user with
	// the same email, when both the provider and Gatehouse have verified
	// it. Off by default: a provider that vouches for emails it does not
	// own would hand over that user's account.
	LinkByVerifiedEmail bool
}

const (
	federationCookie = "gatehouse_federation"
	federationPrefix = "/federation/"
)

func federationStartPath(name string) string    { return federationPrefix + name + "/start" }
func federationCallbackPath(name string) string { return federationPrefix + name + "/callback" }

// FederationCallbackURL is the redirect URI to register at the provider
// called name.
func (s *Server) FederationCallbackURL(name string) string {
	return s.endpoint(federationCallbackPath(name))
}

// federationFlow is the federation cookie's sealed value: the upstream
// flow and the sealed request to continue with.
type federationFlow struct {
	Flow federation.Flow `json:"f"`
	AR   string          `json:"ar"`
}

// checkFederation validates Config.Providers.
func checkFederation(cfg Config) error {
	seen := map[string]bool{}
	for _, p := range cfg.Providers {
		if p.Provider == nil {
			return errors.New("authserver: a provider is nil")
		}
		if seen[p.Name()] {
			return fmt.Errorf("authserver: provider %q is configured twice", p.Name())
		}
		seen[p.Name()] = true
		if p.JIT && cfg.Accounts == nil {
			return fmt.Errorf("authserver: provider %q: jit needs users kept in the store (Accounts)", p.Name())
		}
	}
	if len(cfg.Providers) > 0 {
		if _, ok := cfg.Store.(store.FederationStore); !ok {
			return errors.New("authserver: providers need a store that keeps linked identities")
		}
	}
	if cfg.PasswordLoginOff && len(cfg.Providers) == 0 {
		return errors.New("authserver: password sign-in is off and no provider is configured: nobody could sign in")
	}
	return nil
}

func (s *Server) provider(name string) *FederatedProvider {
	for i := range s.cfg.Providers {
		if s.cfg.Providers[i].Name() == name {
			return &s.cfg.Providers[i]
		}
	}
	return nil
}

// loginProviders are the login page's buttons for the sealed request ar.
func (s *Server) loginProviders(sealed string) []ui.LoginProvider {
	out := make([]ui.LoginProvider, 0, len(s.cfg.Providers))
	for _, p := range s.cfg.Providers {
		out = append(out, ui.LoginProvider{
			Name:    p.DisplayName(),
			URL:     s.prefix + federationStartPath(p.Name()) + "?" + url.Values{"ar": {sealed}}.Encode(),
			IconURL: p.IconURL(),
		})
	}
	return out
}

// handleFederationStart sends the browser to the provider. It changes
// nothing here but this browser's federation cookie, so it is a GET.
func (s *Server) handleFederationStart(p *FederatedProvider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, err := parseForm(w, r)
		if err != nil {
			s.renderFormError(w, r, err)
			return
		}
		sealed := form.Get("ar")
		ar, _, ok := s.openSignIn(r, sealed)
		if !ok {
			s.renderExpiredFlow(w, r)
			return
		}
		flow := federation.NewFlow(p.Name())
		value, err := s.requests.Encode(federationCookie, federationFlow{Flow: flow, AR: sealed})
		if err != nil {
			s.federationFailed(w, r, p, &federation.Error{Cause: federation.CauseBadConfigAtCall, Err: err})
			return
		}
		hints := federation.Hints{LoginHint: ar.LoginHint, MaxAge: ar.MaxAge}
		if ar.hasPrompt("login") {
			hints.Prompt = "login"
		}
		target, err := p.AuthCodeURL(r.Context(), s.FederationCallbackURL(p.Name()), flow, hints)
		if err != nil {
			s.federationFailed(w, r, p, err)
			return
		}
		http.SetCookie(w, s.cookies.Cookie(federationCookie, value, s.cfg.Lifetimes.AuthorizationFlow))
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}

// handleFederationCallback finishes a sign-in at the provider.
func (s *Server) handleFederationCallback(p *FederatedProvider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The cookie is single-use: whatever happens, this flow is over.
		http.SetCookie(w, s.cookies.Cookie(federationCookie, "", -1))
		var ff federationFlow
		c, err := r.Cookie(s.cookies.Name(federationCookie))
		if err != nil || s.requests.Decode(federationCookie, c.Value, &ff) != nil {
			s.federationFailed(w, r, p, &federation.Error{Cause: federation.CauseState, Err: errors.New("no sign-in was started in this browser, or it expired")})
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil || len(r.URL.RawQuery) > 8192 {
			s.federationFailed(w, r, p, &federation.Error{Cause: federation.CauseUpstreamError, Err: errors.New("malformed callback parameters")})
			return
		}
		for k, v := range q {
			if len(v) > 1 { // RFC 6749 §3.1: no repeated parameters
				s.federationFailed(w, r, p, &federation.Error{Cause: federation.CauseUpstreamError, Err: fmt.Errorf("parameter %q is repeated", k)})
				return
			}
		}
		up, err := p.Callback(r.Context(), s.FederationCallbackURL(p.Name()), ff.Flow, q)
		if err != nil {
			s.federationFailed(w, r, p, err)
			return
		}
		u, problem, err := s.federatedUser(r.Context(), p, up)
		if err != nil {
			s.renderFailure(w, r, err, "federated sign-in: finding the user failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
		if problem != "" {
			s.log.InfoContext(r.Context(), "federated sign-in refused", "provider", p.Name(), "cause", problem,
				"upstream_subject", up.Subject, "email", up.Email, "email_verified", up.EmailVerified)
			s.emitFrom(r, Event{Type: EventLogin, Result: "failure", Method: "federation:" + p.Name(), Username: up.Email})
			s.renderFederationProblem(w, r, p, problem, up)
			return
		}
		authTime := s.now()
		// The upstream's auth_time is kept when it is plausible: in the
		// past, and not older than the flow itself could have taken.
		if !up.AuthTime.IsZero() && !up.AuthTime.After(authTime) && authTime.Sub(up.AuthTime) <= 24*time.Hour {
			authTime = up.AuthTime
		}
		_, err = s.startSessionFrom(w, r, u, upstreamSignIn{IDP: p.Name(), AMR: up.AMR, AuthTime: authTime})
		if err != nil {
			s.renderFailure(w, r, err, "starting a session failed", ui.ProblemText("problem.sign_in_failed"))
			return
		}
		s.emitFrom(r, Event{Type: EventLogin, Result: "success", Method: "federation:" + p.Name(), Subject: u.ID, Username: u.Username})
		s.log.InfoContext(r.Context(), "federated sign-in succeeded", "provider", p.Name(), "sub", u.ID, "upstream_subject", up.Subject)
		// The browser came here by a redirect from the provider, often
		// after a form posted at the provider, whose CSP form-action then
		// governs every further redirect of this navigation (a provider
		// that allows only our origin would block the redirect to the
		// app). A page that moves on by itself starts a new navigation.
		next := s.prefix + federationContinuePath + "?" + url.Values{"ar": {ff.AR}}.Encode()
		page := ui.ContinuePage{Base: s.base(""), ContinueURL: next}
		page.Refresh = next
		if err := s.cfg.UI.Render(w, http.StatusOK, page); err != nil {
			s.log.ErrorContext(r.Context(), "rendering the continue page failed", "error", err)
		}
	}
}

const federationContinuePath = "/federation/continue"

// handleFederationContinue goes on with the sealed request after a sign-in
// at a provider, as /authorize would with the session that sign-in made.
func (s *Server) handleFederationContinue(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		s.renderFormError(w, r, err)
		return
	}
	ar, client, ok := s.openAuthRequest(r, form.Get("ar"))
	if !ok {
		if _, ok := s.openAccountLogin(form.Get("ar")); ok {
			// A sign-in without an app: the account pages, or the device
			// page it started from.
			http.Redirect(w, r, s.afterAccountLogin(form.Get("ar")), http.StatusSeeOther)
			return
		}
		s.renderExpiredFlow(w, r)
		return
	}
	s.proceed(w, r, ar, client, nil)
}

// federationFailed logs why an upstream sign-in failed, naming the cause,
// and shows a page that says what the user can do. Never a 500: the
// fault is upstream, or in the request.
func (s *Server) federationFailed(w http.ResponseWriter, r *http.Request, p *FederatedProvider, err error) {
	var fe *federation.Error
	if !errors.As(err, &fe) {
		fe = &federation.Error{Cause: federation.CauseUnreachable, Err: err}
	}
	s.log.WarnContext(r.Context(), "federated sign-in failed", "provider", p.Name(), "cause", string(fe.Cause), "error", fe.Err.Error())
	s.emitFrom(r, Event{Type: EventLogin, Result: "failure", Method: "federation:" + p.Name()})
	page := errorPage{status: http.StatusBadGateway, code: oautherr.CodeAccessDenied}
	switch fe.Cause {
	case federation.CauseDenied:
		page.status, page.problem = http.StatusForbidden, ui.ProblemText("problem.federation_denied", p.DisplayName())
	case federation.CauseState:
		page.status, page.problem = http.StatusBadRequest, ui.ProblemText("problem.federation_stale", p.DisplayName())
	case federation.CauseDomain:
		page.status, page.problem = http.StatusForbidden, ui.ProblemText("problem.federation_not_allowed", p.DisplayName())
	default:
		page.problem = ui.ProblemText("problem.federation_failed", p.DisplayName())
	}
	s.renderError(w, r, page)
}

func (s *Server) renderFederationProblem(w http.ResponseWriter, r *http.Request, p *FederatedProvider, problem string, up *federation.Identity) {
	page := errorPage{status: http.StatusForbidden, code: oautherr.CodeAccessDenied}
	switch problem {
	case "email_taken":
		page.problem = ui.ProblemText("problem.federation_email_taken", p.DisplayName(), p.DisplayName())
	case "disabled":
		page.problem = ui.ProblemText("problem.federation_disabled", p.DisplayName())
	default:
		page.problem = ui.ProblemText("problem.federation_no_account", p.DisplayName())
	}
	s.renderError(w, r, page)
}

// federatedUser finds the user an upstream identity signs in as. problem
// names why nobody may sign in ("no_account", "email_taken", "disabled");
// err means the store could not be asked.
func (s *Server) federatedUser(ctx context.Context, p *FederatedProvider, up *federation.Identity) (u *identity.User, problem string, err error) {
	fs := s.cfg.Store.(store.FederationStore) // checked by New
	now := s.now()
	link, err := fs.GetLinkedIdentity(ctx, p.Name(), up.Subject)
	switch {
	case err == nil:
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", err
	default:
		var problem string
		if link, problem, err = s.firstFederatedSignIn(ctx, fs, p, up, now); err != nil || problem != "" {
			return nil, problem, err
		}
	}
	if _, err := s.cfg.Users.UserByID(ctx, link.UserID); errors.Is(err, identity.ErrNotFound) {
		return nil, "disabled", nil // disabled users are not in the directory
	} else if err != nil {
		return nil, "", err
	}
	if err := fs.TouchLinkedIdentity(ctx, p.Name(), up.Subject, up.Email, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	if err := s.syncFederatedGroups(ctx, link.UserID, up); err != nil {
		return nil, "", err
	}
	// Read again: the groups may have just changed.
	u, err = s.cfg.Users.UserByID(ctx, link.UserID)
	return u, "", err
}

// firstFederatedSignIn links an upstream account seen for the first time:
// to the user with the same verified email (LinkByVerifiedEmail), or to a
// new user (JIT), or to nobody.
func (s *Server) firstFederatedSignIn(ctx context.Context, fs store.FederationStore, p *FederatedProvider, up *federation.Identity, now time.Time) (store.LinkedIdentity, string, error) {
	link := store.LinkedIdentity{Provider: p.Name(), UpstreamSubject: up.Subject, Email: up.Email, CreatedAt: now}
	var existing store.User
	var err error
	if up.Email != "" {
		existing, err = s.cfg.Store.GetUserByEmail(ctx, up.Email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return link, "", err
		}
	}
	var created string
	switch {
	case existing.ID != "" && p.LinkByVerifiedEmail && up.EmailVerified && existing.EmailVerified:
		// Both sides verified the address: the person who controls it
		// at the provider is the person who controls it here.
		link.UserID = existing.ID
	case existing.ID != "":
		return link, "email_taken", nil
	case p.JIT:
		u, err := s.createFederatedUser(ctx, p, up)
		var fe *accounts.FieldError
		if errors.As(err, &fe) && fe.Field == "email" {
			return link, "email_taken", nil
		} else if err != nil {
			return link, "", err
		}
		link.UserID, created = u.ID, u.ID
	default:
		return link, "no_account", nil
	}
	err = fs.LinkIdentity(ctx, link)
	if errors.Is(err, store.ErrAlreadyExists) {
		// A concurrent first sign-in of the same account linked it
		// first: use its link, and drop the user made for this one.
		if created != "" {
			if derr := s.cfg.Accounts.Delete(ctx, created); derr != nil {
				s.log.ErrorContext(ctx, "deleting a user made by a lost link race failed", "sub", created, "error", derr)
			}
		}
		link, err = fs.GetLinkedIdentity(ctx, p.Name(), up.Subject)
	}
	if err == nil {
		s.emit(ctx, Event{Type: EventUser, Result: "identity_linked", Subject: link.UserID, Kind: p.Name()})
		s.log.InfoContext(ctx, "linked an upstream identity", "event", "user.identity_linked", "provider", p.Name(),
			"sub", link.UserID, "upstream_subject", up.Subject, "created_user", created != "")
	}
	return link, "", err
}

// createFederatedUser makes the just-in-time user: a username from the
// upstream's (or the email's local part), made free with a suffix; the
// email only when the provider verified it (an unverified one would block
// its real owner's account here); no password.
func (s *Server) createFederatedUser(ctx context.Context, p *FederatedProvider, up *federation.Identity) (store.User, error) {
	in := accounts.NewUser{Name: truncateRunes(up.Name, 200), Groups: cleanGroups(up.Groups)}
	if up.EmailVerified {
		in.Email, in.EmailVerified = up.Email, true
	}
	base := usernameFrom(up.Username)
	if base == "" {
		local, _, _ := strings.Cut(up.Email, "@")
		base = usernameFrom(local)
	}
	if base == "" {
		base = p.Name() + "-user"
	}
	var lastErr error
	for i := range 8 {
		in.Username = base
		switch {
		case i > 0 && i < 4:
			in.Username = fmt.Sprintf("%s-%d", base, i+1)
		case i >= 4:
			in.Username = base + "-" + strings.ToLower(rand.Text()[:6])
		}
		u, err := s.cfg.Accounts.Create(ctx, in)
		var fe *accounts.FieldError
		if errors.As(err, &fe) && fe.Field == "username" {
			lastErr = err
			continue
		}
		return u, err
	}
	return store.User{}, lastErr
}

// syncFederatedGroups makes a stored user's groups the provider's, when
// the provider reported groups: the provider is the source of truth for
// users who sign in through it. Configured users are left alone.
func (s *Server) syncFederatedGroups(ctx context.Context, userID string, up *federation.Identity) error {
	if up.Groups == nil || s.cfg.Accounts == nil {
		return nil
	}
	groups := cleanGroups(up.Groups)
	u, err := s.cfg.Accounts.Get(ctx, userID)
	if errors.Is(err, accounts.ErrStatic) || errors.Is(err, accounts.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if slices.Equal(u.Groups, groups) {
		return nil
	}
	_, err = s.cfg.Accounts.Update(ctx, userID, accounts.Patch{Groups: &groups})
	var fe *accounts.FieldError
	if errors.As(err, &fe) {
		s.log.WarnContext(ctx, "the provider's groups were refused", "sub", userID, "error", err)
		return nil
	}
	return err
}

// cleanGroups keeps the group names a user may have: trimmed, non-empty,
// at most 100 characters, once each, at most 100 of them.
func cleanGroups(in []string) []string {
	out := []string{}
	for _, g := range in {
		g = strings.TrimSpace(g)
		if g == "" || len([]rune(g)) > 100 || slices.Contains(out, g) || strings.ContainsFunc(g, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			continue
		}
		if out = append(out, g); len(out) == 100 {
			break
		}
	}
	return out
}

// usernameFrom makes s a valid username (accounts: ASCII letters, digits,
// '.', '_', '-', starting with a letter or digit, at most 64), or "".
func usernameFrom(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
			b.WriteRune(r)
		case (r == '.' || r == '_' || r == '-') && b.Len() > 0:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > 50 { // room for a suffix
		out = out[:50]
	}
	return out
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// linkedIdentityViews are the account page's linked accounts; none
// without providers.
func (s *Server) linkedIdentityViews(ctx context.Context, subject string) ([]ui.IdentityView, error) {
	fs, ok := s.cfg.Store.(store.FederationStore)
	if !ok || len(s.cfg.Providers) == 0 {
		return nil, nil
	}
	links, err := fs.ListLinkedIdentities(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]ui.IdentityView, 0, len(links))
	for _, l := range links {
		name := l.Provider
		if p := s.provider(l.Provider); p != nil {
			name = p.DisplayName()
		}
		out = append(out, ui.IdentityView{Provider: name, Email: l.Email, LinkedAt: l.CreatedAt, LastUsedAt: l.LastLoginAt})
	}
	return out, nil
}

// sessionOrigin is what the issued tokens say of how the session's user
// signed in through a provider (issue.go): nil for Gatehouse's own sign-in.
func (s *Server) sessionOrigin(ctx context.Context, sessionIDHash string) *store.Session {
	if len(s.cfg.Providers) == 0 || sessionIDHash == "" {
		return nil
	}
	sess, err := s.cfg.Store.GetSession(ctx, sessionIDHash)
	if err != nil || sess.IDP == "" {
		return nil
	}
	return &sess
}
