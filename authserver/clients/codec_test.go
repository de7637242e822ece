package clients

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// obj parses a JSON object for a test.
func obj(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var o map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return o
}

// TestDecode: what each dialect reads, under RFC 7591's names and the
// admin API's older ones.
func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		dialect Dialect
		body    string
		want    Metadata
	}{
		{"RFC 7591 names", AdminJSON,
			`{"client_name":"App","scope":"openid email openid","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code"],
			  "token_endpoint_auth_method":"client_secret_post","logo_uri":"https://a.example/l.png","policy_uri":"https://a.example/p",
			  "tos_uri":"https://a.example/t","client_uri":"https://a.example/","post_logout_redirect_uris":["https://a.example/bye"],
			  "backchannel_logout_uri":"https://a.example/bc","id_token_signed_response_alg":"ES256","contacts":["ops@a.example"],
			  "software_id":"sw","software_version":"1.2"}`,
			Metadata{Name: "App", Scopes: []string{"openid", "email"}, RedirectURIs: []string{"https://a.example/cb"},
				GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "client_secret_post", LogoURI: "https://a.example/l.png",
				PolicyURI: "https://a.example/p", TOSURI: "https://a.example/t", ClientURI: "https://a.example/",
				PostLogoutRedirectURIs: []string{"https://a.example/bye"}, BackchannelLogoutURI: "https://a.example/bc",
				IDTokenSigningAlg: "ES256", Contacts: []string{"ops@a.example"}, SoftwareID: "sw", SoftwareVersion: "1.2"}},
		{"admin aliases and Gatehouse's fields", AdminJSON,
			`{"name":"App","scopes":["openid","openid"],"type":"first_party","description":"d","access_token_lifetime":"15m",
			  "refresh_token_lifetime":3600,"bypass_consent_for_offline_access":true}`,
			Metadata{Name: "App", Scopes: []string{"openid", "openid"}, Type: FirstParty, Description: "d",
				AccessTokenLifetime: 15 * time.Minute, RefreshTokenLifetime: time.Hour, BypassConsentForOfflineAccess: true}},
		{"days and null", AdminJSON, `{"access_token_lifetime":"1d12h","refresh_token_lifetime":null,"logo_uri":null,"scopes":null}`,
			Metadata{AccessTokenLifetime: 36 * time.Hour}},
		{"empty lifetime is the default", AdminJSON, `{"access_token_lifetime":"","refresh_token_lifetime":0}`, Metadata{}},
		{"configuration counts nanoseconds", ConfigJSON, `{"access_token_lifetime":60000000000,"refresh_token_lifetime":"2h","name":"C"}`,
			Metadata{Name: "C", AccessTokenLifetime: time.Minute, RefreshTokenLifetime: 2 * time.Hour}},
		{"configuration takes RFC 7591 names too", ConfigJSON, `{"client_name":"C","scope":"openid"}`,
			Metadata{Name: "C", Scopes: []string{"openid"}}},
		{"registration ignores what it does not know", RegistrationJSON,
			`{"client_name":"R","scope":"openid","colour":"blue","name":"not an RFC 7591 name","scopes":["email"]}`,
			Metadata{Name: "R", Scopes: []string{"openid"}}},
		{"registration ignores Gatehouse's own fields", RegistrationJSON,
			`{"type":"first_party","bypass_consent_for_offline_access":true,"access_token_lifetime":"1h","description":"x"}`,
			Metadata{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var md Metadata
			if err := md.Decode(obj(t, tc.body), tc.dialect); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(md, tc.want) {
				t.Fatalf("decoded %+v\nwant    %+v", md, tc.want)
			}
		})
	}
}

