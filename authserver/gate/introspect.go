package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// Introspector checks a token at the provider's introspection endpoint
// (RFC 7662), for opaque tokens that cannot be verified locally.
type Introspector interface {
	Introspect(ctx context.Context, raw string) (*Introspection, error)
}

// Introspection is the part of an RFC 7662 §2.2 response the gate uses.
type Introspection struct {
	Active    bool           `json:"active"`
	Scope     string         `json:"scope"`
	ClientID  string         `json:"client_id"`
	Username  string         `json:"username"`
	TokenType string         `json:"token_type"`
	Expiry    int64          `json:"exp"`
	NotBefore int64          `json:"nbf"`
	Subject   string         `json:"sub"`
	Audience  token.Audience `json:"aud"`
	Issuer    string         `json:"iss"`
	// RFC 9470 §6.1: how the user authenticated.
	AuthTime int64    `json:"auth_time"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
}

// errInactive is an introspected token the provider says is not active.
var errInactive = errors.New("the provider says the token is not active")

// introspectionCacheTTL bounds how long an introspection answer is reused:
// a revocation at an external provider is seen within this time.
const introspectionCacheTTL = 30 * time.Second

// negativeIntrospectionTTL is how long an inactive answer is reused.
const negativeIntrospectionTTL = 10 * time.Second

// introspect validates raw at the provider and turns the answer into an
// identity, checking what the provider leaves to the resource server:
// the audience (RFC 7662 §4) and the validity period.
func (g *Gate) introspect(ctx context.Context, in Introspector, raw, resource string) (*Identity, time.Time, error) {
	res, err := in.Introspect(ctx, raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := g.now()
	switch {
	case !res.Active:
		return nil, time.Time{}, errInactive
	case res.Expiry != 0 && now.Unix() >= res.Expiry:
		return nil, time.Time{}, token.ErrExpired
	case res.NotBefore != 0 && now.Unix() < res.NotBefore:
		return nil, time.Time{}, token.ErrNotYetValid
	case len(res.Audience) > 0 && !audienceIncludes(res.Audience, resource):
		return nil, time.Time{}, token.ErrInvalidAudience
	case res.TokenType != "" && !strings.EqualFold(res.TokenType, "access_token") && !strings.EqualFold(res.TokenType, "Bearer"):
		return nil, time.Time{}, fmt.Errorf("%w: introspected token is a %q, not an access token", token.ErrInvalidType, res.TokenType)
	case res.Subject == "":
		return nil, time.Time{}, fmt.Errorf("%w: introspected token has no subject", token.ErrMalformed)
	}
	expires := now.Add(introspectionCacheTTL)
	if res.Expiry != 0 && time.Unix(res.Expiry, 0).Before(expires) {
		expires = time.Unix(res.Expiry, 0)
	}
	id := &Identity{
		Subject:  res.Subject,
		Username: res.Username,
		Scopes:   strings.Fields(res.Scope),
		ClientID: res.ClientID,
		Issuer:   res.Issuer,
		// RFC 9068 §2.2: a client's own token names the client as sub
		// (client_credentials); it has no user.
		Source:   bearerSource(res.Subject == res.ClientID && res.Username == ""),
		ACR:      res.ACR,
		AMR:      res.AMR,
		AuthTime: res.AuthTime,
	}
	return id, expires, nil
}

// Introspect implements Introspector for an external provider, using the
// introspection_endpoint from discovery and the gate's client credentials
// (client_secret_basic, RFC 7662 §2.1).
func (p *OIDCProvider) Introspect(ctx context.Context, raw string) (*Introspection, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := d.meta.IntrospectionEndpoint
	if endpoint == "" {
		return nil, errors.New("the provider advertises no introspection_endpoint")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspection endpoint answered %s", resp.Status)
	}
	var res Introspection
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("introspection response: %w", err)
	}
	return &res, nil
}
