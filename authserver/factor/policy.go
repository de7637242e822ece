package factor

import "fmt"

// Policy says whether a second factor is asked for at sign-in.
type Policy string

const (
	// Off: no second factor is asked for (the zero value's meaning).
	Off Policy = "off"
	// Optional: users may enrol a factor; who has one is asked for it.
	Optional Policy = "optional"
	// Required: as Optional, and a user without a factor is led through
	// enrolment before they may continue.
	Required Policy = "required"
)

// ParsePolicy reads a policy as configured: off, optional or required.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case Off, Optional, Required:
		return p, nil
	}
	return "", fmt.Errorf("mfa policy must be off, optional or required, not %q", s)
}

// Or is p, or def when p is unset ("").
func (p Policy) Or(def Policy) Policy {
	if p == "" {
		return def
	}
	return p
}

// Asks reports whether users with a factor are asked for it.
func (p Policy) Asks() bool { return p == Optional || p == Required }
