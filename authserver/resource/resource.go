// Package resource compares protected resource identifiers (RFC 8707
// resource indicators, the aud of access tokens, RFC 9728 resource) by
// URI equivalence rather than as strings, so that https://host,
// https://host/, HTTPS://HOST and https://host:443 name one resource.
//
// Identifiers are normalised once, where they enter: when a client asks
// for a resource and when a gate is configured. Normalised identifiers
// are then compared as strings.
package resource

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInvalid means the value is not a resource indicator: an absolute
// URI with a host and without a fragment (RFC 8707 §2).
var ErrInvalid = errors.New("resource must be an absolute URI without a fragment")

// Normalize returns the normal form of a resource identifier: scheme and
// host in lower case (RFC 3986 §6.2.2.1), percent-encodings in upper case
// and unreserved characters decoded (§6.2.2.2), dot segments removed
// (§6.2.2.3), the scheme's default port dropped and an empty path the
// same as "/" (§6.2.3). The path "/" alone is written as none, so an
// origin is its own identifier (https://host, as a gate names the site it
// guards). The query, which RFC 8707 discourages but allows, is kept as
// it is.
func Normalize(raw string) (string, error) {
	if strings.Contains(raw, "#") {
		return "", ErrInvalid
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", ErrInvalid
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(u.Scheme)) // url.Parse lowers it already; said for the reader
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") { // an IPv6 literal, or nonsense
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", ErrInvalid
		}
		host = "[" + ip.String() + "]"
	}
	if host == "" {
		return "", ErrInvalid // "https://:443" has a port and no host
	}
	if port := u.Port(); port != "" && port != defaultPort(u.Scheme) {
		host += ":" + port
	}
	b.WriteString(host)
	path := removeDotSegments(normalizeEscapes(u.EscapedPath()))
	if path != "/" {
		b.WriteString(path)
	}
	if u.ForceQuery || u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String(), nil
}

// Equivalent reports whether a and b identify the same resource. Values
// that are not resource indicators are equivalent only to themselves.
func Equivalent(a, b string) bool {
	if a == b {
		return true
	}
	na, errA := Normalize(a)
	nb, errB := Normalize(b)
	return errA == nil && errB == nil && na == nb
}

// Contains reports whether one of list is equivalent to r.
func Contains(list []string, r string) bool {
	for _, v := range list {
		if Equivalent(v, r) {
			return true
		}
	}
	return false
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https", "wss":
		return "443"
	case "http", "ws":
		return "80"
	}
	return ""
}

// normalizeEscapes upper-cases the hex digits of percent-encodings and
// decodes those of unreserved characters (RFC 3986 §2.3, §6.2.2.2).
func normalizeEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(c) {
				b.WriteByte(c)
			} else {
				b.WriteByte('%')
				b.WriteString(strings.ToUpper(s[i+1 : i+3]))
			}
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path (or none).
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
