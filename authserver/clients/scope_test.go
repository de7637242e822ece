package clients

import (
	"slices"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"openid", []string{"openid"}, true},
		{"openid  email openid", []string{"openid", "email"}, true},
		{" profile ", []string{"profile"}, true},
		{"OpenID", []string{"OpenID"}, true},
		{"a\"b", nil, false},
		{"a\\b", nil, false},
		{"caf\u00e9", nil, false},
		{"tab\there", nil, false},
	}
	for _, tc := range tests {
		got, ok := ParseScope(tc.raw)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScope(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
