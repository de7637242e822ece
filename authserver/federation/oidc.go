package federation

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcProvider is an OpenID Connect provider found by discovery.
type oidcProvider struct {
	cfg *Config

	mu       sync.Mutex
	provider *oidc.Provider // nil until discovery succeeds
	issParam bool           // authorization_response_iss_parameter_supported
	failedAt time.Time      // last failed discovery, to space retries
}

func newOIDC(cfg *Config) (*oidcProvider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("provider %s: issuer %q is not an absolute URL", cfg.Name, cfg.Issuer)
	}
	if u.Scheme != "https" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("provider %s: issuer %q must use https", cfg.Name, cfg.Issuer)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	} else if !containsString(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.ClientSecret == "" {
		return nil, fmt.Errorf("provider %s: client_secret is required", cfg.Name)
	}
	m := &cfg.Claims
	for _, f := range []struct {
		v   *string
		def string
	}{{&m.Username, "preferred_username"}, {&m.Email, "email"}, {&m.Name, "name"}, {&m.Groups, "groups"}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	return &oidcProvider{cfg: cfg}, nil
}

// discoveryRetry spaces discovery attempts after a failure, so a provider
// that is down is not asked on every click of its button.
const discoveryRetry = 5 * time.Second

// discover returns the provider's metadata, fetching it on first use.
func (o *oidcProvider) discover() (*oidc.Provider, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.issParam, nil
	}
	if !o.failedAt.IsZero() && time.Since(o.failedAt) < discoveryRetry {
		return nil, false, fail(CauseUnreachable, "discovery at %s failed moments ago", o.cfg.Issuer)
	}
	// The context outlives this call: go-oidc fetches the provider's keys
	// with it later, as keys rotate. The client's timeout bounds each
	// request.
	ctx := oidc.ClientContext(context.Background(), o.cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		o.failedAt = time.Now()
		if strings.Contains(err.Error(), "issuer did not match") {
			return nil, false, fail(CauseBadConfigAtCall, "discovery: %v", err)
		}
		return nil, false, fail(CauseUnreachable, "discovery: %v", err)
	}
	var meta struct {
		IssParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, false, fail(CauseBadConfigAtCall, "discovery document: %v", err)
	}
	o.provider, o.issParam = p, meta.IssParam
	return p, meta.IssParam, nil
}

func (o *oidcProvider) oauth2Config(p *oidc.Provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     o.cfg.ClientID,
		ClientSecret: o.cfg.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  redirectURI,
		Scopes:       o.cfg.Scopes,
	}
}

func (o *oidcProvider) authCodeURL(_ context.Context, redirectURI string, f Flow, h Hints) (string, error) {
	p, _, err := o.discover()
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)}
	if h.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", h.LoginHint))
	}
	if h.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", h.Prompt))
	}
	if h.MaxAge >= 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", fmt.Sprint(h.MaxAge)))
	}
	return o.oauth2Config(p, redirectURI).AuthCodeURL(f.State, opts...), nil
}

func (o *oidcProvider) callback(ctx context.Context, redirectURI string, f Flow, q url.Values) (*Identity, error) {
	p, issParam, err := o.discover()
	if err != nil {
		return nil, err
	}
	// RFC 9207 §2.4: a provider that says it sends iss must send its own;
	// one that does not may still send it, and then it must match too.
	// An answer from another provider (mix-up, RFC 9700 §4.4) stops here,
	// before its code is sent anywhere.
	if iss, ok := q["iss"]; ok || issParam {
		if !ok || len(iss) != 1 || iss[0] != o.cfg.Issuer {
			return nil, fail(CauseIssuer, "the callback's iss %q is not the provider's issuer", q.Get("iss"))
		}
	}
	if err := errorResponse(q); err != nil {
		return nil, err
	}
	code := q.Get("code")
	if code == "" || len(code) > 2048 {
		return nil, fail(CauseUpstreamError, "the callback carries no usable code")
	}
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oauth2Config(p, redirectURI).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fail(CauseIDToken, "the token response has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, idTokenError(err)
	}
	// OIDC Core §3.1.3.7 step 11: the nonce ties the ID token to this
	// browser's request (replay of another sign-in's token).
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return nil, fail(CauseIDToken, "the ID token's nonce is not this sign-in's")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fail(CauseIDToken, "at_hash: %v", err)
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fail(CauseIDToken, "claims: %v", err)
	}
	if err := o.addUserInfo(ctx, p, tok, idt.Subject, claims); err != nil {
		return nil, err
	}
	return o.identity(idt.Subject, claims), nil
}

