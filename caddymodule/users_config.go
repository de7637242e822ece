package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
)

// PasswordPolicyConfig is what new passwords of stored users must
// satisfy. There are no composition rules (NIST SP 800-63B §5.1.1.2);
// every password is also checked against a built-in list of the 10,000
// most common ones, and limited to 256 characters.
type PasswordPolicyConfig struct {
	// MinLength in characters; default 12, at least 8.
	MinLength int `json:"min_length,omitempty"`
}

func (p *PasswordPolicyConfig) policy() accounts.Policy {
	if p == nil {
		return accounts.Policy{}
	}
	return accounts.Policy{MinLength: p.MinLength}
}

// accountsConfig builds the user manager's configuration from the app's.
func (a *App) accountsConfig() (accounts.Policy, time.Duration, time.Duration, error) {
	pol := a.PasswordPolicy.policy()
	if err := pol.Validate(); err != nil {
		return pol, 0, 0, errorf("password_policy: %v", err)
	}
	return pol, time.Duration(a.InvitationLifetime), time.Duration(a.PasswordResetLifetime), nil
}

// parsePasswordPolicy parses
//
//	password_policy {
//		min_length <n>
//	}
func parsePasswordPolicy(d *caddyfile.Dispenser) (*PasswordPolicyConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	p := new(PasswordPolicyConfig)
	for d.NextBlock(1) {
		switch key := d.Val(); key {
		case "min_length":
			var s string
			if err := oneArg(d, &s); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 8 || n > accounts.MaxPasswordLength {
				return nil, d.Errf("password_policy: min_length: expected a number from 8 to %d", accounts.MaxPasswordLength)
			}
			p.MinLength = n
		default:
			return nil, d.Errf("password_policy: unknown option %q", key)
		}
	}
	return p, nil
}
