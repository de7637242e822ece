package authserver

import (
	"net/url"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// Apps that registered themselves (RFC 7591) or that are known only by a
// client metadata document are agents nobody vetted: the pages show what
// they say about themselves as their claim, never content they point to.

// logoOf is the logo the pages may load for client: none for a
// self-registered or metadata-document client, whose logo URI would let
// whoever registered it learn when and from where the user opens the page
// (a letter avatar stands in).
func logoOf(c *clients.Client) string {
	if c.Dynamic {
		return ""
	}
	return c.LogoURI
}

// metadataHostOf is the host a client metadata document came from, for
// a client whose id is its URL; "" for other clients.
func metadataHostOf(c *clients.Client) string {
	if !clients.IsMetadataDocumentID(c.ID) {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil {
		return ""
	}
	return u.Host
}
