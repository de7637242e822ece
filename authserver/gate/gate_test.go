package gate

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPolicyAllowsIdentity(t *testing.T) {
	alice := &Identity{Subject: "u1", Username: "alice", Email: "Alice@Example.com", EmailVerified: true, Groups: []string{"staff"}}
	unverified := &Identity{Subject: "u2", Username: "carol", Email: "carol@example.com"}
	tests := []struct {
		name   string
		policy Policy
		id     *Identity
		want   bool
	}{
		{"no rules", Policy{}, alice, true},
		{"user id", Policy{Users: []string{"u1"}}, alice, true},
		{"other user id", Policy{Users: []string{"u9"}}, alice, false},
		{"username", Policy{Usernames: []string{"alice"}}, alice, true},
		{"username is case-sensitive", Policy{Usernames: []string{"Alice"}}, alice, false},
		{"email, any case", Policy{Emails: []string{"alice@example.COM"}}, alice, true},
		{"email, unverified", Policy{Emails: []string{"carol@example.com"}}, unverified, false},
		{"email domain, verified", Policy{EmailDomains: []string{"example.com"}}, alice, true},
		{"email domain, unverified", Policy{EmailDomains: []string{"example.com"}}, unverified, false},
		{"domain suffix is not a match", Policy{EmailDomains: []string{"ample.com"}}, alice, false},
		{"group", Policy{Groups: []string{"admins", "staff"}}, alice, true},
		{"other group", Policy{Groups: []string{"admins"}}, alice, false},
		{"any rule suffices", Policy{Users: []string{"u9"}, Groups: []string{"staff"}}, alice, true},
		{"scopes alone do not restrict identities", Policy{Scopes: []string{"x"}}, alice, true},
		{"no email, email rule", Policy{Emails: []string{""}}, &Identity{Subject: "u3"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.allowsIdentity(tc.id); got != tc.want {
				t.Fatalf("allowsIdentity = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyMissingScopes(t *testing.T) {
	p := Policy{Scopes: []string{"read", "write"}}
	bearer := &Identity{Source: SourceBearer, Scopes: []string{"read"}}
	if got := p.missingScopes(bearer); len(got) != 1 || got[0] != "write" {
		t.Errorf("missingScopes = %q, want [write]", got)
	}
	if got := p.missingScopes(&Identity{Source: SourceSession}); got != nil {
		t.Errorf("sessions carry no scopes to check, got %q", got)
	}
}

func TestSafeReturnTo(t *testing.T) {
	tests := map[string]string{
		"/":                    "/",
		"/a/b?c=d":             "/a/b?c=d",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"evil":                 "/",
		"":                     "/",
		"/a\r\nLocation: x":    "/",
		"/%2F%2Fevil":          "/%2F%2Fevil",
	}
	for in, want := range tests {
		if got := safeReturnTo(in); got != want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	if got := headerValue("Alice\r\nX-Admin: 1\x00"); strings.ContainsAny(got, "\r\n\x00") {
		t.Fatalf("headerValue kept control characters: %q", got)
	}
	if got := headerValue("Zoë Ünicode"); got != "Zoë Ünicode" {
		t.Fatalf("headerValue changed a clean value: %q", got)
	}
}

func TestIsBrowserNavigation(t *testing.T) {
	tests := []struct {
		method, accept string
		want           bool
	}{
		{http.MethodGet, "text/html,application/xhtml+xml", true},
		{http.MethodHead, "text/html", true},
		{http.MethodGet, "application/json", false},
		{http.MethodGet, "", false},
		{http.MethodPost, "text/html", false},
	}
	for _, tc := range tests {
		r, _ := http.NewRequest(tc.method, "https://app.example/", nil)
		r.Header.Set("Accept", tc.accept)
		if got := isBrowserNavigation(r); got != tc.want {
			t.Errorf("%s Accept %q: %v, want %v", tc.method, tc.accept, got, tc.want)
		}
	}
}

func TestVerifiedCacheBounded(t *testing.T) {
	c := newVerifiedCache(100)
	now := time.Unix(1700000000, 0)
	for i := range 1000 {
		c.put(keyOf("token", string(rune(i))), cacheEntry{id: &Identity{}, expires: now.Add(time.Minute)}, now)
	}
	if n := len(c.entries); n > 100 {
		t.Fatalf("cache grew to %d entries, bound 100", n)
	}
	k := keyOf("fresh", "")
	c.put(k, cacheEntry{id: &Identity{Subject: "s"}, expires: now.Add(time.Second)}, now)
	if e, ok := c.get(k, now); !ok || e.id.Subject != "s" {
		t.Fatal("fresh entry not found")
	}
	if _, ok := c.get(k, now.Add(2*time.Second)); ok {
		t.Fatal("expired entry served")
	}
}

// TestProvidersTakeTheGateClock: the providers of this package follow the
// gate's clock (Config.Now), not the wall clock.
func TestProvidersTakeTheGateClock(t *testing.T) {
	fixed := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name     string
		provider Provider
	}{
		{"local", &LocalProvider{}},
		{"oidc", &OIDCProvider{IssuerURL: "https://idp.example", ClientID: "gate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newTestGate(t, tc.provider, Config{Now: func() time.Time { return fixed }})
			var now func() time.Time
			switch p := tc.provider.(type) {
			case *LocalProvider:
				now = p.now
			case *OIDCProvider:
				now = p.now
			}
			if now == nil || !now().Equal(fixed) {
				t.Fatal("the provider does not use the gate's clock")
			}
		})
	}
}
