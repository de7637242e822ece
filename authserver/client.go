package authserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ClientType is one of the four Connected App types.
type ClientType string

const (
	// FirstParty: confidential, trusted, consent skipped.
	FirstParty ClientType = "first_party"
	// FirstPartyPublic: no secret, PKCE S256 required, consent skipped.
	FirstPartyPublic ClientType = "first_party_public"
	// ThirdParty: confidential, consent required.
	ThirdParty ClientType = "third_party"
	// ThirdPartyPublic: no secret, PKCE S256 required, consent required.
	ThirdPartyPublic ClientType = "third_party_public"
)

// Valid reports whether t is one of the four types.
func (t ClientType) Valid() bool {
	switch t {
	case FirstParty, FirstPartyPublic, ThirdParty, ThirdPartyPublic:
		return true
	}
	return false
}

// Public reports whether clients of this type hold no secret (RFC 6749
// §2.1) and therefore must use PKCE with S256.
func (t ClientType) Public() bool { return t == FirstPartyPublic || t == ThirdPartyPublic }

// Trusted reports whether the type is first-party, which skips consent.
func (t ClientType) Trusted() bool { return t == FirstParty || t == FirstPartyPublic }

// Client is a registered Connected App.
type Client struct {
	ID          string
	Name        string
	Description string
	Type        ClientType
	// SecretHashes are argon2id PHC strings or "sha256:<hex>" digests of
	// the client's secrets; several are accepted during rotation.
	SecretHashes []string
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser afterwards (OIDC RP-Initiated Logout 1.0 §3.1), matched
	// exactly like redirect URIs.
	PostLogoutRedirectURIs []string
	// BypassConsentForOfflineAccess lets a first-party client obtain
	// offline_access without the consent page, as in Stytch Connected
	// Apps. First-party types only; see needsConsent.
	BypassConsentForOfflineAccess bool
	// Scopes the client may request. Empty means every supported scope.
	Scopes    []string
	LogoURI   string
	ClientURI string
	PolicyURI string
	TOSURI    string
	// GrantTypes the client may use; empty means authorization_code and
	// refresh_token.
	GrantTypes []string
	// IDTokenSigningAlg overrides the ID token algorithm (default RS256).
	IDTokenSigningAlg string
	// AccessTokenLifetime and RefreshTokenLifetime override the server's
	// defaults when non-zero.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// BackchannelLogoutURI receives a logout token when a session in
	// which the client got tokens ends (OIDC Back-Channel Logout §2.2).
	BackchannelLogoutURI string
	// Dynamic clients registered themselves (RFC 7591): nobody vetted
	// their redirect URIs, so errors are redirected to them only after
	// the user has seen the consent page (RFC 9700 §4.18).
	Dynamic bool

	secrets []*clientSecret
}

// ClientSource finds clients by id.
type ClientSource interface {
	// Client returns the client with that id, or ErrUnknownClient.
	Client(ctx context.Context, id string) (*Client, error)
}

// ErrUnknownClient is returned by a ClientSource for an unknown id.
var ErrUnknownClient = errors.New("unknown client")

// StaticClients is a fixed set of clients, e.g. from the Caddyfile.
type StaticClients map[string]*Client

// NewStaticClients validates clients and indexes them by id.
func NewStaticClients(clients []*Client, supportedScopes []string) (StaticClients, error) {
	m := StaticClients{}
	for i, c := range clients {
		if err := c.Prepare(supportedScopes); err != nil {
			return nil, err
		}
		if _, dup := m[c.ID]; dup {
			return nil, fmt.Errorf("client %d: duplicate client id %q", i, c.ID)
		}
		m[c.ID] = c
	}
	return m, nil
}

func (s StaticClients) Client(_ context.Context, id string) (*Client, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, ErrUnknownClient
}

