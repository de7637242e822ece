package clients

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Metadata is the description of a client that its owner chooses: the
// one type behind the configuration, the admin API and dynamic client
// registration. Its JSON names are RFC 7591 §2's where it has one
// (codec.go lists them, with the older names still accepted); the others
// are Gatehouse's own.
//
// A new field needs: a member here, its rule in validate, its entry in
// the codec's table (codec.go), its column in store.Client (record.go
// converts), and its line in the README.
type Metadata struct {
	// Name is shown on the login and consent pages (client_name; the
	// admin API and the configuration also say name). Defaults to the
	// client id for static clients.
	Name        string
	Description string
	Type        Type
	// RedirectURIs: at least one; https, http on a loopback host, or a
	// reverse-domain private-use scheme for public (native) clients.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser afterwards (OIDC RP-Initiated Logout 1.0 §3.1), matched
	// exactly like redirect URIs.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives a logout token when a session in
	// which the client got tokens ends (OIDC Back-Channel Logout 1.0
	// §2.2): https, or http on a loopback host.
	BackchannelLogoutURI string
	// Scopes the client may request; empty means every supported scope.
	// RFC 7591's scope is one space-separated string; the admin API and
	// the configuration also take an array, scopes.
	Scopes    []string
	LogoURI   string
	ClientURI string
	PolicyURI string
	TOSURI    string
	// GrantTypes the client may use; empty means authorization_code and
	// refresh_token.
	GrantTypes []string
	// TokenEndpointAuthMethod: none for public types, client_secret_basic
	// (the default for confidential types), client_secret_post or
	// private_key_jwt (RFC 7523 §2.2, with JWKS or JWKSURI).
	TokenEndpointAuthMethod string
	// JWKS (a JSON Web Key Set, compact JSON) or JWKSURI (where the
	// client publishes one) hold a private_key_jwt client's public keys
	// (RFC 7591 §2); exactly one of them with that method, neither
	// otherwise.
	JWKS    string
	JWKSURI string
	// DPoPBoundAccessTokens makes DPoP (RFC 9449) mandatory for the
	// client: its token requests without a proof are refused (RFC 9449
	// §5.2 dpop_bound_access_tokens).
	DPoPBoundAccessTokens bool
	// IDTokenSigningAlg (id_token_signed_response_alg, OpenID Connect
	// Dynamic Client Registration 1.0 §2) signs the client's ID tokens:
	// RS256 (the default, DefaultIDTokenAlg), ES256, PS256 or EdDSA, and
	// one the server has a signing key for (CheckIDTokenAlgs,
	// RegistryOptions.IDTokenAlgorithms).
	IDTokenSigningAlg string
	// AccessTokenLifetime and RefreshTokenLifetime override the server's
	// defaults when non-zero.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// BypassConsentForOfflineAccess lets a first-party client obtain
	// offline_access without the consent page, as in Stytch Connected
	// Apps. First-party types only.
	BypassConsentForOfflineAccess bool
	// RequirePushedAuthorizationRequests (RFC 9126 §6): the client's
	// authorization requests must come through /par; a plain one is
	// refused.
	RequirePushedAuthorizationRequests bool
	Contacts                           []string
	SoftwareID                         string
	SoftwareVersion                    string
}

// MetadataError is a client metadata value that was refused. Field is the
// field's RFC 7591 name (Dialect.Label names it as a request did); it is
// what RFC 7591 §3.2.2's invalid_client_metadata and the admin API's 400
// name.
type MetadataError struct {
	Field  string
	Reason string
}

func (e *MetadataError) Error() string { return e.Field + ": " + e.Reason }

// Interface guards
var _ error = (*MetadataError)(nil)

