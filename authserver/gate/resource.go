package gate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/resource"
)

// ResourceFor is the resource identifier of the site at origin: the one
// Bearer tokens must name in aud, and the one its RFC 9728 metadata
// states.
func (g *Gate) ResourceFor(origin string) string { return g.resource(origin) }

// normalizeResource puts a configured resource in its normal form
// (package resource), once, so tokens are compared with it as issued,
// and returns its path ("" for none): an absolute URI's, or the resource
// itself when it is a path under the site's origins. The default, the
// site's origin, is in normal form already.
func normalizeResource(cfg *Config) (string, error) {
	raw := cfg.Resource
	if raw == "" {
		return "", nil
	}
	pathOnly := strings.HasPrefix(raw, "/")
	if pathOnly {
		if strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "?#") {
			return "", fmt.Errorf("gate: resource %q: a path must start with a single / and have no query", raw)
		}
		raw = pathBase + raw
	}
	n, err := resource.Normalize(raw)
	if err != nil {
		return "", fmt.Errorf("gate: resource %q: %w", cfg.Resource, err)
	}
	u, err := url.Parse(n)
	if err != nil { // cannot happen: n is a normalised URI
		return "", fmt.Errorf("gate: resource %q: %w", cfg.Resource, err)
	}
	if pathOnly {
		n = strings.TrimPrefix(n, pathBase)
	}
	cfg.Resource = n
	return u.EscapedPath(), nil
}

// pathBase stands for each origin while a resource given as a path is
// normalised.
const pathBase = "https://origin.invalid"

// audienceIncludes reports whether a token's aud names the resource r: by
// URI equivalence (RFC 3986 §6.2), so that a token an external issuer
// made out to https://host/ is for the resource https://host.
func audienceIncludes(aud []string, r string) bool { return resource.Contains(aud, r) }
