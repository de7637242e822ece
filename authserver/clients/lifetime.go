package clients

import "time"

// LifetimeBound is implemented by a Source that knows the longest access
// token lifetime any of its clients has or can be given. The server keeps
// a replaced signing key published at least that long (key retention).
type LifetimeBound interface {
	MaxAccessTokenLifetime() time.Duration
}

// BoundOf reports src's bound, looking through a Gate (the gates' own
// client takes the server's default lifetime) or MetadataDocuments to the
// source it wraps; false when src cannot say.
func BoundOf(src Source) (time.Duration, bool) {
	switch s := src.(type) {
	case *Gate:
		return BoundOf(s.next)
	case *MetadataDocuments:
		// A document is read as a registration, whose lifetimes are
		// bounded by MaxAccessTokenLifetime.
		d, ok := BoundOf(s.next)
		return max(d, MaxAccessTokenLifetime), ok
	case LifetimeBound:
		return s.MaxAccessTokenLifetime(), true
	}
	return 0, false
}

// MaxAccessTokenLifetime implements LifetimeBound: the longest lifetime a
// client sets for itself (zero: none sets one).
func (s Static) MaxAccessTokenLifetime() time.Duration {
	var d time.Duration
	for _, c := range s {
		d = max(d, c.AccessTokenLifetime)
	}
	return d
}

// MaxAccessTokenLifetime implements LifetimeBound: the static clients'
// longest, or the longest a client created at run time may have
// (MaxAccessTokenLifetime), whichever is longer.
func (r *Registry) MaxAccessTokenLifetime() time.Duration {
	return max(r.static.MaxAccessTokenLifetime(), MaxAccessTokenLifetime)
}

// Interface guards
var (
	_ LifetimeBound = Static(nil)
	_ LifetimeBound = (*Registry)(nil)
)
