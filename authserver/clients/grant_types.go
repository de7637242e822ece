package clients

import (
	"slices"
	"strings"
)

// Grant types a client may list in grant_types (RFC 7591 §2).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantClientCredentials is RFC 6749 §4.4: a confidential client
	// acting as itself, with no user.
	GrantClientCredentials = "client_credentials"
	// GrantDeviceCode is RFC 8628 §3.4's grant type.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	// GrantTypeTokenExchange is RFC 8693 §2.1's grant type: a service
	// trades a user's token for one aimed at another resource.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// grantTypes are the grant types Gatehouse implements.
var grantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode, GrantTypeTokenExchange}

// usesRedirects reports whether the client takes part in the
// authorization code flow, the only one that sends a browser back to it:
// a client with no grant_types listed does (the default).
func (m *Metadata) usesRedirects() bool {
	return len(m.GrantTypes) == 0 || slices.Contains(m.GrantTypes, GrantAuthorizationCode)
}

// checkGrantTypes checks grant_types: known types, each once; a refresh
// token comes only from a grant with a user (authorization code or
// device code), so refresh_token alone could do nothing (RFC 7591
// §2.1); client_credentials needs a secret (RFC 6749 §4.4: confidential
// clients only).
func (m *Metadata) checkGrantTypes() error {
	for i, gt := range m.GrantTypes {
		if !slices.Contains(grantTypes, gt) {
			return metadataErr("grant_types", "unsupported grant type %q (supported: %s)", truncate(gt, 64), strings.Join(grantTypes, ", "))
		}
		if slices.Contains(m.GrantTypes[:i], gt) {
			return metadataErr("grant_types", "grant type %q is listed twice", gt)
		}
	}
	if len(m.GrantTypes) == 0 {
		return nil
	}
	if slices.Contains(m.GrantTypes, GrantRefreshToken) &&
		!slices.Contains(m.GrantTypes, GrantAuthorizationCode) && !slices.Contains(m.GrantTypes, GrantDeviceCode) {
		return metadataErr("grant_types", "refresh_token needs authorization_code or %s", GrantDeviceCode)
	}
	if slices.Contains(m.GrantTypes, GrantClientCredentials) && m.Type.Public() {
		return metadataErr("grant_types", "client_credentials is only for confidential client types")
	}
	return nil
}
