package authserver

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ClientMetadata is the changeable description of a client created at run
// time, through the admin API or dynamic client registration. Field names
// in errors are the JSON names of both APIs (RFC 7591 §2 where it has one).
type ClientMetadata struct {
	Name        string
	Description string
	Type        ClientType
	// RedirectURIs: at least one; https, http on a loopback host, or a
	// reverse-domain private-use scheme for public (native) clients.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives logout tokens (OIDC Back-Channel
	// Logout 1.0 §2.2): https, or http on a loopback host.
	BackchannelLogoutURI string
	// Scopes the client may request; empty means every supported scope.
	Scopes    []string
	LogoURI   string
	ClientURI string
	PolicyURI string
	TOSURI    string
	// GrantTypes the client may use; empty means authorization_code and
	// refresh_token.
	GrantTypes []string
	// TokenEndpointAuthMethod: none for public types, client_secret_basic
	// (the default for confidential types) or client_secret_post.
	TokenEndpointAuthMethod       string
	IDTokenSigningAlg             string
	AccessTokenLifetime           time.Duration // zero: the server's default
	RefreshTokenLifetime          time.Duration // zero: the server's default
	BypassConsentForOfflineAccess bool
	Contacts                      []string
	SoftwareID                    string
	SoftwareVersion               string
}

// MetadataError is a client metadata value that was refused; Field is the
// JSON name of the field.
type MetadataError struct {
	Field  string
	Reason string
}

func (e *MetadataError) Error() string { return e.Field + ": " + e.Reason }

