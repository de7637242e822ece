package caddymodule

import (
	"crypto/x509"
	"net/netip"
	"os"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// PrivateKeyJWTConfig turns on private_key_jwt client authentication
// (RFC 7523): clients registered with that method sign an assertion with
// a key from their jwks or jwks_uri. A jwks_uri is fetched with the
// defences of client metadata documents: no loopback, private or
// link-local addresses unless allowed, no redirects, at most 64 KB.
type PrivateKeyJWTConfig struct {
	// AllowNetworks are networks (CIDR) key sets may be fetched from
	// although they are not public. Default: none.
	AllowNetworks []string `json:"allow_networks,omitempty"`
	// RootCertificateFiles are PEM files of CAs trusted for the key sets'
	// servers besides the system's. Default: none.
	RootCertificateFiles []string `json:"root_certificate_files,omitempty"`
}

// keySets builds the key finder the server uses.
func (c *PrivateKeyJWTConfig) keySets() (*clients.KeySets, error) {
	var opts clients.KeySetOptions
	for _, n := range c.AllowNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, errorf("private_key_jwt: allow_network %q: %v", n, err)
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
				return nil, errorf("private_key_jwt: root_certificate_file: %v", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errorf("private_key_jwt: root_certificate_file %s: no PEM certificate", f)
			}
		}
		opts.RootCAs = pool
	}
	return clients.NewKeySets(opts), nil
}

// parsePrivateKeyJWT parses
//
//	private_key_jwt [{
//		allow_network <cidr>...
//		root_certificate_file <pem file>...
//	}]
func parsePrivateKeyJWT(d *caddyfile.Dispenser) (*PrivateKeyJWTConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("private_key_jwt: unexpected argument %q; options go in a block", d.Val())
	}
	c := &PrivateKeyJWTConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		values := d.RemainingArgs()
		if len(values) == 0 {
			return nil, d.Errf("private_key_jwt: %s: expected at least one value", key)
		}
		switch key {
		case "allow_network":
			for _, v := range values {
				if _, err := netip.ParsePrefix(v); err != nil {
					return nil, d.Errf("private_key_jwt: allow_network %q: want a CIDR prefix such as 127.0.0.0/8", v)
				}
			}
			c.AllowNetworks = append(c.AllowNetworks, values...)
		case "root_certificate_file":
			c.RootCertificateFiles = append(c.RootCertificateFiles, values...)
		default:
			return nil, d.Errf("private_key_jwt: unknown option %q", key)
		}
	}
	return c, nil
}

// refuseKeyClients refuses static clients that authenticate with
// private_key_jwt while it is off: they could never authenticate.
func refuseKeyClients(cs []*ClientConfig) error {
	for _, c := range cs {
		if c.TokenEndpointAuthMethod == clients.AuthMethodPrivateKeyJWT {
			return errorf("client %s: token_endpoint_auth_method private_key_jwt needs the private_key_jwt option", c.ID)
		}
	}
	return nil
}
