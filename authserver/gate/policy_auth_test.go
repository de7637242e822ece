package gate

import (
	"strings"
	"testing"
	"time"
)

// TestPolicyAuthentication: require mfa needs amr mfa; require acr needs
// that class, or a stronger Gatehouse class; unknown classes match only
// themselves.
func TestPolicyAuthentication(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	pwd := &Identity{ACR: "urn:gatehouse:acr:pwd", AMR: []string{"pwd"}, AuthTime: now.Add(-time.Hour).Unix()}
	mfa := &Identity{ACR: "urn:gatehouse:acr:mfa", AMR: []string{"pwd", "otp", "mfa"}, AuthTime: now.Add(-time.Minute).Unix()}
	other := &Identity{ACR: "urn:example:gold", AMR: []string{"hwk"}}
	none := &Identity{}
	cases := []struct {
		name   string
		policy Policy
		id     *Identity
		want   bool
	}{
		{"no requirement, no amr", Policy{}, none, true},
		{"mfa, password only", Policy{RequireMFA: true}, pwd, false},
		{"mfa, mfa", Policy{RequireMFA: true}, mfa, true},
		{"mfa, none", Policy{RequireMFA: true}, none, false},
		{"mfa, other issuer's class without mfa", Policy{RequireMFA: true}, other, false},
		{"acr pwd, pwd", Policy{RequireACR: "urn:gatehouse:acr:pwd"}, pwd, true},
		{"acr pwd, mfa (stronger)", Policy{RequireACR: "urn:gatehouse:acr:pwd"}, mfa, true},
		{"acr mfa, pwd (weaker)", Policy{RequireACR: "urn:gatehouse:acr:mfa"}, pwd, false},
		{"acr mfa, none", Policy{RequireACR: "urn:gatehouse:acr:mfa"}, none, false},
		{"acr unknown, same", Policy{RequireACR: "urn:example:gold"}, other, true},
		{"acr unknown, gatehouse mfa", Policy{RequireACR: "urn:example:gold"}, mfa, false},
		{"acr gatehouse, unknown class", Policy{RequireACR: "urn:gatehouse:acr:pwd"}, other, false},
		{"both, mfa", Policy{RequireMFA: true, RequireACR: "urn:gatehouse:acr:mfa"}, mfa, true},
		{"max_age 5m, signed in a minute ago", Policy{MaxAge: 5 * time.Minute}, mfa, true},
		{"max_age 5m, signed in an hour ago", Policy{MaxAge: 5 * time.Minute}, pwd, false},
		{"max_age 1m, exactly a minute ago", Policy{MaxAge: time.Minute}, mfa, true},
		{"max_age, auth_time unknown", Policy{MaxAge: time.Hour}, none, false},
		{"mfa and max_age, fresh mfa", Policy{RequireMFA: true, MaxAge: 5 * time.Minute}, mfa, true},
	}
	for _, c := range cases {
		if got := c.policy.authenticationMet(c.id, now); got != c.want {
			t.Errorf("%s: authenticationMet = %v, want %v", c.name, got, c.want)
		}
	}
	if got := (&Policy{RequireMFA: true}).requiredACR(); got != "urn:gatehouse:acr:mfa" {
		t.Errorf("requiredACR for mfa = %q", got)
	}
	if got := (&Policy{RequireMFA: true, RequireACR: "urn:example:gold"}).requiredACR(); got != "urn:example:gold" {
		t.Errorf("requiredACR with an acr = %q", got)
	}
	if got := (&Policy{}).requiredACR(); got != "" {
		t.Errorf("requiredACR without requirement = %q", got)
	}
	// The amr header value is space-separated, as in RFC 8176 lists.
	if got := mfa.Claim("amr"); got != "pwd otp mfa" {
		t.Errorf(`Claim("amr") = %q`, got)
	}
}

// TestStepUpAuthorizeURL: a step-up login asks the provider for the class
// (acr_values) and a fresh sign-in (max_age); a plain login asks neither.
func TestStepUpAuthorizeURL(t *testing.T) {
	base := AuthRequest{RedirectURI: "https://app.example/.gatehouse/callback", State: "s", Nonce: "n", Verifier: "v", Scopes: []string{"openid"}}
	plain, err := authorizeURL("https://idp.example/authorize", "gate", base)
	if err != nil || strings.Contains(plain, "acr_values") || strings.Contains(plain, "max_age") {
		t.Fatalf("plain login URL %q (%v)", plain, err)
	}
	step := base
	step.ACRValues, step.MaxAge = "urn:gatehouse:acr:mfa", 900
	u, err := authorizeURL("https://idp.example/authorize", "gate", step)
	if err != nil || !strings.Contains(u, "acr_values=urn%3Agatehouse%3Aacr%3Amfa") || !strings.Contains(u, "max_age=900") {
		t.Fatalf("step-up URL %q (%v)", u, err)
	}
}
