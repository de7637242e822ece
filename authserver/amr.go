package authserver

import "slices"

// Authentication method references (RFC 8176 §2) a session records, in the
// order the methods were used.
const (
	amrPassword = "pwd" // a password
	amrOTP      = "otp" // a one-time code: TOTP or a recovery code
	amrMFA      = "mfa" // more than one factor (added with the second one)
)

// Authentication context class references (OIDC Core §2 "acr"). Gatehouse
// defines two classes, ordered by strength; a request for one is met by it
// or a stronger one.
const (
	// ACRPassword: the user proved one factor (a password).
	ACRPassword = "urn:gatehouse:acr:pwd"
	// ACRMFA: the user proved a password and a second factor.
	ACRMFA = "urn:gatehouse:acr:mfa"
)

// acrValuesSupported is what discovery advertises (OIDC Discovery §3),
// weakest first.
var acrValuesSupported = []string{ACRPassword, ACRMFA}

// acrOf is the class an authentication with these methods reaches; "" for
// none (no user authentication).
func acrOf(amr []string) string {
	switch {
	case slices.Contains(amr, amrMFA):
		return ACRMFA
	case len(amr) > 0:
		return ACRPassword
	}
	return ""
}

// acrRank orders the classes: 0 for an unknown value.
func acrRank(acr string) int { return slices.Index(acrValuesSupported, acr) + 1 }

// acrMeets reports whether an authentication of class have satisfies a
// request for class want.
func acrMeets(have, want string) bool {
	w := acrRank(want)
	return w > 0 && acrRank(have) >= w
}

// sessionAMR is a session's methods after a password alone. Sessions made
// before amr was recorded have none stored and count as this (every
// sign-in then was a password).
func sessionAMR(stored []string) []string {
	if len(stored) == 0 {
		return []string{amrPassword}
	}
	return stored
}
