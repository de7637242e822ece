package gate

import (
	"fmt"

	"github.com/gatehouse-auth/gatehouse/authserver/resource"
)

// ResourceFor is the resource identifier of the site at origin: the one
// Bearer tokens must name in aud, and the one its RFC 9728 metadata
// states.
func (g *Gate) ResourceFor(origin string) string { return g.resource(origin) }

// normalizeResource puts a configured resource in its normal form
// (package resource), once, so tokens are compared with it as issued.
// The default, the site's origin, is in normal form already.
func normalizeResource(cfg *Config) error {
	if cfg.Resource == "" {
		return nil
	}
	n, err := resource.Normalize(cfg.Resource)
	if err != nil {
		return fmt.Errorf("gate: resource %q: %w", cfg.Resource, err)
	}
	cfg.Resource = n
	return nil
}

// audienceIncludes reports whether a token's aud names the resource r: by
// URI equivalence (RFC 3986 §6.2), so that a token an external issuer
// made out to https://host/ is for the resource https://host.
func audienceIncludes(aud []string, r string) bool { return resource.Contains(aud, r) }
