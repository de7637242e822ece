// Package accounts manages the users kept in the store: creating,
// changing, disabling and deleting them, their passwords under a policy,
// the single-use invitation and password reset tokens, and ending their
// sessions. The admin API, the CLI and the account pages all go through
// it, so each rule is enforced in one place and each event is logged
// once, without secrets.
package accounts

import "errors"

var (
	// ErrNotFound means no user has that id (or that token is unknown,
	// used or expired).
	ErrNotFound = errors.New("accounts: not found")
	// ErrStatic means the user is defined in the configuration and is
	// read-only at run time.
	ErrStatic = errors.New("accounts: the user is defined in the configuration and is read-only")
	// ErrWrongPassword means the current password given to change it
	// was wrong.
	ErrWrongPassword = errors.New("accounts: the current password is wrong")
)

// FieldError is a refused value: which field, and why, in words fit for
// an API answer or a form.
type FieldError struct {
	Field  string
	Reason string
	// Taken says the value is valid but another user has it (a conflict
	// rather than a bad request).
	Taken bool
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

func takenErr(field string) error {
	return &FieldError{Field: field, Reason: "is already taken by another user", Taken: true}
}
