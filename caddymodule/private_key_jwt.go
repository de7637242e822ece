package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// PrivateKeyJWTConfig turns on private_key_jwt client authentication
// (RFC 7523): clients registered with that method sign an assertion with
// a key from their jwks or jwks_uri. A jwks_uri is fetched with the
// defences of client metadata documents: no loopback, private or
// link-local addresses unless allowed, no redirects, at most 64 KB.
type PrivateKeyJWTConfig struct {
	// Where key sets may be fetched from beyond public addresses.
	OutboundFetch
}

// keySets builds the key finder the server uses.
func (c *PrivateKeyJWTConfig) keySets() (*clients.KeySets, error) {
	networks, pool, err := c.resolve("private_key_jwt")
	if err != nil {
		return nil, err
	}
	return clients.NewKeySets(clients.KeySetOptions{AllowNetworks: networks, RootCAs: pool}), nil
}

// parsePrivateKeyJWT parses
//
//	private_key_jwt [{
//		allow_network <cidr>...
//		root_certificate_file <pem file>...
//	}]
func parsePrivateKeyJWT(d *caddyfile.Dispenser) (*PrivateKeyJWTConfig, error) {
	f, err := parseOutboundFetch(d, "private_key_jwt")
	if err != nil {
		return nil, err
	}
	return &PrivateKeyJWTConfig{OutboundFetch: f}, nil
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
