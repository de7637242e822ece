package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

func TestParseMetadataDocuments(t *testing.T) {
	tests := []struct {
		input   string
		want    string // the config, printed; "" when nil
		wantErr string
	}{
		{"client_id_metadata_documents", "&{{[] []}}", ""},
		{"client_id_metadata_documents {\nallow_network 127.0.0.0/8 ::1/128\nroot_certificate_file /ca.pem\n}", "&{{[127.0.0.0/8 ::1/128] [/ca.pem]}}", ""},
		{"client_id_metadata_documents on", "", `unexpected argument "on"`},
		{"client_id_metadata_documents {\nallow_network localhost\n}", "", "want a CIDR prefix"},
		{"client_id_metadata_documents {\nallow_network\n}", "", "expected at least one value"},
		{"client_id_metadata_documents {\nfetch_timeout 1s\n}", "", `unknown option "fetch_timeout"`},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			app, err := parseApp(t, tc.input)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			default:
				c := app.ClientIDMetadataDocuments
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

func TestMetadataDocumentsSource(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*MetadataDocumentsConfig{
		{OutboundFetch: OutboundFetch{AllowNetworks: []string{"10.0.0.0/33"}}},
		{OutboundFetch: OutboundFetch{RootCertificateFiles: []string{filepath.Join(t.TempDir(), "missing.pem")}}},
		{OutboundFetch: OutboundFetch{RootCertificateFiles: []string{bad}}},
	} {
		if _, err := c.source(clients.Static{}, nil); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	src, err := (&MetadataDocumentsConfig{}).source(clients.Static{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without an allow-list, a document on this machine is refused.
	if _, err := src.Client(context.Background(), "https://127.0.0.1:1/client.json"); !errors.Is(err, clients.ErrUnknown) || !strings.Contains(err.Error(), "non-public") {
		t.Errorf("loopback document: %v", err)
	}
}
