package store

import (
	"context"
	"time"
)

// DeviceAuthorization is one device authorization request (RFC 8628
// §3.1): the device polls with its device code, the user approves or
// denies it by its user code. Both codes are stored only as hashes.
type DeviceAuthorization struct {
	DeviceCodeHash string // hex SHA-256 of the device code
	UserCodeHash   string // hex SHA-256 of the normalised user code
	GrantID        string // id of the grant its redemption creates
	ClientID       string
	Scopes         []string
	Resources      []string // RFC 8707 resource indicators
	// Interval is the minimum time between two polls; a poll that comes
	// sooner gets slow_down and adds 5 s to it (RFC 8628 §3.5).
	Interval     time.Duration
	CreatedAt    time.Time
	ExpiresAt    time.Time
	LastPolledAt time.Time // zero until the first poll
	// Status is pending until the user decides.
	Status DeviceStatus
	// Who approved, from which session, signed in when; set with Status.
	Subject       string
	SessionIDHash string
	AuthTime      time.Time
	DecidedAt     time.Time
	RedeemedAt    time.Time // zero until the device got its tokens
}

// DeviceStatus is where a device authorization stands.
type DeviceStatus string

const (
	DevicePending  DeviceStatus = "pending"
	DeviceApproved DeviceStatus = "approved"
	DeviceDenied   DeviceStatus = "denied"
)

// DeviceDecision is the user's answer to a device authorization.
type DeviceDecision struct {
	Approved      bool
	Subject       string
	SessionIDHash string
	AuthTime      time.Time
}

// PushedRequest is a pushed authorization request (RFC 9126): the
// parameters a client sent to /par, kept under the hash of the
// request_uri it was given until that is used once or expires.
type PushedRequest struct {
	Hash     string // hex SHA-256 of the request_uri
	ClientID string
	// Params is the request's form encoding, exactly as checked at /par.
	Params    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until /authorize used it
}

// DeviceStore keeps device authorizations (RFC 8628) and pushed
// authorization requests (RFC 9126), so that every instance sees them.
type DeviceStore interface {
	// CreateDeviceAuthorization stores a new pending request.
	// ErrAlreadyExists when its device or user code hash is taken.
	CreateDeviceAuthorization(ctx context.Context, d DeviceAuthorization) error
	// GetDeviceAuthorization returns a request by device code hash,
	// whatever its state. ErrNotFound when there is none.
	GetDeviceAuthorization(ctx context.Context, deviceCodeHash string) (DeviceAuthorization, error)
	// GetDeviceAuthorizationByUserCode returns a request by user code
	// hash, whatever its state. ErrNotFound when there is none.
	GetDeviceAuthorizationByUserCode(ctx context.Context, userCodeHash string) (DeviceAuthorization, error)
	// DecideDeviceAuthorization records the user's answer to a pending,
	// unexpired request, once: ErrNotFound when the request is unknown or
	// expired at now, ErrConflict when it was already decided.
	DecideDeviceAuthorization(ctx context.Context, userCodeHash string, now time.Time, d DeviceDecision) error
	// PollDeviceAuthorization records a poll at now with the interval
	// the next one must wait, provided the last poll recorded is still
	// lastPolledAt (zero: none); ErrConflict when another poll came in
	// between, ErrNotFound when the request is gone.
	PollDeviceAuthorization(ctx context.Context, deviceCodeHash string, lastPolledAt, now time.Time, interval time.Duration) error
	// RedeemDeviceAuthorization atomically marks an approved, unexpired,
	// unredeemed request redeemed and creates its grant (g.ID must be the
	// request's GrantID) and, when rt is non-nil, its first refresh
	// token, and records the use on the grant's consent (as
	// RedeemAuthCode). Exactly one of any number of concurrent calls succeeds:
	// ErrCodeReused when it was already redeemed, ErrNotFound when it is
	// unknown, expired or not approved.
	RedeemDeviceAuthorization(ctx context.Context, deviceCodeHash string, now time.Time, g Grant, rt *RefreshToken) error

	// CreatePushedRequest stores a pushed authorization request.
	// ErrAlreadyExists on a duplicate hash.
	CreatePushedRequest(ctx context.Context, p PushedRequest) error
	// UsePushedRequest returns the request with that hash for clientID
	// and marks it used, once: ErrNotFound when it is unknown, another
	// client's, expired at now or already used.
	UsePushedRequest(ctx context.Context, hash, clientID string, now time.Time) (PushedRequest, error)
}
