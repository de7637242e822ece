package federation

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Type is the kind of upstream provider.
type Type string

const (
	TypeOIDC   Type = "oidc"
	TypeGitHub Type = "github"
)

// ClaimMapping names the upstream claims that give a user's fields.
// Empty fields take the OIDC standard claim (preferred_username, email,
// name) and "groups".
type ClaimMapping struct {
	Username string
	Email    string
	Name     string
	Groups   string
}

// Config describes one upstream provider.
type Config struct {
	// Name identifies the provider in URLs, the idp claim and the store:
	// 1 to 32 lower-case letters, digits, '-' or '_'. Never rename a
	// provider whose identities are linked: the links name it.
	Name        string
	Type        Type
	DisplayName string // the login button's words; the name if empty
	IconURL     string // an https image for the login button
	// Issuer is the OpenID provider's issuer (type oidc), discovered at
	// Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes asked for; openid, email and profile for oidc, read:user and
	// user:email for github (read:org added with Orgs) when empty.
	Scopes []string
	Claims ClaimMapping
	// AllowedDomains, when set, admits only identities whose verified
	// email is at one of these domains.
	AllowedDomains []string
	// GitHubURL and GitHubAPIURL are GitHub's web and API bases:
	// https://github.com and https://api.github.com unless set (GitHub
	// Enterprise Server, tests).
	GitHubURL    string
	GitHubAPIURL string
	// GitHubOrgGroups maps organization and team membership to groups
	// ("org" and "org/team").
	GitHubOrgGroups bool
	// HTTPClient talks to the provider; one with a 10 s timeout if nil.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against; time.Now if nil.
	Now func() time.Time
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Flow is what the browser keeps (sealed, in a cookie) between the
// redirect to the provider and the callback.
type Flow struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v"`
}

// NewFlow returns a flow with fresh random state, nonce and PKCE verifier.
func NewFlow(provider string) Flow {
	return Flow{Provider: provider, State: rand.Text() + rand.Text(), Nonce: rand.Text() + rand.Text(), Verifier: oauth2.GenerateVerifier()}
}

// Hints pass the relying party's hints on to the provider.
type Hints struct {
	LoginHint string // OIDC Core §3.1.2.1 login_hint
	Prompt    string // "login" when the relying party asked for a fresh sign-in
	MaxAge    int64  // seconds; negative when absent
}

// Identity is who the provider says signed in.
type Identity struct {
	Provider      string
	Subject       string // the provider's stable id for the account
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// AMR are the RFC 8176 methods the provider reported (others dropped).
	AMR []string
	// AuthTime is when the user authenticated at the provider; zero when
	// it did not say.
	AuthTime time.Time
}

// Error is a failed upstream sign-in. Cause is stable, for logs and
// metrics; Err the detail.
type Error struct {
	Cause Cause
	Err   error
}

// Cause names why an upstream sign-in failed.
type Cause string

const (
	CauseUnreachable     Cause = "provider_unreachable"   // discovery or a request failed to connect or answered badly
	CauseDenied          Cause = "access_denied"          // the user (or provider) declined
	CauseUpstreamError   Cause = "provider_error"         // another error response at the callback
	CauseState           Cause = "state_mismatch"         // no flow in this browser, or another one's
	CauseIssuer          Cause = "issuer_mismatch"        // RFC 9207 iss missing or wrong (mix-up)
	CauseTokenExchange   Cause = "token_exchange_failed"  // the token endpoint refused the code or our credentials
	CauseIDToken         Cause = "id_token_invalid"       // missing, malformed, wrong issuer or audience, bad nonce
	CauseSignature       Cause = "id_token_signature"     // not signed by a key the provider publishes
	CauseClockSkew       Cause = "id_token_expired"       // expired or not yet valid: a stale token or clocks apart
	CauseProfile         Cause = "profile_unavailable"    // the user API (GitHub) failed
	CauseDomain          Cause = "domain_not_allowed"     // email outside allowed_domains, or unverified
	CauseMissingSubject  Cause = "subject_missing"        // no stable id for the account
	CauseBadConfigAtCall Cause = "provider_misconfigured" // the provider's metadata lacks what we need
)