// TestDecodeErrors: every refused member is named, as it was sent.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		dialect Dialect
		body    string
		want    string // the error's start: field and reason
	}{
		{AdminJSON, `{"client_name":7}`, "client_name: must be a string"},
		{AdminJSON, `{"name":7}`, "name: must be a string"},
		{AdminJSON, `{"description":[]}`, "description: must be a string"},
		{AdminJSON, `{"type":1}`, "type: must be a string"},
		{AdminJSON, `{"redirect_uris":"https://a.example/cb"}`, "redirect_uris: must be an array of strings"},
		{AdminJSON, `{"post_logout_redirect_uris":[1]}`, "post_logout_redirect_uris: must be an array of strings"},
		{AdminJSON, `{"backchannel_logout_uri":true}`, "backchannel_logout_uri: must be a string"},
		{AdminJSON, `{"scope":["openid"]}`, "scope: must be a string"},
		{AdminJSON, `{"scope":"openid \"x\""}`, "scope: is malformed"},
		{AdminJSON, `{"scopes":"openid"}`, "scopes: must be an array of strings"},
		{AdminJSON, `{"logo_uri":1}`, "logo_uri: must be a string"},
		{AdminJSON, `{"client_uri":{}}`, "client_uri: must be a string"},
		{AdminJSON, `{"policy_uri":[]}`, "policy_uri: must be a string"},
		{AdminJSON, `{"tos_uri":false}`, "tos_uri: must be a string"},
		{AdminJSON, `{"grant_types":"authorization_code"}`, "grant_types: must be an array of strings"},
		{AdminJSON, `{"token_endpoint_auth_method":true}`, "token_endpoint_auth_method: must be a string"},
		{AdminJSON, `{"id_token_signed_response_alg":256}`, "id_token_signed_response_alg: must be a string"},
		{AdminJSON, `{"access_token_lifetime":"soon"}`, "access_token_lifetime: must be a duration"},
		{AdminJSON, `{"access_token_lifetime":-60}`, "access_token_lifetime: must be a duration"},
		{AdminJSON, `{"access_token_lifetime":90.5}`, "access_token_lifetime: must be a duration"},
		{AdminJSON, `{"refresh_token_lifetime":"-1h"}`, "refresh_token_lifetime: must be a duration"},
		{AdminJSON, `{"refresh_token_lifetime":"1000000h"}`, "refresh_token_lifetime: must be a duration"},
		{AdminJSON, `{"bypass_consent_for_offline_access":"yes"}`, "bypass_consent_for_offline_access: must be true or false"},
		{AdminJSON, `{"contacts":"a@b.example"}`, "contacts: must be an array of strings"},
		{AdminJSON, `{"software_id":1}`, "software_id: must be a string"},
		{AdminJSON, `{"software_version":1.0}`, "software_version: must be a string"},
		{AdminJSON, `{"colour":"blue"}`, "colour: unknown field"},
		{AdminJSON, `{"` + strings.Repeat("x", 100) + `":1}`, strings.Repeat("x", 64) + "...: unknown field"},
		{AdminJSON, `{"client_id":"mine"}`, "client_id: is set by the server"},
		{AdminJSON, `{"client_secret":"hunter2"}`, "client_secret: is set by the server"},
		{AdminJSON, `{"created_at":"2020-01-01T00:00:00Z"}`, "created_at: is set by the server"},
		{AdminJSON, `{"name":"a","client_name":"b"}`, "name: is the same field as client_name"},
		{AdminJSON, `{"scope":"openid","scopes":["openid"]}`, "scopes: is the same field as scope"},
		{ConfigJSON, `{"access_token_lifetime":1.5}`, "access_token_lifetime: must be a duration such as \"15m\" or \"720h\", or a number of nanoseconds"},
		{ConfigJSON, `{"client_id":"x"}`, "client_id: unknown field"},
		{RegistrationJSON, `{"client_name":["x"]}`, "client_name: must be a string"},
		{RegistrationJSON, `{"redirect_uris":"https://a.example/cb"}`, "redirect_uris: must be an array of strings"},
		{RegistrationJSON, `{"scope":["openid"]}`, "scope: must be a string"},
		{RegistrationJSON, `{"contacts":[1]}`, "contacts: must be an array of strings"},
	}
	for _, tc := range tests {
		var md Metadata
		err := md.Decode(obj(t, tc.body), tc.dialect)
		var me *MetadataError
		if !errors.As(err, &me) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("dialect %d, %s: got %v, want %q...", tc.dialect, tc.body, err, tc.want)
		}
	}
}

// TestDecodeLeavesOtherFields: members not sent keep their value, which
// is how the admin API's PATCH changes only what it is given.
func TestDecodeLeavesOtherFields(t *testing.T) {
	md := Metadata{Name: "Old", Description: "kept", Scopes: []string{"openid"}}
	if err := md.Decode(obj(t, `{"name":"New","scopes":null}`), AdminJSON); err != nil {
		t.Fatal(err)
	}
	if md.Name != "New" || md.Description != "kept" || md.Scopes != nil {
		t.Errorf("after a partial decode: %+v", md)
	}
}

