package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/dpop"
)

// DPoPConfig turns on DPoP (RFC 9449): sender-constrained tokens at the
// token endpoint, checked at UserInfo and by the gates of this Caddy.
type DPoPConfig struct {
	// RequireNonce makes server-issued nonces mandatory in proofs at the
	// token endpoint (RFC 9449 §8). Default: off.
	RequireNonce bool `json:"require_nonce,omitempty"`
}

func (c *DPoPConfig) core() *authserver.DPoPConfig {
	if c == nil {
		return nil
	}
	return &authserver.DPoPConfig{RequireNonce: c.RequireNonce}
}

// gateVerifier is the proof checker of the gates in front of this
// Caddy's issuer: their replay record is the issuer's store, shared by
// every instance. Nil with DPoP off (bound tokens are then refused).
func (a *App) gateVerifier() *dpop.Verifier {
	if a.DPoP == nil {
		return nil
	}
	return &dpop.Verifier{Replay: a.store}
}

// parseDPoP parses
//
//	dpop [{
//		require_nonce
//	}]
func parseDPoP(d *caddyfile.Dispenser) (*DPoPConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("dpop: unexpected argument %q; options go in a block", d.Val())
	}
	c := &DPoPConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch key := d.Val(); key {
		case "require_nonce":
			if d.NextArg() {
				return nil, d.Errf("dpop: require_nonce takes no value")
			}
			c.RequireNonce = true
		default:
			return nil, d.Errf("dpop: unknown option %q", key)
		}
	}
	return c, nil
}
