package authserver

import (
	"slices"
	"strings"
)

// parseScope splits a scope parameter (RFC 6749 §3.3: space-delimited,
// case-sensitive) into distinct scopes in order of first appearance.
// It reports false when a scope token has characters §3.3 forbids.
func parseScope(raw string) ([]string, bool) {
	var out []string
	for _, s := range strings.Split(raw, " ") {
		if s == "" {
			continue
		}
		for _, c := range s {
			// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, false
			}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, true
}

// containsAll reports whether have includes every scope in want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// union returns a followed by the members of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func joinScopes(s []string) string { return strings.Join(s, " ") }