// TestFields: what each dialect writes, in the table's order.
func TestFields(t *testing.T) {
	md := Metadata{Name: "App", Type: ThirdParty, RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"openid", "email"},
		TokenEndpointAuthMethod: "client_secret_basic", AccessTokenLifetime: 15 * time.Minute, BypassConsentForOfflineAccess: false}
	tests := []struct {
		dialect Dialect
		want    string
	}{
		{AdminJSON, `{"name":"App","description":"","type":"third_party","redirect_uris":["https://a.example/cb"],` +
			`"post_logout_redirect_uris":[],"backchannel_logout_uri":"","scopes":["openid","email"],"logo_uri":"","client_uri":"",` +
			`"policy_uri":"","tos_uri":"","grant_types":[],"token_endpoint_auth_method":"client_secret_basic",` +
			`"id_token_signed_response_alg":"","access_token_lifetime":"15m","refresh_token_lifetime":"",` +
			`"bypass_consent_for_offline_access":false,"require_pushed_authorization_requests":false,"contacts":[],"software_id":"","software_version":"",` +
			`"jwks":null,"jwks_uri":"","dpop_bound_access_tokens":false}`},
		{ConfigJSON, `{"name":"App","type":"third_party","redirect_uris":["https://a.example/cb"],"scopes":["openid","email"],` +
			`"token_endpoint_auth_method":"client_secret_basic","access_token_lifetime":900000000000}`},
		{RegistrationJSON, `{"client_name":"App","redirect_uris":["https://a.example/cb"],"scope":"openid email",` +
			`"token_endpoint_auth_method":"client_secret_basic"}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(md.Fields(tc.dialect))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("dialect %d:\n got %s\nwant %s", tc.dialect, got, tc.want)
		}
	}
}

// TestLabel: a validation error names the field as the request did, or
// as the dialect writes it.
func TestLabel(t *testing.T) {
	bad := &MetadataError{Field: "scope", Reason: "unsupported scope"}
	for _, tc := range []struct {
		dialect Dialect
		body    string
		want    string
	}{
		{AdminJSON, `{}`, "scopes"},
		{AdminJSON, `{"scope":"admin"}`, "scope"},
		{AdminJSON, `{"scopes":["admin"]}`, "scopes"},
		{ConfigJSON, `{}`, "scopes"},
		{RegistrationJSON, `{"scopes":["admin"]}`, "scope"},
	} {
		var me *MetadataError
		if err := tc.dialect.Label(bad, obj(t, tc.body)); !errors.As(err, &me) || me.Field != tc.want {
			t.Errorf("dialect %d, %s: %v, want field %s", tc.dialect, tc.body, err, tc.want)
		}
	}
	if err := AdminJSON.Label(&MetadataError{Field: "client_name", Reason: "is required"}, nil); err.Error() != "name: is required" {
		t.Errorf("client_name in the admin API: %v", err)
	}
	if err := AdminJSON.Label(ErrStatic, nil); err != ErrStatic {
		t.Errorf("another error was changed: %v", err)
	}
	if err := AdminJSON.Label(&MetadataError{Field: "client_secret", Reason: "x"}, nil); err.Error() != "client_secret: x" {
		t.Errorf("a field outside the table was renamed: %v", err)
	}
}

func TestObjectKeepsOrder(t *testing.T) {
	var o Object
	if err := json.Unmarshal([]byte(`{"b":1,"a":[2],"c":{"x":null}}`), &o); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(o)
	if err != nil || string(out) != `{"b":1,"a":[2],"c":{"x":null}}` {
		t.Errorf("round trip: %s %v", out, err)
	}
	if v, ok := o.Get("a"); !ok || string(v.(json.RawMessage)) != "[2]" {
		t.Errorf("Get: %v %v", v, ok)
	}
	if err := json.Unmarshal([]byte(`[1]`), &o); err == nil {
		t.Error("an array was read as an object")
	}
}

func TestSpecs(t *testing.T) {
	specs := Specs()
	if len(specs) != len(fields) || specs[0].Name != "name" {
		t.Fatalf("specs: %+v", specs)
	}
	for name, want := range map[string]string{"name": "name", "client_name": "name", "scope": "scopes", "scopes": "scopes",
		"redirect_uri": "redirect_uris", "contact": "contacts", "grant_type": "grant_types"} {
		if s, ok := LookupSpec(name); !ok || s.Name != want {
			t.Errorf("LookupSpec(%q) = %+v, %v; want %s", name, s, ok, want)
		}
	}
	for _, name := range []string{"colour", "client_names", "types", "secret_hash"} {
		if s, ok := LookupSpec(name); ok {
			t.Errorf("LookupSpec(%q) = %+v", name, s)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"15m": 15 * time.Minute, "30d": 720 * time.Hour, "1d12h": 36 * time.Hour,
		"1.5d": 36 * time.Hour, ".5d": 12 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1x", "soon", strings.Repeat("1", 100) + "s"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v", in, got)
		}
	}
}
