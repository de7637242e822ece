package gate

import (
	"net/http"
	"net/textproto"
	"strings"
)

// What a gated request costs once its credential is cached: a cache
// lookup and writing the identity's headers. Everything that depends only
// on the identity (header values, the joined groups and scopes, the
// host's placeholders) is computed once, when the identity enters a
// cache, and shared by every request it lets through (issue 19).

// prepared is what the gate computes once per verified identity.
type prepared struct {
	// headers[i] is the value of the gate's headers[i] ("": none).
	headers []string
	// nonEmpty counts the headers with a value.
	nonEmpty int
	// claims by KnownClaims index, as Claim returns them.
	claims [numClaims]string
	// placeholders answers the host's placeholder lookups; nil unless
	// Config.PlaceholderPrefix is set.
	placeholders func(key string) (any, bool)
}

// numClaims is len(KnownClaims()); TestClaimIndex checks it.
const numClaims = 13

// prepare fills id's precomputed values for g. It runs before id is
// shared (put in a cache), so no request ever sees it half done.
func (g *Gate) prepare(id *Identity) *Identity {
	p := &prepared{headers: make([]string, len(g.headers))}
	for i, c := range KnownClaims() {
		p.claims[i] = id.claim(c)
	}
	id.prep = p // Claim now reads the precomputed values
	for i, m := range g.headers {
		p.headers[i] = headerValue(id.Claim(m.Claim))
		if p.headers[i] != "" {
			p.nonEmpty++
		}
	}
	if prefix := g.cfg.PlaceholderPrefix; prefix != "" {
		var boxed [numClaims]any // boxed once, so lookups do not allocate
		for i, v := range p.claims {
			boxed[i] = v
		}
		p.placeholders = func(key string) (any, bool) {
			name, ok := strings.CutPrefix(key, prefix)
			if !ok {
				return nil, false
			}
			if name == "id" {
				name = "sub"
			}
			if i := claimIndex(name); i >= 0 && p.claims[i] != "" {
				return boxed[i], true
			}
			return nil, false
		}
	}
	return id
}

// Placeholders answers lookups of the identity's placeholders, named
// Config.PlaceholderPrefix + "id" (the subject) or + a claim of
// KnownClaims; absent claims are not found. The function is computed
// once per identity, so handing it to a template engine per request
// costs nothing. Nil when the gate has no PlaceholderPrefix.
func (id *Identity) Placeholders() func(key string) (any, bool) {
	if id.prep == nil {
		return nil
	}
	return id.prep.placeholders
}

// SetHeaders writes the identity's claims into the request headers. Empty
// claims leave their header absent (it was already deleted). A prepared
// identity's values are reused; the request gets one fresh backing array
// for them, so nothing downstream that edits a header in place can reach
// the cached values.
func (g *Gate) SetHeaders(r *http.Request, id *Identity) {
	p := id.prep
	if p == nil || len(p.headers) != len(g.headers) {
		p = g.prepare(&Identity{}).prep // shape only; values below
		p.headers, p.nonEmpty = p.headers[:0], 0
		for _, m := range g.headers {
			v := headerValue(id.Claim(m.Claim))
			p.headers = append(p.headers, v)
			if v != "" {
				p.nonEmpty++
			}
		}
	}
	if p.nonEmpty == 0 {
		return
	}
	backing := make([]string, p.nonEmpty)
	j := 0
	for i, v := range p.headers {
		if v == "" {
			continue
		}
		backing[j] = v
		r.Header[g.canonical[i]] = backing[j : j+1 : j+1]
		j++
	}
}

// cookieHeaderValue returns the value of the first valid cookie named
// name in the Cookie header lines, as http.Request.Cookie would, without
// parsing (and allocating) every other cookie.
func cookieHeaderValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if v, ok := cookieValue(v); ok {
				return v, true
			}
		}
	}
	return "", false
}

// cookieValue checks a raw cookie value (RFC 6265 §4.1.1) and removes
// its optional double quotes, as net/http does.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return raw, true
}

// stripCookies removes Gatehouse's cookies from the request, so no
// session reaches the upstream: the gate's own, and the issuer's, which a
// browser also sends when issuer and app share a host name (cookies are
// not scoped by port). The others pass as the browser sent them; a
// request without Gatehouse cookies is not touched (nor allocated for).
func (g *Gate) stripCookies(r *http.Request) {
	lines := r.Header["Cookie"]
	if !g.anyOwnCookie(lines) {
		return
	}
	var kept strings.Builder
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			n, _, _ := strings.Cut(part, "=")
			if part == "" || g.ownCookie(textproto.TrimString(n)) {
				continue
			}
			if kept.Len() > 0 {
				kept.WriteString("; ")
			} else {
				kept.Grow(len(lines[0]))
			}
			kept.WriteString(part)
		}
	}
	if kept.Len() == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = []string{kept.String()}
}

// anyOwnCookie reports whether the Cookie lines carry a Gatehouse cookie.
func (g *Gate) anyOwnCookie(lines []string) bool {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, _, _ := strings.Cut(part, "=")
			if g.ownCookie(textproto.TrimString(n)) {
				return true
			}
		}
	}
	return false
}

// ownCookie reports whether a cookie name is Gatehouse's.
func (g *Gate) ownCookie(name string) bool {
	return strings.HasPrefix(strings.TrimPrefix(name, "__Host-"), "gatehouse_") ||
		strings.HasPrefix(name, g.cookieName) || strings.HasPrefix(name, g.loginCookiePrefix)
}
