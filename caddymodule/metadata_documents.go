package caddymodule

import (
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
	// Where documents may be fetched from beyond public addresses, e.g.
	// 127.0.0.0/8 for agents on this machine.
	OutboundFetch
}

// source wraps next with the metadata document resolver.
// algs are the signing algorithms the server has keys for.
func (c *MetadataDocumentsConfig) source(next clients.Source, algs []string) (*clients.MetadataDocuments, error) {
	networks, pool, err := c.resolve("client_id_metadata_documents")
	if err != nil {
		return nil, err
	}
	return clients.NewMetadataDocuments(next, clients.MetadataDocumentOptions{SupportedScopes: authserver.SupportedScopes(),
		IDTokenAlgorithms: algs, AllowNetworks: networks, RootCAs: pool}), nil
}

// parseMetadataDocuments parses
//
//	client_id_metadata_documents [{
//		allow_network <cidr>...
//		root_certificate_file <pem file>...
//	}]
func parseMetadataDocuments(d *caddyfile.Dispenser) (*MetadataDocumentsConfig, error) {
	f, err := parseOutboundFetch(d, "client_id_metadata_documents")
	if err != nil {
		return nil, err
	}
	return &MetadataDocumentsConfig{OutboundFetch: f}, nil
}