func metadataErr(field, format string, args ...any) *MetadataError {
	return &MetadataError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Limits on the metadata of clients created at run time. They keep
// records, pages and logs small.
const (
	maxNameLength        = 200
	maxDescriptionLength = 2000
	maxURILength         = 2000
	maxURIs              = 20
	maxContacts          = 10
	maxShortText         = 200

	minAccessTokenLifetime  = time.Minute
	maxAccessTokenLifetime  = 24 * time.Hour
	minRefreshTokenLifetime = 5 * time.Minute
	maxRefreshTokenLifetime = 365 * 24 * time.Hour
)

// MaxAccessTokenLifetime is the longest access_token_lifetime a client
// created at run time may have: signing keys must stay published at least
// that long after they stop signing.
const MaxAccessTokenLifetime = maxAccessTokenLifetime

// Token endpoint authentication methods (RFC 7591 §2).
const (
	authMethodNone  = "none"
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
	// AuthMethodPrivateKeyJWT is client authentication with a signed
	// assertion (RFC 7523 §2.2, OpenID Connect Core 1.0 §9).
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// normalize fills in defaults that depend on other fields: the token
// endpoint authentication method follows from the type, none for public
// clients and client_secret_basic (RFC 7591 §2's default) otherwise.
func (m *Metadata) normalize() {
	if m.TokenEndpointAuthMethod == "" && m.Type.Valid() {
		m.TokenEndpointAuthMethod = authMethodBasic
		if m.Type.Public() {
			m.TokenEndpointAuthMethod = authMethodNone
		}
	}
}

// Validate checks m as the metadata of a client created at run time,
// through the admin API or dynamic registration: the rules of every
// client, and limits on sizes, text and lifetimes. Defaults must have
// been filled in (normalize). It reports the first bad field, in a fixed
// order, as a *MetadataError.
func (m *Metadata) Validate(supportedScopes []string) error {
	return m.validate(supportedScopes, true)
}

// validate checks every field; limits adds the checks that apply only to
// clients created at run time. Clients from the configuration skip them:
// the operator wrote those, and their lifetimes are taken into account
// when signing keys are retained.
func (m *Metadata) validate(supported []string, limits bool) error {
	if limits {
		if err := checkText("client_name", m.Name, maxNameLength, false); err != nil {
			return err
		}
		if err := checkText("description", m.Description, maxDescriptionLength, true); err != nil {
			return err
		}
	}
	if !m.Type.Valid() {
		return metadataErr("type", "unknown client type %q (want first_party, first_party_public, third_party or third_party_public)", truncate(string(m.Type), 64))
	}
	if len(m.RedirectURIs) == 0 && m.usesRedirects() {
		return metadataErr("redirect_uris", "at least one redirect URI is required")
	}
	if err := checkRedirectURIs("redirect_uris", m.RedirectURIs, m.Type.Public(), limits); err != nil {
		return err
	}
	if err := checkRedirectURIs("post_logout_redirect_uris", m.PostLogoutRedirectURIs, m.Type.Public(), limits); err != nil {
		return err
	}
	if m.BackchannelLogoutURI != "" {
		if limits && len(m.BackchannelLogoutURI) > maxURILength {
			return metadataErr("backchannel_logout_uri", "must be at most %d bytes", maxURILength)
		}
		if err := ValidateBackchannelLogoutURI(m.BackchannelLogoutURI); err != nil {
			return metadataErr("backchannel_logout_uri", "%v", err)
		}
	}
	for i, sc := range m.Scopes {
		if !slices.Contains(supported, sc) {
			return metadataErr("scope", "unsupported scope %q (supported: %s)", truncate(sc, 64), strings.Join(supported, " "))
		}
		if limits && slices.Contains(m.Scopes[:i], sc) {
			return metadataErr("scope", "scope %q is listed twice", sc)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"logo_uri", m.LogoURI}, {"client_uri", m.ClientURI}, {"policy_uri", m.PolicyURI}, {"tos_uri", m.TOSURI},
	} {
		if err := checkWebURI(f.name, f.value, limits); err != nil {
			return err
		}
	}
	if err := m.checkGrantTypes(); err != nil {
		return err
	}
	if slices.Contains(m.GrantTypes, GrantTypeTokenExchange) && m.Type.Public() {
		return metadataErr("grant_types", "token exchange is for confidential clients")
	}
	switch m.TokenEndpointAuthMethod {
	case authMethodNone:
		if !m.Type.Public() {
			return metadataErr("token_endpoint_auth_method", "none is only for public client types")
		}
	case authMethodBasic, authMethodPost, AuthMethodPrivateKeyJWT:
		if m.Type.Public() {
			return metadataErr("token_endpoint_auth_method", "a public client authenticates with none")
		}
	default:
		return metadataErr("token_endpoint_auth_method", "unsupported method %q (supported: none, client_secret_basic, client_secret_post, private_key_jwt)", truncate(m.TokenEndpointAuthMethod, 64))
	}
	if err := m.validateKeys(limits); err != nil {
		return err
	}
	if m.IDTokenSigningAlg != "" && !slices.Contains(idTokenAlgs, m.IDTokenSigningAlg) {
		return metadataErr("id_token_signed_response_alg", "unsupported algorithm %q (supported: %s)", truncate(m.IDTokenSigningAlg, 64), strings.Join(idTokenAlgs, ", "))
	}
	if err := checkLifetime("access_token_lifetime", m.AccessTokenLifetime, minAccessTokenLifetime, maxAccessTokenLifetime, limits); err != nil {
		return err
	}
	if err := checkLifetime("refresh_token_lifetime", m.RefreshTokenLifetime, minRefreshTokenLifetime, maxRefreshTokenLifetime, limits); err != nil {
		return err
	}
	if m.BypassConsentForOfflineAccess && !m.Type.Trusted() {
		return metadataErr("bypass_consent_for_offline_access", "only first-party clients may skip consent")
	}
	if !limits {
		return nil
	}
	if len(m.Contacts) > maxContacts {
		return metadataErr("contacts", "at most %d contacts", maxContacts)
	}
	for _, c := range m.Contacts {
		if c == "" {
			return metadataErr("contacts", "a contact is empty")
		}
		if err := checkText("contacts", c, maxShortText, false); err != nil {
			return err
		}
	}
	if err := checkText("software_id", m.SoftwareID, maxShortText, false); err != nil {
		return err
	}
	return checkText("software_version", m.SoftwareVersion, maxShortText, false)
}

// checkText bounds a free-text field and refuses invalid UTF-8 and control
// characters (newlines and tabs only where multiline), which would corrupt
// pages and logs.
func checkText(field, v string, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return metadataErr(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return metadataErr(field, "must be at most %d characters, got %d", max, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return metadataErr(field, "must not contain control characters")
		}
	}
	return nil
}

// checkRedirectURIs applies ValidateRedirectURI to a list; with limits,
// the list must also be short and without repeats.
func checkRedirectURIs(field string, uris []string, public, limits bool) error {
	if limits && len(uris) > maxURIs {
		return metadataErr(field, "at most %d URIs", maxURIs)
	}
	for i, u := range uris {
		if limits && len(u) > maxURILength {
			return metadataErr(field, "a URI is longer than %d bytes", maxURILength)
		}
		if err := ValidateRedirectURI(u, public); err != nil {
			return metadataErr(field, "%v", err)
		}
		if limits && slices.Contains(uris[:i], u) {
			return metadataErr(field, "%q is listed twice", u)
		}
	}
	return nil
}

// checkWebURI checks a URI shown to users (logo, home page, policy,
// terms): empty, or an absolute https URL; with limits, also short and
// without user information or fragment.
func checkWebURI(field, raw string, limits bool) error {
	if raw == "" {
		return nil
	}
	if limits && len(raw) > maxURILength {
		return metadataErr(field, "must be at most %d bytes", maxURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return metadataErr(field, "must be an absolute https URL, got %q", truncate(raw, 200))
	}
	if limits && (!utf8.ValidString(raw) || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#")) {
		return metadataErr(field, "must be an absolute https URL without user information or fragment")
	}
	return nil
}

// checkLifetime refuses a negative lifetime and, with limits, one outside
// [min, max]; zero is the server's default.
func checkLifetime(field string, d, min, max time.Duration, limits bool) error {
	if d < 0 {
		return metadataErr(field, "must not be negative")
	}
	if limits && d != 0 && (d < min || d > max) {
		return metadataErr(field, "must be between %s and %s, or zero for the server's default", formatDuration(min), formatDuration(max))
	}
	return nil
}

// formatDuration prints a duration without trailing zero units ("5m",
// "720h" rather than "5m0s", "720h0m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// truncate shortens s to at most n bytes for an error message, without
// splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
