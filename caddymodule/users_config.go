package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
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

// SMTPConfig is the relay that sends password reset links. Without it the
// login page offers no "Forgot password?" link; invitations and reset
// links are then handed out by the administrator (CLI or admin API).
type SMTPConfig struct {
	Host string `json:"host"`
	// Port; default 587.
	Port int `json:"port,omitempty"`
	// Username and Password authenticate with PLAIN, which is only sent
	// over TLS (starttls) or to a loopback host. Placeholders such as
	// {env.SMTP_PASSWORD} are replaced.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the sender, e.g. "Gatehouse <auth@example.com>". Required.
	From string `json:"from"`
	// StartTLS requires the STARTTLS upgrade before anything is sent.
	StartTLS bool `json:"starttls,omitempty"`
}

// mailer builds the SMTP sender, or nil without an smtp block.
func (c *SMTPConfig) mailer(repl *caddy.Replacer) (*mail.SMTP, error) {
	if c == nil {
		return nil, nil
	}
	m := &mail.SMTP{Host: repl.ReplaceKnown(c.Host, ""), Port: c.Port, Username: repl.ReplaceKnown(c.Username, ""),
		Password: repl.ReplaceKnown(c.Password, ""), From: repl.ReplaceKnown(c.From, ""), StartTLS: c.StartTLS}
	if err := m.Validate(); err != nil {
		return nil, errorf("%v", err)
	}
	return m, nil
}

// parseSMTP parses
//
//	smtp {
//		host <host>
//		port <port>
//		username <username>
//		password <password>
//		from <address>
//		starttls
//	}
func parseSMTP(d *caddyfile.Dispenser) (*SMTPConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(SMTPConfig)
	for d.NextBlock(1) {
		var err error
		switch key := d.Val(); key {
		case "host":
			err = oneArg(d, &c.Host)
		case "port":
			var s string
			if err = oneArg(d, &s); err == nil {
				if c.Port, err = strconv.Atoi(s); err != nil || c.Port < 1 || c.Port > 65535 {
					return nil, d.Errf("smtp: port: expected a number from 1 to 65535")
				}
			}
		case "username":
			err = oneArg(d, &c.Username)
		case "password":
			err = oneArg(d, &c.Password)
		case "from":
			err = oneArg(d, &c.From)
		case "starttls":
			err = flagArg(d, &c.StartTLS)
		default:
			return nil, d.Errf("smtp: unknown option %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.Host == "" || c.From == "" {
		return nil, d.Errf("smtp: host and from are required")
	}
	return c, nil
}
