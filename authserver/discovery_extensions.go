package authserver

import (
	"slices"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
)

// advertiseExtensions adds to the discovery document what is only there
// when enabled: private_key_jwt (RFC 8414 §2, with the algorithms of RFC
// 8414's *_auth_signing_alg_values_supported).
func (s *Server) advertiseExtensions(m *providerMetadata) {
	if s.cfg.ClientKeys != nil {
		algs := make([]string, 0, len(clients.AssertionAlgs))
		for _, a := range clients.AssertionAlgs {
			algs = append(algs, string(a))
		}
		for _, methods := range []*[]string{&m.TokenEndpointAuthMethodsSupported, &m.IntrospectionEndpointAuthMethodsSupported, &m.RevocationEndpointAuthMethodsSupported} {
			*methods = append(slices.Clip(*methods), clients.AuthMethodPrivateKeyJWT)
		}
		m.TokenEndpointAuthSigningAlgValuesSupported = algs
		m.IntrospectionEndpointAuthSigningAlgValuesSupported = algs
		m.RevocationEndpointAuthSigningAlgValuesSupported = algs
	}
	if s.cfg.TokenExchange {
		m.GrantTypesSupported = append(slices.Clip(m.GrantTypesSupported), clients.GrantTypeTokenExchange) // RFC 8693 §2.1
	}
	if s.cfg.DPoP != nil {
		m.DPoPSigningAlgValuesSupported = dpop.Algorithms() // RFC 9449 §5.1
	}
}

// featuresEnabled refuses registration metadata that asks for a feature
// this server has off, which discovery does not list either (RFC 7591
// §3.2.2 invalid_client_metadata).
func (s *Server) featuresEnabled(md clients.Metadata) error {
	switch {
	case md.TokenEndpointAuthMethod == clients.AuthMethodPrivateKeyJWT && s.cfg.ClientKeys == nil:
		return &clients.MetadataError{Field: "token_endpoint_auth_method", Reason: "private_key_jwt is not enabled on this server"}
	case md.DPoPBoundAccessTokens && s.cfg.DPoP == nil:
		return &clients.MetadataError{Field: "dpop_bound_access_tokens", Reason: "DPoP is not enabled on this server"}
	}
	return nil
}