func (e *Error) Error() string { return string(e.Cause) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(c Cause, format string, args ...any) *Error {
	return &Error{Cause: c, Err: fmt.Errorf(format, args...)}
}

// Provider is one configured upstream identity provider.
type Provider struct {
	cfg  Config
	impl interface {
		authCodeURL(ctx context.Context, redirectURI string, f Flow, h Hints) (string, error)
		callback(ctx context.Context, redirectURI string, f Flow, q url.Values) (*Identity, error)
	}
}

// New checks cfg. It does not contact the provider: discovery happens on
// first use and is retried while it fails, so a provider that is down
// when Caddy starts does not keep Gatehouse from starting.
func New(cfg Config) (*Provider, error) {
	if !namePattern.MatchString(cfg.Name) {
		return nil, fmt.Errorf("provider name %q: want 1 to 32 lower-case letters, digits, '-' or '_'", cfg.Name)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("provider %s: client_id is required", cfg.Name)
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = cfg.Name
	}
	if cfg.IconURL != "" {
		if u, err := url.Parse(cfg.IconURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("provider %s: icon must be an https URL", cfg.Name)
		}
	}
	for i, d := range cfg.AllowedDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return nil, fmt.Errorf("provider %s: allowed domain %q is not a domain name", cfg.Name, cfg.AllowedDomains[i])
		}
		cfg.AllowedDomains[i] = d
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg}
	switch cfg.Type {
	case TypeOIDC:
		o, err := newOIDC(&p.cfg)
		if err != nil {
			return nil, err
		}
		p.impl = o
	case TypeGitHub:
		g, err := newGitHub(&p.cfg)
		if err != nil {
			return nil, err
		}
		p.impl = g
	default:
		return nil, fmt.Errorf("provider %s: type must be oidc or github, not %q", cfg.Name, cfg.Type)
	}
	return p, nil
}

// Name is the provider's configured name.
func (p *Provider) Name() string { return p.cfg.Name }

// DisplayName is the login button's words.
func (p *Provider) DisplayName() string { return p.cfg.DisplayName }

// IconURL is the login button's icon, or "".
func (p *Provider) IconURL() string { return p.cfg.IconURL }

// AuthCodeURL is where the browser goes to sign in at the provider, with
// f's state, nonce and PKCE challenge (RFC 7636 §4.3, S256).
func (p *Provider) AuthCodeURL(ctx context.Context, redirectURI string, f Flow, h Hints) (string, error) {
	return p.impl.authCodeURL(ctx, redirectURI, f, h)
}

// Callback checks the provider's answer q at the redirect URI against the
// browser's flow f and returns who signed in, or an *Error.
func (p *Provider) Callback(ctx context.Context, redirectURI string, f Flow, q url.Values) (*Identity, error) {
	// RFC 6749 §10.12: the state binds the answer to this browser's
	// request; without it an attacker's code could sign the victim in as
	// the attacker (login CSRF).
	if f.Provider != p.cfg.Name || f.State == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, fail(CauseState, "the callback's state does not match this browser's sign-in")
	}
	id, err := p.impl.callback(ctx, redirectURI, f, q)
	if err != nil {
		return nil, err
	}
	id.Provider = p.cfg.Name
	if id.Subject == "" {
		return nil, fail(CauseMissingSubject, "the provider named no subject")
	}
	if err := p.checkDomain(id); err != nil {
		return nil, err
	}
	return id, nil
}

// errorResponse turns an error response at the callback (RFC 6749
// §4.1.2.1) into an Error; nil when q has no error.
func errorResponse(q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	desc := q.Get("error_description")
	if len(desc) > 200 {
		desc = desc[:200]
	}
	if code == "access_denied" {
		return fail(CauseDenied, "the provider answered access_denied: %q", desc)
	}
	if len(code) > 64 {
		code = code[:64]
	}
	return fail(CauseUpstreamError, "the provider answered %q: %q", code, desc)
}

func (p *Provider) checkDomain(id *Identity) error {
	if len(p.cfg.AllowedDomains) == 0 {
		return nil
	}
	_, domain, ok := strings.Cut(id.Email, "@")
	if !ok || !id.EmailVerified || !slices.Contains(p.cfg.AllowedDomains, strings.ToLower(domain)) {
		return fail(CauseDomain, "email %q (verified: %v) is not at an allowed domain", id.Email, id.EmailVerified)
	}
	return nil
}

// exchangeError classifies a failed code exchange: the token endpoint's
// error response, or a transport failure.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = re.Response.Status
		}
		return fail(CauseTokenExchange, "the token endpoint refused: %s", code)
	}
	return fail(CauseUnreachable, "the token request failed: %v", err)
}

// rfc8176 are the registered authentication method references (RFC 8176
// §2); other values are not passed on.
var rfc8176 = []string{"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// filterAMR keeps the RFC 8176 values of amr, once each.
func filterAMR(amr []string) []string {
	var out []string
	for _, v := range amr {
		if slices.Contains(rfc8176, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