// Prepare validates the client's fields, naming the first bad one, and
// parses its secret hashes.
func (c *Client) Prepare(supportedScopes []string) error {
	errf := func(field, format string, args ...any) error {
		return fmt.Errorf("client %q: %s: %s", c.ID, field, fmt.Sprintf(format, args...))
	}
	if c.ID == "" {
		return errors.New("client: id is required")
	}
	if len(c.ID) > 255 || strings.ContainsAny(c.ID, " \t\r\n:") {
		return errf("id", "must be at most 255 characters without spaces or colons")
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if !c.Type.Valid() {
		return errf("type", "unknown client type %q (want first_party, first_party_public, third_party or third_party_public)", c.Type)
	}
	if c.Type.Public() && len(c.SecretHashes) > 0 {
		return errf("secret_hash", "public client type %s must not have a secret", c.Type)
	}
	if !c.Type.Public() && len(c.SecretHashes) == 0 {
		return errf("secret_hash", "confidential client type %s requires a secret hash", c.Type)
	}
	c.secrets = c.secrets[:0]
	for _, h := range c.SecretHashes {
		s, err := parseClientSecret(h)
		if err != nil {
			return errf("secret_hash", "%v", err)
		}
		c.secrets = append(c.secrets, s)
	}
	if len(c.RedirectURIs) == 0 {
		return errf("redirect_uris", "at least one redirect URI is required")
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u, c.Type.Public()); err != nil {
			return errf("redirect_uris", "%v", err)
		}
	}
	if c.BypassConsentForOfflineAccess && !c.Type.Trusted() {
		return errf("bypass_consent_for_offline_access", "only first-party clients may bypass consent")
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u, c.Type.Public()); err != nil {
			return errf("post_logout_redirect_uris", "%v", err)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := ValidateBackchannelLogoutURI(c.BackchannelLogoutURI); err != nil {
			return errf("backchannel_logout_uri", "%v", err)
		}
	}
	for _, sc := range c.Scopes {
		if !slices.Contains(supportedScopes, sc) {
			return errf("scopes", "unsupported scope %q (supported: %s)", sc, strings.Join(supportedScopes, " "))
		}
	}
	for field, u := range map[string]string{"logo_uri": c.LogoURI, "client_uri": c.ClientURI, "policy_uri": c.PolicyURI, "tos_uri": c.TOSURI} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			return errf(field, "must be an absolute https URL, got %q", u)
		}
	}
	for _, gt := range c.GrantTypes {
		if gt != "authorization_code" && gt != "refresh_token" {
			return errf("grant_types", "unsupported grant type %q (want authorization_code, refresh_token)", gt)
		}
	}
	switch c.IDTokenSigningAlg {
	case "", "RS256", "ES256":
	default:
		return errf("id_token_signed_response_alg", "unsupported algorithm %q (want RS256 or ES256)", c.IDTokenSigningAlg)
	}
	if c.AccessTokenLifetime < 0 || c.RefreshTokenLifetime < 0 {
		return errf("lifetimes", "must not be negative")
	}
	return nil
}

// AllowsScope reports whether the client may request scope.
func (c *Client) AllowsScope(scope string, supported []string) bool {
	if len(c.Scopes) == 0 {
		return slices.Contains(supported, scope)
	}
	return slices.Contains(c.Scopes, scope)
}

// AllowsGrant reports whether the client may use grant type gt.
func (c *Client) AllowsGrant(gt string) bool {
	if len(c.GrantTypes) == 0 {
		return gt == "authorization_code" || gt == "refresh_token"
	}
	return slices.Contains(c.GrantTypes, gt)
}

// ValidateRedirectURI checks a redirect URI at registration: absolute, no
// fragment (RFC 6749 §3.1.2), https, or http only on a loopback host
// (RFC 8252 §7.3, RFC 9700 §2.6), or a private-use reverse-domain scheme
// for native public clients (RFC 8252 §7.1).
func ValidateRedirectURI(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !utf8.ValidString(raw) {
		return fmt.Errorf("redirect URI %q is not a valid URI", raw)
	}
	if !u.IsAbs() {
		return fmt.Errorf("redirect URI %q must be absolute", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q must not contain user information", raw)
	}
	// url.Parse takes any run of digits as a port (RFC 3986 §3.2.3 allows
	// that), so "host:" and ports such as 0, 99999 or 00080 get through it.
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if !validPort(p) {
			return fmt.Errorf("redirect URI %q: port %q is not a port from 1 to 65535 written without leading zeros", raw, p)
		}
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
		return nil
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q uses plain http on a non-loopback host; use https", raw)
		}
		return nil
	}
	if public && strings.Contains(u.Scheme, ".") {
		return nil
	}
	return fmt.Errorf("redirect URI %q: scheme %q not allowed (https, http on loopback, or a reverse-domain private-use scheme for native public clients)", raw, u.Scheme)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MatchRedirectURI reports whether raw matches a registered redirect URI.
// Matching is exact string comparison (RFC 9700 §4.1.3), except that for
// http on a loopback IP literal the port is ignored (RFC 8252 §7.3): the
// two strings must then be equal once their ports are removed.
func (c *Client) MatchRedirectURI(raw string) bool {
	if slices.Contains(c.RedirectURIs, raw) {
		return true
	}
	req, ok := loopbackWithoutPort(raw)
	if !ok {
		return false
	}
	for _, reg := range c.RedirectURIs {
		if r, ok := loopbackWithoutPort(reg); ok && r == req {
			return true
		}
	}
	return false
}

// loopbackWithoutPort returns s with its port removed when s is an http
// URI on a loopback IP literal ("http://127.0.0.1:8080/cb" becomes
// "http://127.0.0.1/cb"), working on the text so that nothing but the
// port can differ between two URIs that compare equal. The port, when
// present, must be a real one (validPort): "any port" in RFC 8252 §7.3 is
// any port a native app can listen on, not any string of digits.
func loopbackWithoutPort(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(tail, "#") {
		return "", false
	}
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		host, port = authority[:i], authority[i+1:]
		if !validPort(port) {
			return "", false
		}
	}
	ipText := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip := net.ParseIP(ipText)
	if ip == nil || !ip.IsLoopback() || (strings.Contains(ipText, ":") != strings.HasPrefix(host, "[")) {
		return "", false
	}
	return "http://" + host + tail, true
}

// validPort reports whether p is a TCP port a redirect may name: 1 to
// 65535 in plain decimal. RFC 3986 §3.2.3 lets a URI's port be any run of
// digits, but 0 is not a port anyone listens on, numbers past 65535 are
// wrapped or refused differently by different parsers, and leading zeros
// give one port many spellings (00080 is 80), none of which a client
// legitimately needs.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
