package resource

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://host", "https://host"},
		{"https://host/", "https://host"},
		{"HTTPS://HOST.Example/", "https://host.example"},
		{"https://host:443/", "https://host"},
		{"https://host:/", "https://host"},
		{"http://host:80", "http://host"},
		{"http://host:443", "http://host:443"},
		{"https://host:8443", "https://host:8443"},
		{"https://host:8443/mcp", "https://host:8443/mcp"},
		{"https://host/mcp/", "https://host/mcp/"}, // not the same as /mcp (RFC 3986 §6.2.3 says nothing of it)
		{"https://host/MCP", "https://host/MCP"},   // paths are case-sensitive
		{"https://host/a/./b/../c", "https://host/a/c"},
		{"https://host/a/..", "https://host"},
		{"https://host/%7euser/%2f%41", "https://host/~user/%2FA"},
		{"https://[::1]:443/x", "https://[::1]/x"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://host/?a=B", "https://host?a=B"},
		{"https://host/p?", "https://host/p?"},
		{"urn:x:y", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Normalize(%q) = %q, %v; want ErrInvalid", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// The normal form is a fixed point.
			if again, err := Normalize(got); err != nil || again != got {
				t.Errorf("Normalize(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}

func TestNormalizeRefuses(t *testing.T) {
	for _, in := range []string{"", "/relative", "host/path", "https://host/#frag", "https://host#", "https://", "mailto:a@b", "https://ho st/", "https://host:x/"} {
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		}
	}
}

func TestEquivalent(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://host", "https://host/", true},
		{"https://HOST:443", "https://host", true},
		{"https://host/mcp", "https://host/mcp/", false},
		{"https://host", "http://host", false},
		{"https://host:8443", "https://host", false},
		{"not a uri", "not a uri", true},
		{"not a uri", "https://host", false},
	}
	for _, tc := range tests {
		if got := Equivalent(tc.a, tc.b); got != tc.want {
			t.Errorf("Equivalent(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if !Contains([]string{"https://a.example", "https://B.example/"}, "https://b.example") || Contains(nil, "https://a.example") {
		t.Error("Contains")
	}
}
