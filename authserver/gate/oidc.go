package gate

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// OIDCProvider is any OpenID Connect provider found by discovery (OIDC
// Discovery 1.0 §4): Google, Keycloak, Dex, another Gatehouse.
// Discovery happens on first use and is retried until it succeeds, at
// most once per discoveryRetry, so a provider that is down when Caddy
// starts does not stop Caddy from starting, and a provider that stays
// down is not asked on every request.
type OIDCProvider struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// HTTPClient talks to the provider; http.DefaultClient if nil.
	HTTPClient *http.Client

	now     func() time.Time // the gate's clock
	mu      sync.Mutex
	found   *discovered // nil until discovery succeeds
	lastTry time.Time
}

func (p *OIDCProvider) useClock(now func() time.Time) { p.now = now }

// discovered is what discovery found, built once.
type discovered struct {
	provider *oidc.Provider
	endpoint oauth2.Endpoint
	meta     extraMetadata
	idTokens *oidc.IDTokenVerifier
	// accessKeys verify Bearer access tokens; see Keys for why they are
	// not go-oidc's key set.
	accessKeys *token.RemoteKeySet
}

// extraMetadata are the discovery fields go-oidc does not expose.
type extraMetadata struct {
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	// RFC 9207 §3: the provider's authorization responses carry iss.
	SendsIssuer bool `json:"authorization_response_iss_parameter_supported"`
	// ScopesSupported tells whether offline_access is (offline.go).
	ScopesSupported []string `json:"scopes_supported"`
}

const (
	// discoveryRetry is the least time between two discovery attempts.
	discoveryRetry = 5 * time.Second
	// discoveryTimeout bounds one attempt.
	discoveryTimeout = 10 * time.Second
)

// idTokenAlgs are the ID token signature algorithms accepted: asymmetric
// only, so no secret shared with the provider can sign (RFC 8725 §3.1).
var idTokenAlgs = []string{oidc.RS256, oidc.ES256, oidc.PS256, oidc.EdDSA}

func (p *OIDCProvider) client() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	return http.DefaultClient
}

// discover returns what discovery found, trying it if it has not
// succeeded yet and the last attempt is old enough.
func (p *OIDCProvider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.found != nil {
		return p.found, nil
	}
	now := p.now()
	if !p.lastTry.IsZero() && now.Sub(p.lastTry) < discoveryRetry {
		return nil, errors.New("the identity provider's discovery document is not available yet")
	}
	p.lastTry = now
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	// go-oidc refuses a document whose issuer is not the one asked for
	// (OIDC Discovery §4.3), or an attacker-controlled document could
	// redirect us; the provider keeps the client for its key set.
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client()), p.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var meta extraMetadata
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	endpoint := provider.Endpoint()
	for _, u := range []string{endpoint.AuthURL, endpoint.TokenURL, meta.JWKSURI} {
		if parsed, err := url.Parse(u); u == "" || err != nil || !parsed.IsAbs() {
			return nil, errors.New("discovery: authorization_endpoint, token_endpoint and jwks_uri must be absolute URLs")
		}
	}
	p.found = &discovered{
		provider: provider,
		endpoint: endpoint,
		meta:     meta,
		idTokens: provider.Verifier(&oidc.Config{
			ClientID:             p.ClientID,
			SupportedSigningAlgs: idTokenAlgs,
			Now:                  p.now,
		}),
		accessKeys: &token.RemoteKeySet{URL: meta.JWKSURI, Client: p.client(), Now: p.now},
	}
	return p.found, nil
}

func (p *OIDCProvider) oauth2Config(d *discovered, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     d.endpoint,
		RedirectURL:  redirectURI,
	}
}

// Issuer implements Provider.
func (p *OIDCProvider) Issuer(context.Context) (string, error) { return p.IssuerURL, nil }

// SendsIssuer implements Provider, from the discovery document. The
// callback only comes after a login this provider started, so discovery
// has normally succeeded; if it has not, the answer is "yes", which
// refuses a response without iss rather than accept one unchecked.
func (p *OIDCProvider) SendsIssuer(ctx context.Context) bool {
	d, err := p.discover(ctx)
	return err != nil || d.meta.SendsIssuer
}

