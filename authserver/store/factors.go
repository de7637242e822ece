package store

import (
	"context"
	"errors"
	"time"
)

// ---- Second factors (TOTP today; passkeys are meant to be another kind) ----

// FactorKind names what a UserFactor is. The table holds any kind, so a
// later kind (a WebAuthn credential) is a new value, not a new table.
type FactorKind string

const (
	// FactorTOTP is an RFC 6238 authenticator app: Secret is the sealed
	// shared key, LastStep the time step of the last accepted code.
	FactorTOTP FactorKind = "totp"
)

// ErrStepUsed means a one-time code's time step was not after the last
// one accepted for the factor: the code (or an older one) was used
// already, so it is refused as a replay.
var ErrStepUsed = errors.New("store: one-time code already used")

// UserFactor is one second factor of a user.
type UserFactor struct {
	ID     string
	UserID string
	Kind   FactorKind
	Name   string // what the user calls it, e.g. "Authenticator app"
	// Secret is the factor's key material, sealed by the caller (package
	// seal) before it reaches the store.
	Secret      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero until a first code proved the enrolment
	LastUsedAt  time.Time
	// LastStep is the last accepted RFC 6238 time step (0: none yet).
	LastStep int64
}

// Confirmed reports whether the factor counts for sign-in.
func (f UserFactor) Confirmed() bool { return !f.ConfirmedAt.IsZero() }

// FactorStore keeps users' second factors and recovery codes.
type FactorStore interface {
	// CreateFactor stores a new, unconfirmed factor. ErrAlreadyExists on
	// a duplicate id.
	CreateFactor(ctx context.Context, f UserFactor) error
	// ListFactors returns userID's factors, confirmed or not, oldest first.
	ListFactors(ctx context.Context, userID string) ([]UserFactor, error)
	// ConfirmFactor marks the user's unconfirmed factor id confirmed at
	// now, accepting step as its first used step. ErrNotFound when there
	// is no such unconfirmed factor of that user.
	ConfirmFactor(ctx context.Context, userID, id string, step int64, now time.Time) error
	// UseFactorStep records that a code of time step step was accepted
	// for the user's confirmed factor id. Exactly one of any number of
	// concurrent calls with one step succeeds; a step not after the last
	// accepted one gives ErrStepUsed. ErrNotFound when no such factor.
	UseFactorStep(ctx context.Context, userID, id string, step int64, now time.Time) error
	// DeleteFactor deletes one factor of the user. ErrNotFound if none.
	DeleteFactor(ctx context.Context, userID, id string) error
	// DeleteFactors deletes every factor and recovery code of the user and
	// returns how many factors it deleted.
	DeleteFactors(ctx context.Context, userID string) (int, error)

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// the given hashes (hex SHA-256) instead, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode marks the user's unused recovery code with that hash
	// used at now. Exactly one of concurrent calls succeeds; ErrNotFound
	// when the user has no such unused code.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error
	// CountRecoveryCodes returns how many unused recovery codes the user
	// has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}
