package caddymodule

import (
	"crypto/x509"
	"net/netip"
	"os"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// OutboundFetch says where the issuer may fetch documents that apps name
// (client metadata documents, jwks_uri) beyond the public Internet, and
// which extra CAs it trusts there. Both options embed it.
type OutboundFetch struct {
	// AllowNetworks are networks (CIDR) documents may be fetched from
	// although they are not public, e.g. 127.0.0.0/8 for apps on this
	// machine. Default: none.
	AllowNetworks []string `json:"allow_networks,omitempty"`
	// RootCertificateFiles are PEM files of CAs trusted for those servers
	// besides the system's (a local CA). Default: none.
	RootCertificateFiles []string `json:"root_certificate_files,omitempty"`
}

// parseOutboundFetch parses option's optional block
//
//	<option> [{
//		allow_network <cidr>...
//		root_certificate_file <pem file>...
//	}]
func parseOutboundFetch(d *caddyfile.Dispenser, option string) (OutboundFetch, error) {
	var c OutboundFetch
	if d.NextArg() {
		return c, d.Errf("%s: unexpected argument %q; options go in a block", option, d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		values := d.RemainingArgs()
		if len(values) == 0 {
			return c, d.Errf("%s: %s: expected at least one value", option, key)
		}
		switch key {
		case "allow_network":
			for _, v := range values {
				if _, err := netip.ParsePrefix(v); err != nil {
					return c, d.Errf("%s: allow_network %q: want a CIDR prefix such as 127.0.0.0/8", option, v)
				}
			}
			c.AllowNetworks = append(c.AllowNetworks, values...)
		case "root_certificate_file":
			c.RootCertificateFiles = append(c.RootCertificateFiles, values...)
		default:
			return c, d.Errf("%s: unknown option %q", option, key)
		}
	}
	return c, nil
}

// resolve checks the networks and loads the CA files; option names the
// configuration in errors. A nil pool means the system's alone.
func (c OutboundFetch) resolve(option string) ([]netip.Prefix, *x509.CertPool, error) {
	var networks []netip.Prefix
	for _, n := range c.AllowNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, nil, errorf("%s: allow_network %q: %v", option, n, err)
		}
		networks = append(networks, p.Masked())
	}
	if len(c.RootCertificateFiles) == 0 {
		return networks, nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, f := range c.RootCertificateFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, errorf("%s: root_certificate_file: %v", option, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, errorf("%s: root_certificate_file %s: no PEM certificate", option, f)
		}
	}
	return networks, pool, nil
}
