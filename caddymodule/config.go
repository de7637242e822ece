package caddymodule

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/factor"
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
//
// In JSON its members are id, secret_hashes and the client metadata
// under the admin API's names (clients.ConfigJSON): type and
// redirect_uris are required; name (or client_name), description,
// scopes (an array, or scope as one space-separated string), logo_uri,
// client_uri, policy_uri, tos_uri, grant_types,
// token_endpoint_auth_method, id_token_signed_response_alg,
// access_token_lifetime and refresh_token_lifetime (durations: "15m",
// or nanoseconds), post_logout_redirect_uris, backchannel_logout_uri,
// bypass_consent_for_offline_access, contacts, software_id and
// software_version are optional.
type ClientConfig struct {
	// ID is the client_id. Required.
	ID string
	// SecretHashes of the client secret: argon2id PHC strings (see
	// `caddy gatehouse hash-password`) or "sha256:<hex>". Required for
	// confidential types, forbidden for public ones. Several may be given
	// while a secret is being rotated.
	SecretHashes []string
	// Metadata describes the client; the name defaults to the id, the
	// scopes to every supported one.
	clients.Metadata
	// MFA is the client's second-factor policy (off, optional, required),
	// replacing the server's mfa for this client; empty keeps it.
	MFA string
}

// MarshalJSON writes the client as the Caddyfile adapter emits it.
func (c ClientConfig) MarshalJSON() ([]byte, error) {
	obj := clients.Object{{Name: "id", Value: c.ID}}
	if len(c.SecretHashes) > 0 {
		obj = append(obj, clients.Member{Name: "secret_hashes", Value: c.SecretHashes})
	}
	obj = append(obj, c.Fields(clients.ConfigJSON)...)
	if c.MFA != "" {
		obj = append(obj, clients.Member{Name: "mfa", Value: c.MFA})
	}
	return json.Marshal(obj)
}

// UnmarshalJSON reads a client of the JSON configuration with the
// metadata codec, which, like Caddy's strict decoding, refuses unknown
// members.
func (c *ClientConfig) UnmarshalJSON(b []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	if raw, ok := obj["id"]; ok {
		if err := json.Unmarshal(raw, &c.ID); err != nil {
			return fmt.Errorf("client: id: must be a string")
		}
	}
	if raw, ok := obj["secret_hashes"]; ok {
		if err := json.Unmarshal(raw, &c.SecretHashes); err != nil {
			return fmt.Errorf("client %q: secret_hashes: must be an array of strings", c.ID)
		}
	}
	if raw, ok := obj["mfa"]; ok {
		if err := json.Unmarshal(raw, &c.MFA); err != nil {
			return fmt.Errorf("client %q: mfa: must be a string", c.ID)
		}
		if _, err := factor.ParsePolicy(c.MFA); err != nil {
			return fmt.Errorf("client %q: %w", c.ID, err)
		}
	}
	delete(obj, "id")
	delete(obj, "secret_hashes")
	delete(obj, "mfa")
	if err := c.Decode(obj, clients.ConfigJSON); err != nil {
		return fmt.Errorf("client %q: %w", c.ID, err)
	}
	return nil
}

func (c *ClientConfig) client() *clients.Client {
	return &clients.Client{ID: c.ID, Metadata: c.Metadata, SecretHashes: c.SecretHashes, MFA: factor.Policy(c.MFA)}
}

// Interface guards
var (
	_ json.Marshaler   = ClientConfig{}
	_ json.Unmarshaler = (*ClientConfig)(nil)
)

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
