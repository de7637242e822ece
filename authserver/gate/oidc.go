package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// OIDCProvider is any OpenID Connect provider found by discovery (OIDC
// Discovery 1.0 §4): Google, Keycloak, Dex, another Gatehouse.
// Discovery happens on first use and is retried until it succeeds, so a
// provider that is briefly down does not stop Caddy from starting.
type OIDCProvider struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// HTTPClient talks to the provider; http.DefaultClient if nil.
	HTTPClient *http.Client

	now  func() time.Time // the gate's clock
	mu   sync.Mutex
	meta *providerMetadata
	keys *token.RemoteKeySet
	last time.Time
}

func (p *OIDCProvider) useClock(now func() time.Time) { p.now = now }

type providerMetadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	SendsIssuer           bool   `json:"authorization_response_iss_parameter_supported"`
}

func (p *OIDCProvider) client() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	return http.DefaultClient
}

// discover fetches the provider's metadata once.
func (p *OIDCProvider) discover(ctx context.Context) (*providerMetadata, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.meta != nil {
		return p.meta, nil
	}
	now := p.now()
	if !p.last.IsZero() && now.Sub(p.last) < 5*time.Second {
		return nil, errors.New("the identity provider's discovery document is not available yet")
	}
	p.last = now
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wellKnown := strings.TrimSuffix(p.IssuerURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s answered %s", wellKnown, resp.Status)
	}
	var m providerMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	// OIDC Discovery §4.3: the issuer in the document must be the one
	// we asked, or an attacker-controlled document could redirect us.
	if m.Issuer != p.IssuerURL {
		return nil, fmt.Errorf("discovery: issuer %q does not match the configured %q", m.Issuer, p.IssuerURL)
	}
	if m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" || m.JWKSURI == "" {
		return nil, errors.New("discovery: authorization_endpoint, token_endpoint and jwks_uri are required")
	}
	p.meta = &m
	p.keys = &token.RemoteKeySet{URL: m.JWKSURI, Client: p.client(), Now: p.now}
	return p.meta, nil
}

// Issuer implements Provider.
func (p *OIDCProvider) Issuer(context.Context) (string, error) { return p.IssuerURL, nil }

// SendsIssuer implements Provider, from the discovery document. The
// callback only comes after a login this provider started, so discovery
// has normally succeeded; if it has not, the answer is "yes", which
// refuses a response without iss rather than accept one unchecked.
func (p *OIDCProvider) SendsIssuer(ctx context.Context) bool {
	m, err := p.discover(ctx)
	return err != nil || m.SendsIssuer
}

// Keys implements Provider.
func (p *OIDCProvider) Keys() token.KeySource { return lazyKeys{p} }

type lazyKeys struct{ p *OIDCProvider }

func (k lazyKeys) VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	if _, err := k.p.discover(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", token.ErrUnknownKey, err)
	}
	return k.p.keys.VerificationKeys(ctx, kid)
}

// AuthCodeURL implements Provider.
func (p *OIDCProvider) AuthCodeURL(ctx context.Context, r AuthRequest) (string, error) {
	m, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return authorizeURL(m.AuthorizationEndpoint, p.ClientID, r)
}

// Exchange implements Provider.
func (p *OIDCProvider) Exchange(ctx context.Context, r AuthRequest, code string) (*Login, error) {
	m, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	cfg := oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: m.AuthorizationEndpoint, TokenURL: m.TokenEndpoint},
		RedirectURL:  r.RedirectURI,
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client())
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(r.Verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := verifyIDToken(ctx, p.Keys(), p.IssuerURL, p.ClientID, rawID, r.Nonce, p.now)
	if err != nil {
		return nil, err
	}
	id := identityFromIDToken(idt)
	// Providers that keep profile claims out of the ID token serve them
	// at userinfo (OIDC Core §5.4); its sub must match (§5.3.2).
	if id.Email == "" && m.UserinfoEndpoint != "" {
		if err := p.fillFromUserinfo(ctx, m.UserinfoEndpoint, tok.AccessToken, &id); err != nil {
			return nil, err
		}
	}
	return &Login{Identity: id, AuthTime: int64(idt.AuthTime)}, nil
}

func (p *OIDCProvider) fillFromUserinfo(ctx context.Context, endpoint, accessToken string, id *Identity) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := p.client().Do(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("userinfo answered %s", resp.Status)
	}
	var c token.IDTokenClaims
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if c.Subject != id.Subject {
		return errors.New("userinfo: sub does not match the ID token")
	}
	u := identityFromIDToken(&c)
	id.Email, id.EmailVerified = u.Email, u.EmailVerified
	if id.Name == "" {
		id.Name = u.Name
	}
	if id.Username == "" {
		id.Username = u.Username
	}
	if len(id.Groups) == 0 {
		id.Groups = u.Groups
	}
	return nil
}

// EndSession implements Provider. An external provider's session is its
// own business; the gate only ends its cookie.
func (p *OIDCProvider) EndSession(context.Context, Login) error { return nil }
