package clients

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// ValidateRedirectURI checks a redirect URI at registration: absolute, no
// fragment (RFC 6749 §3.1.2), https, or http only on a loopback host
// (RFC 8252 §7.3, RFC 9700 §2.6), or a private-use reverse-domain scheme
// for native public clients (RFC 8252 §7.1).
func ValidateRedirectURI(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !utf8.ValidString(raw) {
		return fmt.Errorf("redirect URI %q is not a valid URI", raw)
	}
	if !u.IsAbs() {
		return fmt.Errorf("redirect URI %q must be absolute", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q must not contain user information", raw)
	}
	// url.Parse takes any run of digits as a port (RFC 3986 §3.2.3 allows
	// that), so "host:" and ports such as 0, 99999 or 00080 get through it.
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if !validPort(p) {
			return fmt.Errorf("redirect URI %q: port %q is not a port from 1 to 65535 written without leading zeros", raw, p)
		}
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
		return nil
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q uses plain http on a non-loopback host; use https", raw)
		}
		return nil
	}
	if public && strings.Contains(u.Scheme, ".") {
		return nil
	}
	return fmt.Errorf("redirect URI %q: scheme %q not allowed (https, http on loopback, or a reverse-domain private-use scheme for native public clients)", raw, u.Scheme)
}

// ValidateBackchannelLogoutURI checks a client's backchannel_logout_uri
// (OIDC Back-Channel Logout 1.0 §2.2): absolute, no fragment, https, or
// plain http only on a loopback host (for development).
func ValidateBackchannelLogoutURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("back-channel logout URI %q must be an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("back-channel logout URI %q must not contain a fragment", raw)
	}
	if u.User != nil {
		return fmt.Errorf("back-channel logout URI %q must not contain user information", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("back-channel logout URI %q must use https (plain http only on loopback hosts)", raw)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MatchRedirectURI reports whether raw matches a registered redirect URI.
// Matching is exact string comparison (RFC 9700 §4.1.3), except that for
// http on a loopback IP literal the port is ignored (RFC 8252 §7.3): the
// two strings must then be equal once their ports are removed.
func (c *Client) MatchRedirectURI(raw string) bool {
	if slices.Contains(c.RedirectURIs, raw) {
		return true
	}
	req, ok := loopbackWithoutPort(raw)
	if !ok {
		return false
	}
	for _, reg := range c.RedirectURIs {
		if r, ok := loopbackWithoutPort(reg); ok && r == req {
			return true
		}
	}
	return false
}

// MatchesAnyPort reports whether raw is a redirect URI that matches
// whatever its port: http on a loopback IP literal (RFC 8252 §7.3).
func MatchesAnyPort(raw string) bool {
	_, ok := loopbackWithoutPort(raw)
	return ok
}

// loopbackWithoutPort returns s with its port removed when s is an http
// URI on a loopback IP literal ("http://127.0.0.1:8080/cb" becomes
// "http://127.0.0.1/cb"), working on the text so that nothing but the
// port can differ between two URIs that compare equal. The port, when
// present, must be a real one (validPort): "any port" in RFC 8252 §7.3 is
// any port a native app can listen on, not any string of digits.
func loopbackWithoutPort(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(tail, "#") {
		return "", false
	}
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		host, port = authority[:i], authority[i+1:]
		if !validPort(port) {
			return "", false
		}
	}
	ipText := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip := net.ParseIP(ipText)
	if ip == nil || !ip.IsLoopback() || (strings.Contains(ipText, ":") != strings.HasPrefix(host, "[")) {
		return "", false
	}
	return "http://" + host + tail, true
}

// validPort reports whether p is a TCP port a redirect may name: 1 to
// 65535 in plain decimal. RFC 3986 §3.2.3 lets a URI's port be any run of
// digits, but 0 is not a port anyone listens on, numbers past 65535 are
// wrapped or refused differently by different parsers, and leading zeros
// give one port many spellings (00080 is 80), none of which a client
// legitimately needs.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
