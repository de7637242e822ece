package caddymodule

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseOutboundFetch: the options that fetch what apps name
// (private_key_jwt, client_id_metadata_documents) take the same block,
// with the same refusals naming the option.
func TestParseOutboundFetch(t *testing.T) {
	options := map[string]func(*App) *OutboundFetch{
		"private_key_jwt":              func(a *App) *OutboundFetch { return &a.PrivateKeyJWT.OutboundFetch },
		"client_id_metadata_documents": func(a *App) *OutboundFetch { return &a.ClientIDMetadataDocuments.OutboundFetch },
	}
	tests := []struct {
		block   string // after the option's name
		want    string // the block's settings, printed
		wantErr string
	}{
		{"", "&{[] []}", ""},
		{" {\nallow_network 127.0.0.0/8 ::1/128\nroot_certificate_file /ca.pem\n}", "&{[127.0.0.0/8 ::1/128] [/ca.pem]}", ""},
		{" on", "", `unexpected argument "on"`},
		{" {\nallow_network localhost\n}", "", "allow_network \"localhost\": want a CIDR prefix"},
		{" {\nallow_network\n}", "", "allow_network: expected at least one value"},
		{" {\nfetch_timeout 1s\n}", "", `unknown option "fetch_timeout"`},
	}
	for option, settings := range options {
		for _, tc := range tests {
			t.Run(option+tc.block, func(t *testing.T) {
				app, err := parseApp(t, option+tc.block)
				switch {
				case tc.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), option+": ") || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("got %v, want an error naming %s and containing %q", err, option, tc.wantErr)
					}
				case err != nil:
					t.Fatal(err)
				default:
					c := settings(app)
					if c.AllowNetworks == nil {
						c.AllowNetworks = []string{}
					}
					if c.RootCertificateFiles == nil {
						c.RootCertificateFiles = []string{}
					}
					if got := fmt.Sprint(c); got != tc.want {
						t.Fatalf("got %s, want %s", got, tc.want)
					}
				}
			})
		}
	}
}

// TestOutboundFetchResolveErrors: a bad network or CA file stops
// provisioning with a message naming the option.
func TestOutboundFetchResolveErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []OutboundFetch{
		{AllowNetworks: []string{"10.0.0.0/33"}},
		{RootCertificateFiles: []string{filepath.Join(t.TempDir(), "missing.pem")}},
		{RootCertificateFiles: []string{bad}},
	} {
		if _, _, err := c.resolve("private_key_jwt"); err == nil || !strings.Contains(err.Error(), "private_key_jwt: ") {
			t.Errorf("%+v: error %v", c, err)
		}
		if _, err := (&PrivateKeyJWTConfig{OutboundFetch: c}).keySets(); err == nil {
			t.Errorf("private_key_jwt %+v: no error", c)
		}
		if _, err := (&MetadataDocumentsConfig{OutboundFetch: c}).source(nil, nil); err == nil {
			t.Errorf("client_id_metadata_documents %+v: no error", c)
		}
	}
}
