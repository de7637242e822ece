package caddymodule

import (
	"crypto/x509"
	"net/netip"
	"os"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// MetadataDocumentsConfig turns on Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document, adopted by MCP): a
// client_id that is an https URL is resolved by fetching its metadata
// document, and the app is treated as a third-party public client. The
// fetch refuses loopback, private and link-local addresses, redirects and
// documents over 5 KB.
type MetadataDocumentsConfig struct {
	// AllowNetworks are networks (CIDR) documents may be fetched from
	// although they are not public, e.g. 127.0.0.0/8 for agents on this
	// machine. Default: none.
	AllowNetworks []string `json:"allow_networks,omitempty"`
	// RootCertificateFiles are PEM files of CAs trusted for the documents'
	// servers besides the system's (a local CA). Default: none.
	RootCertificateFiles []string `json:"root_certificate_files,omitempty"`
}

// source wraps next with the metadata document resolver.
// algs are the signing algorithms the server has keys for.
func (c *MetadataDocumentsConfig) source(next clients.Source, algs []string) (*clients.MetadataDocuments, error) {
	opts := clients.MetadataDocumentOptions{SupportedScopes: authserver.SupportedScopes(), IDTokenAlgorithms: algs}
	for _, n := range c.AllowNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, errorf("client_id_metadata_documents: allow_network %q: %v", n, err)
		}
		opts.AllowNetworks = append(opts.AllowNetworks, p.Masked())
	}
	if len(c.RootCertificateFiles) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range c.RootCertificateFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, errorf("client_id_metadata_documents: root_certificate_file: %v", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errorf("client_id_metadata_documents: root_certificate_file %s: no PEM certificate", f)
			}
		}
		opts.RootCAs = pool
	}
	return clients.NewMetadataDocuments(next, opts), nil
}

// parseMetadataDocuments parses
//
//	client_id_metadata_documents [{
//		allow_network <cidr>...
//		root_certificate_file <pem file>...
//	}]
func parseMetadataDocuments(d *caddyfile.Dispenser) (*MetadataDocumentsConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("client_id_metadata_documents: unexpected argument %q; options go in a block", d.Val())
	}
	c := &MetadataDocumentsConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		values := d.RemainingArgs()
		if len(values) == 0 {
			return nil, d.Errf("client_id_metadata_documents: %s: expected at least one value", key)
		}
		switch key {
		case "allow_network":
			for _, v := range values {
				if _, err := netip.ParsePrefix(v); err != nil {
					return nil, d.Errf("client_id_metadata_documents: allow_network %q: want a CIDR prefix such as 127.0.0.0/8", v)
				}
			}
			c.AllowNetworks = append(c.AllowNetworks, values...)
		case "root_certificate_file":
			c.RootCertificateFiles = append(c.RootCertificateFiles, values...)
		default:
			return nil, d.Errf("client_id_metadata_documents: unknown option %q", key)
		}
	}
	return c, nil
}