// Keys implements Provider: the provider's JWKS, for Bearer access
// tokens, which the gate verifies with token.Verifier rather than
// go-oidc's ID token verifier: go-oidc cannot require the at+jwt typ
// header (RFC 9068 §4, which keeps an ID token from passing as an access
// token), and its key set refetches the JWKS for every unknown kid,
// which on this unauthenticated path would let anyone make the gate hammer
// the provider; token.RemoteKeySet refetches at most once per MinRefresh.
func (p *OIDCProvider) Keys() token.KeySource { return lazyKeys{p} }

type lazyKeys struct{ p *OIDCProvider }

func (k lazyKeys) VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	d, err := k.p.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", token.ErrUnknownKey, err)
	}
	return d.accessKeys.VerificationKeys(ctx, kid)
}

// AuthCodeURL implements Provider.
func (p *OIDCProvider) AuthCodeURL(ctx context.Context, r AuthRequest) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return authorizeURL(d.endpoint.AuthURL, p.ClientID, r)
}

// Exchange implements Provider: it redeems the code with the PKCE
// verifier (RFC 7636 §4.5) and validates the ID token (OIDC Core
// §3.1.3.7).
func (p *OIDCProvider) Exchange(ctx context.Context, r AuthRequest, code string) (*Login, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	ctx = oidc.ClientContext(ctx, p.client())
	tok, err := p.oauth2Config(d, r.RedirectURI).Exchange(ctx, code, oauth2.VerifierOption(r.Verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	// Signature with an allowed algorithm, iss, aud containing our
	// client id, expiry: steps 1-3 and 6-9.
	idt, err := d.idTokens.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	var c token.IDTokenClaims
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	// Step 4-5: with several audiences, azp must be us (go-oidc only
	// checks that aud contains us).
	if len(c.Audience) > 1 && c.AuthorizedParty != p.ClientID {
		return nil, errors.New("id_token: azp is not this client")
	}
	// Step 11: the nonce we sent, which go-oidc leaves to its caller.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(r.Nonce)) != 1 {
		return nil, errors.New("id_token: nonce does not match the login")
	}
	if idt.Subject == "" {
		return nil, errors.New("id_token: no sub")
	}
	id := identityFromClaims(&c)
	// Providers that keep profile claims out of the ID token serve them
	// at userinfo (OIDC Core §5.4).
	if id.Email == "" && d.provider.UserInfoEndpoint() != "" {
		if err := fillFromUserinfo(ctx, d.provider, tok, &id); err != nil {
			return nil, err
		}
	}
	return &Login{Identity: id, AuthTime: int64(c.AuthTime)}, nil
}

// fillFromUserinfo adds what the userinfo endpoint says to id.
func fillFromUserinfo(ctx context.Context, provider *oidc.Provider, tok *oauth2.Token, id *Identity) error {
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	// OIDC Core §5.3.2: the response's sub must be the ID token's, or it
	// may be about someone else and must not be used.
	if info.Subject != id.Subject {
		return errors.New("userinfo: sub does not match the ID token")
	}
	var c struct {
		Name              string   `json:"name"`
		PreferredUsername string   `json:"preferred_username"`
		Groups            []string `json:"groups"`
	}
	if err := info.Claims(&c); err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	// go-oidc reads email_verified leniently (also as a string "true").
	id.Email, id.EmailVerified = info.Email, info.EmailVerified
	if id.Name == "" {
		id.Name = c.Name
	}
	if id.Username == "" {
		id.Username = c.PreferredUsername
	}
	if len(id.Groups) == 0 {
		id.Groups = c.Groups
	}
	return nil
}

// identityFromClaims is the identity an ID token's claims describe.
func identityFromClaims(c *token.IDTokenClaims) Identity {
	id := Identity{
		Subject:  c.Subject,
		Username: c.PreferredUsername,
		Email:    c.Email,
		Name:     c.Name,
		Groups:   c.Groups,
		Issuer:   c.Issuer,
		Source:   SourceSession,
		IDP:      c.IDP,
		ACR:      c.ACR,
		AMR:      c.AMR,
		AuthTime: int64(c.AuthTime),
	}
	if c.EmailVerified != nil {
		id.EmailVerified = *c.EmailVerified
	}
	return id
}

// EndSession implements Provider. An external provider's session is its
// own business; the gate only ends its cookie.
func (p *OIDCProvider) EndSession(context.Context, Login) error { return nil }
