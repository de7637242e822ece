package gate

import (
	"net/http"
	"net/url"
	"strings"
)

// HeaderMapping puts one claim into one request header for the upstream.
type HeaderMapping struct {
	Claim  string // e.g. "email"
	Header string // e.g. "X-Gatehouse-Email"
}

// DefaultHeaders are the identity headers upstreams receive unless
// configured otherwise.
var DefaultHeaders = []HeaderMapping{
	{"sub", "X-Gatehouse-User-Id"},
	{"preferred_username", "X-Gatehouse-User"},
	{"email", "X-Gatehouse-Email"},
	{"email_verified", "X-Gatehouse-Email-Verified"},
	{"name", "X-Gatehouse-Name"},
	{"groups", "X-Gatehouse-Groups"},
	{"scope", "X-Gatehouse-Scopes"},
	{"client_id", "X-Gatehouse-Client-Id"},
	{"auth_source", "X-Gatehouse-Auth-Source"},
}

// KnownClaims are the claims a mapping may name.
var KnownClaims = []string{"sub", "preferred_username", "email", "email_verified", "name", "groups", "scope", "client_id", "iss", "auth_source"}

// stripHeaders deletes every header the gate manages, whether or not it
// will set it, so nothing the client sent under those names survives.
func (g *Gate) stripHeaders(r *http.Request) {
	for _, m := range g.headers {
		r.Header.Del(m.Header)
	}
	// A Referer naming the gate's callback carries a login's code and
	// state (clients that follow redirects send it on the next request);
	// the upstream, its logs and Caddy's have no use for them.
	if ref := r.Header.Get("Referer"); ref != "" {
		if u, err := url.Parse(ref); err != nil || u.Path == g.cfg.CallbackPath {
			r.Header.Del("Referer")
		}
	}
}

// SetHeaders writes the identity's claims into the request headers. Empty
// claims leave their header absent (it was already deleted).
func (g *Gate) SetHeaders(r *http.Request, id *Identity) {
	for _, m := range g.headers {
		if v := headerValue(id.Claim(m.Claim)); v != "" {
			r.Header.Set(m.Header, v)
		}
	}
}

// Headers are the configured mappings.
func (g *Gate) Headers() []HeaderMapping { return g.headers }

// headerValue drops characters a header value cannot carry (CR, LF, NUL
// and other controls), so a claim can never inject a header.
func headerValue(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// stripCookies removes Gatehouse's cookies from the request, so no
// session reaches the upstream: the gate's own, and the issuer's, which a
// browser also sends when issuer and app share a host name (cookies are
// not scoped by port).
func (g *Gate) stripCookies(r *http.Request) {
	cookies := r.Cookies()
	if len(cookies) == 0 {
		return
	}
	kept := make([]string, 0, len(cookies))
	removed := false
	for _, c := range cookies {
		name := strings.TrimPrefix(c.Name, "__Host-")
		if strings.HasPrefix(name, "gatehouse_") || strings.HasPrefix(c.Name, g.cookieName) || strings.HasPrefix(c.Name, g.loginCookiePrefix) {
			removed = true
			continue
		}
		kept = append(kept, c.String())
	}
	if !removed {
		return
	}
	r.Header.Del("Cookie")
	if len(kept) > 0 {
		r.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}
