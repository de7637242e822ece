package clients

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIDTokenAlgs(t *testing.T) {
	for _, tc := range []struct {
		have, want []string
	}{
		{nil, nil},
		{[]string{"ES256", "RS256"}, []string{"RS256", "ES256"}},
		{[]string{"EdDSA", "ES256", "PS256", "RS256"}, []string{"RS256", "ES256", "PS256", "EdDSA"}},
		{[]string{"HS256", "none", "ES384"}, nil},
	} {
		if got := IDTokenAlgs(tc.have); !slices.Equal(got, tc.want) {
			t.Errorf("IDTokenAlgs(%v) = %v, want %v", tc.have, got, tc.want)
		}
	}
	var m Metadata
	if got := m.IDTokenAlg(); got != "RS256" {
		t.Errorf("IDTokenAlg of a client naming none = %q, want RS256", got)
	}
}

// A client created or changed at run time may name only an algorithm the
// server has keys for; any algorithm Gatehouse cannot sign with is
// refused as unsupported first.
func TestRegistryIDTokenAlgorithms(t *testing.T) {
	defaults, _, _ := newTestRegistry(t)
	withEdDSA := NewRegistry(Static{}, defaults.store, testScopes, RegistryOptions{IDTokenAlgorithms: []string{"ES256", "RS256", "EdDSA"}})
	for _, tc := range []struct {
		name    string
		reg     *Registry
		alg     string
		wantErr string // empty: created, with alg stored
	}{
		{"default algorithm", defaults, "", ""},
		{"ES256 with the default keys", defaults, "ES256", ""},
		{"PS256 without a PS256 key", defaults, "PS256", "id_token_signed_response_alg: the server has no PS256 signing key (available: RS256, ES256)"},
		{"EdDSA with an EdDSA key", withEdDSA, "EdDSA", ""},
		{"PS256 with other keys only", withEdDSA, "PS256", "no PS256 signing key (available: RS256, ES256, EdDSA)"},
		{"HS256 is never supported", withEdDSA, "HS256", `id_token_signed_response_alg: unsupported algorithm "HS256" (supported: RS256, ES256, PS256, EdDSA)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := webApp("App")
			md.IDTokenSigningAlg = tc.alg
			info, _, err := tc.reg.Create(t.Context(), md)
			if tc.wantErr != "" {
				var me *MetadataError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Create with %q: %v, want a MetadataError containing %q", tc.alg, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create with %q: %v", tc.alg, err)
			}
			c, err := tc.reg.Client(t.Context(), info.ID)
			if err != nil || c.IDTokenSigningAlg != tc.alg {
				t.Fatalf("stored client: %v, alg %q, want %q", err, c.IDTokenSigningAlg, tc.alg)
			}
			// An update to an algorithm without a key is refused too.
			_, err = tc.reg.Update(t.Context(), info.ID, func(m *Metadata) error { m.IDTokenSigningAlg = "PS256"; return nil })
			if err == nil || !strings.Contains(err.Error(), "no PS256 signing key") {
				t.Errorf("Update to PS256: %v, want refused", err)
			}
		})
	}
}

// An RFC 7592 update of a registered client is held to the same keys.
func TestUpdateRegisteredIDTokenAlg(t *testing.T) {
	r, _, _ := newTestRegistry(t)
	md := webApp("Registered")
	md.Type, md.TokenEndpointAuthMethod = ThirdParty, "client_secret_basic"
	info, _, regToken, err := r.Register(t.Context(), md)
	if err != nil {
		t.Fatal(err)
	}
	md.IDTokenSigningAlg = "EdDSA"
	if _, err := r.UpdateRegistered(t.Context(), info.ID, regToken, md); err == nil || !strings.Contains(err.Error(), "no EdDSA signing key") {
		t.Errorf("UpdateRegistered to EdDSA without a key: %v, want refused", err)
	}
	md.IDTokenSigningAlg = "ES256"
	if _, err := r.UpdateRegistered(t.Context(), info.ID, regToken, md); err != nil {
		t.Errorf("UpdateRegistered to ES256: %v", err)
	}
	if c, err := r.Client(t.Context(), info.ID); err != nil || c.IDTokenAlg() != "ES256" {
		t.Errorf("after the update: %v, alg %q", err, c.IDTokenAlg())
	}
}

// A metadata document naming an algorithm without a key is refused like
// a registration.
func TestMetadataDocumentIDTokenAlg(t *testing.T) {
	d := newDocServer(t)
	d.answer = func(w http.ResponseWriter, r *http.Request, id string) {
		writeDoc(w, fmt.Sprintf(`{"client_id":%q,"redirect_uris":["http://127.0.0.1/callback"],"id_token_signed_response_alg":%q}`,
			id, strings.TrimPrefix(r.URL.Path, "/")), "")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := d.source(t, &now)
	if c, err := src.Client(t.Context(), d.srv.URL+"/ES256"); err != nil || c.IDTokenAlg() != "ES256" {
		t.Errorf("document naming ES256: %v", err)
	}
	if _, err := src.Client(t.Context(), d.srv.URL+"/EdDSA"); err == nil || !strings.Contains(err.Error(), "no EdDSA signing key") {
		t.Errorf("document naming EdDSA without an EdDSA key: %v, want refused", err)
	}
}

// CheckIDTokenAlgs finds a configured client, or a run-time option, that
// names an algorithm without a key, through the wrappers.
func TestCheckIDTokenAlgs(t *testing.T) {
	static := func(alg string) Static {
		c := staticClient("app")
		c.IDTokenSigningAlg = alg
		s, err := NewStatic([]*Client{c}, testScopes)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	defaultKeys := []string{"ES256", "RS256"}
	for _, tc := range []struct {
		name    string
		src     Source
		have    []string
		wantErr string
	}{
		{"static default alg", static(""), defaultKeys, ""},
		{"static RS256 without an RS256 key", static(""), []string{"ES256"}, `client "app": id_token_signed_response_alg: there is no RS256 signing key`},
		{"static EdDSA behind the gate and a registry", NewGate(NewRegistry(static("EdDSA"), nil, testScopes, RegistryOptions{})), defaultKeys, `client "app"`},
		{"static EdDSA with the key", NewGate(NewRegistry(static("EdDSA"), nil, testScopes, RegistryOptions{})), append(defaultKeys, "EdDSA"), ""},
		{"registry allowing more than the keys", NewRegistry(Static{}, nil, testScopes, RegistryOptions{IDTokenAlgorithms: []string{"RS256", "PS256"}}), defaultKeys,
			"a client created at run time may name id_token_signed_response_alg PS256"},
		{"documents allowing more than the keys", NewMetadataDocuments(Static{}, MetadataDocumentOptions{IDTokenAlgorithms: []string{"EdDSA"}}), defaultKeys,
			"a client metadata document may name id_token_signed_response_alg EdDSA"},
	} {
		err := CheckIDTokenAlgs(tc.src, tc.have)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: CheckIDTokenAlgs = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
