package gate

import "testing"

// TestPolicyAuthentication: require mfa needs amr mfa; require acr needs
// that class, or a stronger Gatehouse class; unknown classes match only
// themselves.
func TestPolicyAuthentication(t *testing.T) {
	pwd := &Identity{ACR: "urn:gatehouse:acr:pwd", AMR: []string{"pwd"}}
	mfa := &Identity{ACR: "urn:gatehouse:acr:mfa", AMR: []string{"pwd", "otp", "mfa"}}
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
	}
	for _, c := range cases {
		if got := c.policy.authenticationMet(c.id); got != c.want {
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
