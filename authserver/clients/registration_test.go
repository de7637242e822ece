package clients

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestDecodeRegistration: the rules of dynamic registration on top of the
// codec; each refusal names its field as RFC 7591 does.
func TestDecodeRegistration(t *testing.T) {
	open := RegistrationRequest{Open: true, SupportedScopes: testScopes}
	withToken := RegistrationRequest{SupportedScopes: testScopes}
	update := func(current Type) RegistrationRequest {
		return RegistrationRequest{Current: current, SupportedScopes: testScopes}
	}
	const cb = `"redirect_uris":["http://127.0.0.1/cb"]`
	tests := []struct {
		name      string
		req       RegistrationRequest
		body      string
		wantType  Type
		wantField string // of the error; "" when accepted
	}{
		{"anonymous is public", open, `{` + cb + `}`, ThirdPartyPublic, ""},
		{"with a token, confidential by default", withToken, `{"redirect_uris":["https://a.example/cb"]}`, ThirdParty, ""},
		{"with a token, public on request", withToken, `{` + cb + `,"token_endpoint_auth_method":"none"}`, ThirdPartyPublic, ""},
		{"update keeps a public client public", update(ThirdPartyPublic), `{` + cb + `}`, ThirdPartyPublic, ""},
		{"anonymous confidential", open, `{` + cb + `,"token_endpoint_auth_method":"client_secret_basic"}`, "", "token_endpoint_auth_method"},
		{"unsupported method", withToken, `{` + cb + `,"token_endpoint_auth_method":"tls_client_auth"}`, "", "token_endpoint_auth_method"},
		{"private_key_jwt with jwks", withToken, `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks":` + testJWKS(t) + `}`, ThirdParty, ""},
		{"private_key_jwt with jwks_uri", withToken, `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}`, ThirdParty, ""},
		{"private_key_jwt without keys", withToken, `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt"}`, "", "jwks"},
		{"anonymous private_key_jwt", open, `{` + cb + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}`, "", "token_endpoint_auth_method"},
		{"dpop_bound_access_tokens is registration metadata", open, `{` + cb + `,"dpop_bound_access_tokens":true}`, ThirdPartyPublic, ""},
		{"update changing kind", update(ThirdParty), `{` + cb + `,"token_endpoint_auth_method":"none"}`, "", "token_endpoint_auth_method"},
		{"anonymous back-channel URI", open, `{` + cb + `,"backchannel_logout_uri":"https://a.example/bc"}`, "", "backchannel_logout_uri"},
		{"token response type", open, `{` + cb + `,"response_types":["code","token"]}`, "", "response_types"},
		{"no response types", open, `{` + cb + `,"response_types":[]}`, "", "response_types"},
		{"response types not a list", open, `{` + cb + `,"response_types":"code"}`, "", "response_types"},
		{"refresh token alone", open, `{` + cb + `,"grant_types":["refresh_token"]}`, "", "grant_types"},
		{"no redirect URIs", open, `{"client_name":"x"}`, "", "redirect_uris"},
		{"bad redirect URI", open, `{"redirect_uris":["http://a.example/cb"]}`, "", "redirect_uris"},
		{"unsupported scope", open, `{` + cb + `,"scope":"openid admin"}`, "", "scope"},
		{"name too long", open, `{` + cb + `,"client_name":"` + strings.Repeat("n", 201) + `"}`, "", "client_name"},
		{"bad logo", open, `{` + cb + `,"logo_uri":"http://a.example/l.png"}`, "", "logo_uri"},
		{"Gatehouse's fields are not registration metadata", open,
			`{` + cb + `,"type":"first_party","bypass_consent_for_offline_access":true}`, ThirdPartyPublic, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md, err := DecodeRegistration(obj(t, tc.body), tc.req)
			var me *MetadataError
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantField == "" && (md.Type != tc.wantType || md.BypassConsentForOfflineAccess):
				t.Fatalf("accepted as %+v, want type %s", md, tc.wantType)
			case tc.wantField != "" && (!errors.As(err, &me) || me.Field != tc.wantField):
				t.Fatalf("got %v, want an error about %s", err, tc.wantField)
			}
		})
	}
}

// TestRegistrationLifecycle: a registered client is read, replaced and
// deleted with its registration access token only (RFC 7592).
func TestRegistrationLifecycle(t *testing.T) {
	ctx := t.Context()
	reg, _, _ := newTestRegistry(t)
	md, err := DecodeRegistration(obj(t, `{"client_name":"Tool","redirect_uris":["https://tool.example/cb"]}`),
		RegistrationRequest{SupportedScopes: testScopes})
	if err != nil {
		t.Fatal(err)
	}
	info, secret, token, err := reg.Register(ctx, md)
	if err != nil || !info.Dynamic || !strings.HasPrefix(secret, clientSecretPrefix) || !strings.HasPrefix(token, regTokenPrefix) {
		t.Fatalf("Register: %+v %q %q %v", info, secret, token, err)
	}
	if _, err := reg.Registered(ctx, info.ID, token+"x"); !errors.Is(err, ErrUnknown) {
		t.Errorf("a wrong token: %v", err)
	}
	if _, err := reg.Registered(ctx, "nobody", token); !errors.Is(err, ErrUnknown) {
		t.Errorf("an unknown client: %v", err)
	}
	// Clients created through the admin API have no registration token.
	admin, _, err := reg.Create(ctx, webApp("Admin-made"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Registered(ctx, admin.ID, ""); !errors.Is(err, ErrUnknown) {
		t.Errorf("a client of the admin API: %v", err)
	}
	got, err := reg.Registered(ctx, info.ID, token)
	if err != nil || got.ID != info.ID || !got.IsSecret(secret) || got.IsSecret(secret+"x") || got.IsSecret("") {
		t.Fatalf("Registered: %+v %v", got, err)
	}

	md.Name = "Renamed"
	updated, err := reg.UpdateRegistered(ctx, info.ID, token, md)
	if err != nil || updated.Name != "Renamed" {
		t.Fatalf("UpdateRegistered: %+v %v", updated, err)
	}
	if _, err := reg.UpdateRegistered(ctx, info.ID, "gh_rat_wrong", md); !errors.Is(err, ErrUnknown) {
		t.Errorf("update with a wrong token: %v", err)
	}
	public := md
	public.Type = ThirdPartyPublic
	var me *MetadataError
	if _, err := reg.UpdateRegistered(ctx, info.ID, token, public); !errors.As(err, &me) || me.Field != "token_endpoint_auth_method" {
		t.Errorf("update changing kind: %v", err)
	}

	resp, err := json.Marshal(RegistrationResponse(&updated, "https://issuer.example/register?client_id=x", testScopes, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ClientID      string   `json:"client_id"`
		Secret        *string  `json:"client_secret"`
		Expires       *int64   `json:"client_secret_expires_at"`
		ClientName    string   `json:"client_name"`
		Scope         string   `json:"scope"`
		GrantTypes    []string `json:"grant_types"`
		ResponseTypes []string `json:"response_types"`
		Type          *string  `json:"type"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || r.ClientID != info.ID || r.Secret != nil || r.Expires == nil || *r.Expires != 0 ||
		r.ClientName != "Renamed" || r.Scope != strings.Join(testScopes, " ") || !slices.Equal(r.GrantTypes, []string{"authorization_code"}) ||
		!slices.Equal(r.ResponseTypes, []string{"code"}) || r.Type != nil {
		t.Errorf("response %s (%v)", resp, err)
	}
}
