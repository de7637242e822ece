package authserver

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// providerMetadata is the discovery document, shared by OpenID Connect
// Discovery 1.0 §3 and RFC 8414 §2. It lists exactly what is implemented.
type providerMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	// OIDC Discovery §3: the classes acr_values may ask for (amr.go).
	ACRValuesSupported []string `json:"acr_values_supported"`
	// RFC 9207 §3: the iss parameter is sent on every authorization response.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// OIDC Discovery §3 defaults request_uri_parameter_supported to true,
	// so the unsupported request parameters are stated explicitly.
	RequestParameterSupported    bool `json:"request_parameter_supported"`
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported     bool `json:"claims_parameter_supported"`
	// RFC 8414 §2 and RFC 7591 §3: present only when registration is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// RFC 8414 §2 (RFC 7662, RFC 7009).
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	// OIDC RP-Initiated Logout §2.1 and Back-Channel Logout §2.1.
	EndSessionEndpoint                string `json:"end_session_endpoint"`
	BackchannelLogoutSupported        bool   `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool   `json:"backchannel_logout_session_supported"`
	// draft-ietf-oauth-client-id-metadata-document: https client ids are
	// resolved by fetching their metadata document.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
	// RFC 9126 §5: present only when pushed requests are on. The server
	// requires them of chosen clients only, so the server-wide flag is
	// false then.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
	RequirePushedAuthorizationRequests *bool  `json:"require_pushed_authorization_requests,omitempty"`
	// RFC 8628 §4: present only when the device grant is on.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// RFC 8414 §2: only with private_key_jwt on.
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	// RFC 9449 §5.1: only with DPoP on.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// RFC 8693: listed in grant_types_supported only when on.
}

func (s *Server) discoveryDocument() ([]byte, error) {
	m := providerMetadata{
		Issuer:                            s.Issuer(),
		AuthorizationEndpoint:             s.endpoint("/authorize"),
		TokenEndpoint:                     s.endpoint("/token"),
		UserinfoEndpoint:                  s.endpoint("/userinfo"),
		JWKSURI:                           s.endpoint("/jwks.json"),
		ScopesSupported:                   supportedScopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  clients.IDTokenAlgs(s.cfg.Keys.Algorithms()),
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
			"name", "preferred_username", "email", "email_verified", "phone_number", "phone_number_verified", "groups", "sid",
			"acr", "amr"},
		ACRValuesSupported:                         s.acrValuesSupported(),
		PromptValuesSupported:                      []string{"none", "login", "consent", "select_account"},
		AuthorizationResponseIssParameterSupported: true,
		IntrospectionEndpoint:                      s.endpoint("/introspect"),
		IntrospectionEndpointAuthMethodsSupported:  []string{"client_secret_basic", "client_secret_post", "none"},
		RevocationEndpoint:                         s.endpoint("/revoke"),
		RevocationEndpointAuthMethodsSupported:     []string{"client_secret_basic", "client_secret_post", "none"},
		EndSessionEndpoint:                         s.endpoint("/logout"),
		BackchannelLogoutSupported:                 true,
		BackchannelLogoutSessionSupported:          true,
	}
	if s.cfg.Registration.enabled() {
		m.RegistrationEndpoint = s.endpoint("/register")
	}
	s.advertiseExtensions(&m) // discovery_extensions.go
	m.ClientIDMetadataDocumentSupported = s.cfg.ClientIDMetadataDocuments
	if s.cfg.ClientCredentials {
		m.GrantTypesSupported = append(m.GrantTypesSupported, "client_credentials")
	}
	if s.cfg.PushedAuthorization {
		m.PushedAuthorizationRequestEndpoint = s.endpoint(parPath)
		m.RequirePushedAuthorizationRequests = new(bool)
	}
	if s.cfg.DeviceAuthorization {
		m.GrantTypesSupported = append(m.GrantTypesSupported, clients.GrantDeviceCode)
		m.DeviceAuthorizationEndpoint = s.endpoint(deviceAuthorizationPath)
	}
	return json.MarshalIndent(m, "", "  ")
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.discovery)
}

// handleJWKS serves the public signing keys (RFC 7517 §5). Clients cache
// it briefly so a rotated-in key is seen soon.
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.cfg.Keys.JWKS())
}

// corsHandler opens an endpoint to browser apps on any origin (single-page
// Connected Apps). This is safe because these endpoints never rely on
// cookies: credentials travel in the request itself, so no credentials
// mode is allowed.
func (s *Server) corsHandler(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowCORS(w, r, "GET, POST, OPTIONS", "WWW-Authenticate, DPoP-Nonce") {
			return
		}
		h(w, r)
	}
}

// allowCORS sets the CORS headers of a cookie-less endpoint and answers a
// preflight request, reporting whether it did.
func allowCORS(w http.ResponseWriter, r *http.Request, methods, expose string) (preflight bool) {
	hd := w.Header()
	if r.Header.Get("Origin") != "" {
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", expose)
	}
	if r.Method != http.MethodOptions {
		return false
	}
	hd.Set("Access-Control-Allow-Methods", methods)
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP") // DPoP: RFC 9449 §4.1
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}
