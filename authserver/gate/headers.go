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

// DefaultHeaders returns the identity headers upstreams receive unless
// configured otherwise.
func DefaultHeaders() []HeaderMapping {
	return []HeaderMapping{
		{"sub", "X-Gatehouse-User-Id"},
		{"preferred_username", "X-Gatehouse-User"},
		{"email", "X-Gatehouse-Email"},
		{"email_verified", "X-Gatehouse-Email-Verified"},
		{"name", "X-Gatehouse-Name"},
		{"groups", "X-Gatehouse-Groups"},
		{"scope", "X-Gatehouse-Scopes"},
		{"client_id", "X-Gatehouse-Client-Id"},
		{"auth_source", "X-Gatehouse-Auth-Source"},
		{"idp", "X-Gatehouse-Idp"},
		{"amr", "X-Gatehouse-Amr"},
	}
}

// KnownClaims returns the claims a mapping may name.
func KnownClaims() []string {
	return []string{"sub", "preferred_username", "email", "email_verified", "name", "groups", "scope", "client_id", "iss", "auth_source", "idp", "amr", "acr"}
}

// ownedPrefix is the gate's header namespace: whatever a client sends
// under it is removed, including names the gate does not set today.
const ownedPrefix = "x-gatehouse-"

// stripHeaders deletes every header the gate manages, whether or not it
// will set it, so nothing the client sent under those names survives:
// every X-Gatehouse-* header and every configured name, in any letter
// case, and with '_' or '.' in place of '-' (CGI, PHP, WSGI and Rack
// upstreams read X_Gatehouse_User as X-Gatehouse-User). It also takes
// those names out of Connection: a proxy deletes the headers a request
// lists there as hop-by-hop (RFC 9110 §7.6.1), which would let a client
// delete the headers the gate is about to set.
func (g *Gate) stripHeaders(r *http.Request) {
	h := r.Header
	for name := range h {
		if g.ownsHeader(name) {
			delete(h, name)
		}
	}
	for _, name := range hopByHopLists {
		if vs, ok := h[name]; ok {
			g.dropOwnedTokens(h, name, vs)
		}
	}
	// A Referer naming the gate's callback carries a login's code and
	// state (clients that follow redirects send it on the next request);
	// the upstream, its logs and Caddy's have no use for them.
	if ref := h.Get("Referer"); ref != "" && strings.Contains(ref, g.cfg.CallbackPath) {
		if u, err := url.Parse(ref); err != nil || u.Path == g.cfg.CallbackPath {
			h.Del("Referer")
		}
	}
}

// hopByHopLists are the headers whose values name other headers.
var hopByHopLists = []string{"Connection", "Proxy-Connection", "Keep-Alive"}

// ownsHeader reports whether a header name, as the client spelled it, is
// one the gate manages.
func (g *Gate) ownsHeader(name string) bool {
	// Most headers (Accept, Cookie, User-Agent...) are told apart by
	// their first letter alone.
	if name == "" || !g.ownedFirst[foldHeaderByte(name[0])] {
		return false
	}
	if len(name) >= len(ownedPrefix) && sameHeaderName(name[:len(ownedPrefix)], ownedPrefix) {
		return true
	}
	for _, m := range g.headers {
		if sameHeaderName(name, m.Header) {
			return true
		}
	}
	return false
}

// sameHeaderName compares header names ignoring case and reading '_' and
// '.' as '-'.
func sameHeaderName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

func foldHeaderByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_' || c == '.':
		return '-'
	}
	return c
}

// dropOwnedTokens rewrites the list header name without the tokens that
// name a header the gate owns, deleting it when nothing is left.
func (g *Gate) dropOwnedTokens(h http.Header, name string, values []string) {
	var kept []string
	changed := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if g.ownsHeader(tok) {
				changed = true
				continue
			}
			kept = append(kept, tok)
		}
	}
	if !changed {
		return
	}
	if len(kept) == 0 {
		delete(h, name)
		return
	}
	h[name] = []string{strings.Join(kept, ", ")}
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
