package accounts

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonPasswords is the 10,000 most common passwords, most common first:
// the first 10,000 entries of the "passwords" frequency list of zxcvbn
// 4.4.2 (MIT licence, Copyright (c) 2012-2016 Dan Wheeler and Dropbox,
// Inc.; see COMMON_PASSWORDS.md), one per line, lower case.
//
//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether password (ignoring case) is on the
// built-in list of the most common passwords.
func IsCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}

// Policy is what a new password must satisfy: a length, and not being a
// well-known or obvious one. There are no composition rules (NIST SP
// 800-63B §5.1.1.2: they make passwords harder to remember, not to
// guess).
type Policy struct {
	// MinLength in characters (Unicode code points); default 12, at
	// least 8 (NIST SP 800-63B §5.1.1.1).
	MinLength int
}

// MaxPasswordLength is the longest password accepted, in characters:
// long enough for any passphrase, short enough to bound hashing input.
const MaxPasswordLength = 256

// DefaultMinLength is Policy.MinLength's default.
const DefaultMinLength = 12

// withDefaults fills in zero fields.
func (p Policy) withDefaults() Policy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinLength
	}
	return p
}

// Validate reports a policy that cannot be used.
func (p Policy) Validate() error {
	p = p.withDefaults()
	if p.MinLength < 8 || p.MinLength > MaxPasswordLength {
		return fmt.Errorf("password minimum length %d out of range 8..%d", p.MinLength, MaxPasswordLength)
	}
	return nil
}

// Check returns a FieldError for "password" when password breaks the
// policy. context holds what the user is known by (username, email): a
// password equal to one of them is refused too (NIST SP 800-63B
// §5.1.1.2, context-specific words).
func (p Policy) Check(password string, context ...string) error {
	p = p.withDefaults()
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fieldErr("password", "must be valid UTF-8 text")
	case n < p.MinLength:
		return fieldErr("password", fmt.Sprintf("must be at least %d characters long", p.MinLength))
	case n > MaxPasswordLength:
		return fieldErr("password", fmt.Sprintf("must be at most %d characters long", MaxPasswordLength))
	case IsCommonPassword(password):
		return fieldErr("password", "is one of the most common passwords; choose another")
	}
	for _, c := range context {
		if c != "" && strings.EqualFold(strings.TrimSpace(c), strings.TrimSpace(password)) {
			return fieldErr("password", "must not be the username or email address")
		}
	}
	return nil
}
