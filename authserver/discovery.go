package authserver

import (
	"encoding/json"
	"net/http"
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
	// RFC 9207 §3: the iss parameter is sent on every authorization response.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// OIDC Discovery §3 defaults request_uri_parameter_supported to true,
	// so the unsupported request parameters are stated explicitly.
	RequestParameterSupported    bool `json:"request_parameter_supported"`
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported     bool `json:"claims_parameter_supported"`
}

func (s *Server) discoveryDocument() ([]byte, error) {
	m := providerMetadata{
		Issuer:                            s.Issuer(),
		AuthorizationEndpoint:             s.endpoint("/authorize"),
		TokenEndpoint:                     s.endpoint("/token"),
		UserinfoEndpoint:                  s.endpoint("/userinfo"),
		JWKSURI:                           s.endpoint("/jwks.json"),
		ScopesSupported:                   SupportedScopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256", "ES256"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
			"name", "preferred_username", "email", "email_verified", "phone_number", "phone_number_verified", "groups"},
		PromptValuesSupported:                      []string{"none", "login", "consent", "select_account"},
		AuthorizationResponseIssParameterSupported: true,
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
		hd := w.Header()
		if r.Header.Get("Origin") != "" {
			hd.Set("Access-Control-Allow-Origin", "*")
			hd.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}
