package gate

// ResourceFor is the resource identifier of the site at origin: the one
// Bearer tokens must name in aud, and the one its RFC 9728 metadata
// states.
func (g *Gate) ResourceFor(origin string) string { return g.resource(origin) }