// addUserInfo fills the profile claims the ID token lacks from the
// provider's UserInfo endpoint. OIDC Core §5.4: when an access token is
// issued, a provider may return the profile and email scopes' claims
// from UserInfo only (the zitadel/oidc OP does). The ID token's claims
// win; UserInfo adds only the mapped profile claims (never amr or
// auth_time, which describe the sign-in), and email_verified only with
// its email. It is asked only when a mapped claim is missing and the
// provider has the endpoint; a UserInfo answer for another subject is
// refused (§5.3.2: it may have been substituted).
func (o *oidcProvider) addUserInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, sub string, claims map[string]any) error {
	m := o.cfg.Claims
	missing := false
	for _, name := range []string{m.Username, m.Email, m.Name} {
		if _, ok := claims[name]; !ok {
			missing = true
		}
	}
	if !missing || p.UserInfoEndpoint() == "" || tok.AccessToken == "" {
		return nil
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fail(CauseProfile, "userinfo: %v", err)
	}
	if ui.Subject != sub {
		return fail(CauseProfile, "the UserInfo answer is for subject %q, not the ID token's", ui.Subject)
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return fail(CauseProfile, "userinfo claims: %v", err)
	}
	for _, name := range []string{m.Username, m.Email, m.Name, m.Groups} {
		v, ok := extra[name]
		if _, have := claims[name]; have || !ok {
			continue
		}
		claims[name] = v
		if name == m.Email && m.Email == "email" {
			if ev, ok := extra["email_verified"]; ok {
				claims["email_verified"] = ev
			} else {
				delete(claims, "email_verified")
			}
		}
	}
	return nil
}

// idTokenError classifies go-oidc's verification errors. go-oidc exports
// a type only for expiry; its signature failures share one message prefix.
func idTokenError(err error) error {
	var exp *oidc.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		return fail(CauseClockSkew, "the ID token expired at %s (a stale token, or the clocks are apart)", exp.Expiry.UTC().Format(time.RFC3339))
	case strings.Contains(err.Error(), "before the nbf"):
		return fail(CauseClockSkew, "%v", err)
	case strings.HasPrefix(err.Error(), "failed to verify signature"):
		return fail(CauseSignature, "%v", err)
	}
	return fail(CauseIDToken, "%v", err)
}

// identity maps the ID token's claims (Config.Claims).
func (o *oidcProvider) identity(subject string, c map[string]any) *Identity {
	m := o.cfg.Claims
	id := &Identity{
		Subject:  subject,
		Username: stringClaim(c, m.Username),
		Email:    stringClaim(c, m.Email),
		Name:     stringClaim(c, m.Name),
		Groups:   listClaim(c, m.Groups),
		AMR:      filterAMR(listClaim(c, "amr")),
	}
	// email_verified is a boolean (OIDC Core §5.1); some providers send
	// the string "true". Only the standard email claim has it.
	if m.Email == "email" {
		switch v := c["email_verified"].(type) {
		case bool:
			id.EmailVerified = v
		case string:
			id.EmailVerified = v == "true"
		}
	}
	if at, ok := c["auth_time"].(float64); ok && at > 0 {
		id.AuthTime = time.Unix(int64(at), 0).UTC()
	}
	return id
}

func stringClaim(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}

// listClaim reads a claim that is a list of strings, or one string.
func listClaim(c map[string]any, name string) []string {
	switch v := c[name].(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
