package accounts

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a user's fields.
const (
	maxUsernameLength = 64
	maxEmailLength    = 254 // RFC 5321 §4.5.3.1.3, as a path less its brackets
	maxNameLength     = 200
	maxGroups         = 100
	maxGroupLength    = 100
)

// checkUsername: 1 to 64 letters, digits, '.', '_' or '-', starting with
// a letter or digit. No '@', so a username can never be read as another
// user's email at the login form, which accepts both.
func checkUsername(s string) error {
	if s == "" {
		return fieldErr("username", "is required")
	}
	if len(s) > maxUsernameLength {
		return fieldErr("username", fmt.Sprintf("must be at most %d characters long", maxUsernameLength))
	}
	for i, r := range s {
		ok := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune("._-", r)))
		if !ok {
			return fieldErr("username", "must be ASCII letters, digits, '.', '_' or '-', starting with a letter or digit")
		}
	}
	return nil
}

// checkEmail accepts an empty email or a bare address (no display name,
// no comments) with one '@'.
func checkEmail(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxEmailLength {
		return fieldErr("email", fmt.Sprintf("must be at most %d characters long", maxEmailLength))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || strings.Count(s, "@") != 1 || strings.HasSuffix(s, "@") {
		return fieldErr("email", "must be an email address such as name@example.com")
	}
	return nil
}

// checkText refuses invalid UTF-8, control characters and overlong text.
func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(s) > max {
		return fieldErr(field, fmt.Sprintf("must be at most %d characters long", max))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(field, "must not contain control characters")
		}
	}
	return nil
}

func checkGroups(groups []string) error {
	if len(groups) > maxGroups {
		return fieldErr("groups", fmt.Sprintf("must hold at most %d groups", maxGroups))
	}
	seen := map[string]bool{}
	for i, g := range groups {
		if strings.TrimSpace(g) == "" || g != strings.TrimSpace(g) {
			return fieldErr(fmt.Sprintf("groups[%d]", i), "must be a non-empty name without surrounding spaces")
		}
		if err := checkText(fmt.Sprintf("groups[%d]", i), g, maxGroupLength); err != nil {
			return err
		}
		if seen[g] {
			return fieldErr(fmt.Sprintf("groups[%d]", i), fmt.Sprintf("%q is listed twice", g))
		}
		seen[g] = true
	}
	return nil
}