func metadataErr(field, format string, args ...any) *MetadataError {
	return &MetadataError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Limits on client metadata. They keep records, pages and logs small.
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

// MaxClientAccessTokenLifetime is the longest access_token_lifetime a
// client created at run time may have: signing keys must stay published at
// least that long after they stop signing.
const MaxClientAccessTokenLifetime = maxAccessTokenLifetime

// Token endpoint authentication methods (RFC 7591 §2).
const (
	authMethodNone  = "none"
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
)

// defaultAuthMethod is what a client of type t registers when it names no
// method: none for public clients, client_secret_basic (RFC 7591 §2's
// default) otherwise.
func defaultAuthMethod(t ClientType) string {
	if t.Public() {
		return authMethodNone
	}
	return authMethodBasic
}

// normalize fills in defaults that depend on other fields.
func (m *ClientMetadata) normalize() {
	if m.TokenEndpointAuthMethod == "" && m.Type.Valid() {
		m.TokenEndpointAuthMethod = defaultAuthMethod(m.Type)
	}
}

// validate checks every field, in a fixed order, and reports the first bad
// one. supported lists the scopes the server knows.
func (m *ClientMetadata) validate(supported []string) error {
	if err := checkText("name", m.Name, maxNameLength, false); err != nil {
		return err
	}
	if err := checkText("description", m.Description, maxDescriptionLength, true); err != nil {
		return err
	}
	if !m.Type.Valid() {
		return metadataErr("type", "must be first_party, first_party_public, third_party or third_party_public")
	}
	if len(m.RedirectURIs) == 0 {
		return metadataErr("redirect_uris", "at least one redirect URI is required")
	}
	if err := checkRedirectURIs("redirect_uris", m.RedirectURIs, m.Type.Public()); err != nil {
		return err
	}
	if err := checkRedirectURIs("post_logout_redirect_uris", m.PostLogoutRedirectURIs, m.Type.Public()); err != nil {
		return err
	}
	if m.BackchannelLogoutURI != "" {
		if len(m.BackchannelLogoutURI) > maxURILength {
			return metadataErr("backchannel_logout_uri", "must be at most %d bytes", maxURILength)
		}
		if err := ValidateBackchannelLogoutURI(m.BackchannelLogoutURI); err != nil {
			return metadataErr("backchannel_logout_uri", "%v", err)
		}
	}
	for i, sc := range m.Scopes {
		if !slices.Contains(supported, sc) {
			return metadataErr("scopes", "unsupported scope %q (supported: %s)", truncate(sc, 64), strings.Join(supported, " "))
		}
		if slices.Contains(m.Scopes[:i], sc) {
			return metadataErr("scopes", "scope %q is listed twice", sc)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"logo_uri", m.LogoURI}, {"client_uri", m.ClientURI}, {"policy_uri", m.PolicyURI}, {"tos_uri", m.TOSURI},
	} {
		if err := checkWebURI(f.name, f.value); err != nil {
			return err
		}
	}
	for i, gt := range m.GrantTypes {
		if gt != "authorization_code" && gt != "refresh_token" {
			return metadataErr("grant_types", "unsupported grant type %q (supported: authorization_code, refresh_token)", truncate(gt, 64))
		}
		if slices.Contains(m.GrantTypes[:i], gt) {
			return metadataErr("grant_types", "grant type %q is listed twice", gt)
		}
	}
	// A refresh token is only ever obtained through a code, so a client
	// limited to refresh_token could do nothing (RFC 7591 §2.1).
	if len(m.GrantTypes) > 0 && !slices.Contains(m.GrantTypes, "authorization_code") {
		return metadataErr("grant_types", "must include authorization_code")
	}
	switch m.TokenEndpointAuthMethod {
	case authMethodNone:
		if !m.Type.Public() {
			return metadataErr("token_endpoint_auth_method", "none is only for public client types")
		}
	case authMethodBasic, authMethodPost:
		if m.Type.Public() {
			return metadataErr("token_endpoint_auth_method", "a public client authenticates with none")
		}
	default:
		return metadataErr("token_endpoint_auth_method", "unsupported method %q (supported: none, client_secret_basic, client_secret_post)", truncate(m.TokenEndpointAuthMethod, 64))
	}
	switch m.IDTokenSigningAlg {
	case "", "RS256", "ES256":
	default:
		return metadataErr("id_token_signed_response_alg", "unsupported algorithm %q (supported: RS256, ES256)", truncate(m.IDTokenSigningAlg, 64))
	}
	if err := checkLifetime("access_token_lifetime", m.AccessTokenLifetime, minAccessTokenLifetime, maxAccessTokenLifetime); err != nil {
		return err
	}
	if err := checkLifetime("refresh_token_lifetime", m.RefreshTokenLifetime, minRefreshTokenLifetime, maxRefreshTokenLifetime); err != nil {
		return err
	}
	if m.BypassConsentForOfflineAccess && !m.Type.Trusted() {
		return metadataErr("bypass_consent_for_offline_access", "only first-party clients may skip consent")
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

// checkRedirectURIs applies the registration rules of ValidateRedirectURI
// to a list, which must be short and without repeats.
func checkRedirectURIs(field string, uris []string, public bool) error {
	if len(uris) > maxURIs {
		return metadataErr(field, "at most %d URIs", maxURIs)
	}
	for i, u := range uris {
		if len(u) > maxURILength {
			return metadataErr(field, "a URI is longer than %d bytes", maxURILength)
		}
		if !utf8.ValidString(u) {
			return metadataErr(field, "a URI is not valid UTF-8")
		}
		if err := ValidateRedirectURI(u, public); err != nil {
			return metadataErr(field, "%v", err)
		}
		if slices.Contains(uris[:i], u) {
			return metadataErr(field, "%q is listed twice", u)
		}
	}
	return nil
}

// checkWebURI checks a URI shown to users (logo, home page, policy, terms):
// empty, or an absolute https URL without user information or fragment.
func checkWebURI(field, raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxURILength {
		return metadataErr(field, "must be at most %d bytes", maxURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !utf8.ValidString(raw) || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		u.Fragment != "" || strings.Contains(raw, "#") {
		return metadataErr(field, "must be an absolute https URL without user information or fragment")
	}
	return nil
}

func checkLifetime(field string, d, min, max time.Duration) error {
	if d != 0 && (d < min || d > max) {
		return metadataErr(field, "must be between %s and %s, or zero for the server's default", FormatDuration(min), FormatDuration(max))
	}
	return nil
}

// FormatDuration prints a duration without trailing zero units ("5m",
// "720h" rather than "5m0s", "720h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
