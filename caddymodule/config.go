package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// UserConfig is a user defined in the configuration.
type UserConfig struct {
	// Username the user signs in with (also accepted: their email).
	// Required.
	Username string `json:"username"`
	// ID is the stable subject identifier ("sub"). Default: the username.
	ID string `json:"id,omitempty"`
	// Email address and whether it is verified.
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Phone number (E.164 recommended) and whether it is verified.
	Phone         string `json:"phone,omitempty"`
	PhoneVerified bool   `json:"phone_verified,omitempty"`
	// Groups the user belongs to, released with the "groups" scope.
	Groups []string `json:"groups,omitempty"`
	// PasswordHash is an argon2id PHC string, as printed by
	// `caddy gatehouse hash-password`. Required.
	PasswordHash string `json:"password_hash"`
}

func (u *UserConfig) user() (*identity.User, error) {
	if u.Username == "" {
		return nil, errorf("users: a user has no username")
	}
	if u.PasswordHash == "" {
		return nil, errorf("users: %s: password_hash is required", u.Username)
	}
	ph, err := identity.ParsePasswordHash(u.PasswordHash)
	if err != nil {
		return nil, errorf("users: %s: password_hash: %v", u.Username, err)
	}
	id := u.ID
	if id == "" {
		id = u.Username
	}
	return &identity.User{
		ID: id, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		Name: u.Name, Phone: u.Phone, PhoneVerified: u.PhoneVerified,
		Groups: u.Groups, Password: ph,
	}, nil
}

// ClientConfig is a Connected App defined in the configuration. Such
// clients are static: they cannot be changed at run time.
type ClientConfig struct {
	// ID is the client_id. Required.
	ID string `json:"id"`
	// Name shown on the login and consent pages. Default: the id.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Type is first_party, first_party_public, third_party or
	// third_party_public. Required.
	Type string `json:"type"`
	// SecretHashes of the client secret: argon2id PHC strings (see
	// `caddy gatehouse hash-password`) or "sha256:<hex>". Required for
	// confidential types, forbidden for public ones. Several may be given
	// while a secret is being rotated.
	SecretHashes []string `json:"secret_hashes,omitempty"`
	// RedirectURIs registered for the client, matched exactly (an http
	// loopback IP URI matches any port). Required.
	RedirectURIs []string `json:"redirect_uris"`
	// Scopes the client may request. Default: all supported scopes.
	Scopes []string `json:"scopes,omitempty"`
	// LogoURI, ClientURI, PolicyURI and TOSURI are shown on the consent
	// page. https only.
	LogoURI   string `json:"logo_uri,omitempty"`
	ClientURI string `json:"client_uri,omitempty"`
	PolicyURI string `json:"policy_uri,omitempty"`
	TOSURI    string `json:"tos_uri,omitempty"`
	// IDTokenSignedResponseAlg is RS256 (default) or ES256.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
	// AccessTokenLifetime and RefreshTokenLifetime override the app's
	// defaults for this client.
	AccessTokenLifetime  caddy.Duration `json:"access_token_lifetime,omitempty"`
	RefreshTokenLifetime caddy.Duration `json:"refresh_token_lifetime,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return the
	// browser, matched exactly; same rules as redirect URIs.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackchannelLogoutURI receives OpenID Connect back-channel logout
	// tokens: https, or http on a loopback host.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// BypassConsentForOfflineAccess lets a first-party client get
	// offline_access (a refresh token) without the consent page.
	// Default false: first-party apps skip consent for every other
	// scope but are asked for offline access. First-party types only.
	BypassConsentForOfflineAccess bool `json:"bypass_consent_for_offline_access,omitempty"`
}

func (c *ClientConfig) client() *authserver.Client {
	return &authserver.Client{
		ID: c.ID, Name: c.Name, Description: c.Description, Type: authserver.ClientType(c.Type),
		SecretHashes: c.SecretHashes, RedirectURIs: c.RedirectURIs, Scopes: c.Scopes,
		LogoURI: c.LogoURI, ClientURI: c.ClientURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI,
		IDTokenSigningAlg:    c.IDTokenSignedResponseAlg,
		AccessTokenLifetime:  time.Duration(c.AccessTokenLifetime),
		RefreshTokenLifetime: time.Duration(c.RefreshTokenLifetime),

		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		BackchannelLogoutURI:   c.BackchannelLogoutURI,

		BypassConsentForOfflineAccess: c.BypassConsentForOfflineAccess,
	}
}

// UIConfig brands the end-user pages.
type UIConfig struct {
	// ProductName shown on every page. Default: "Gatehouse".
	ProductName string `json:"product_name,omitempty"`
	// LogoURL of the product logo (https or a path on this site).
	LogoURL string `json:"logo_url,omitempty"`
	// PrimaryColor of buttons and links, "#rrggbb".
	PrimaryColor string `json:"primary_color,omitempty"`
	// TemplatesDir holds templates and/or gatehouse.css overriding the
	// embedded ones, file by file.
	TemplatesDir string `json:"templates_dir,omitempty"`
}
