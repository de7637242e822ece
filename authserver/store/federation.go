package store

import (
	"context"
	"time"
)

// LinkedIdentity ties an account at an upstream identity provider (a
// "Sign in with ..." provider) to a Gatehouse user. The user's own subject
// id never changes when identities are linked or unlinked.
type LinkedIdentity struct {
	Provider string // the provider's configured name
	// UpstreamSubject is the provider's stable id for the account (the ID
	// token's sub, GitHub's numeric user id): never an email, which can
	// change hands.
	UpstreamSubject string
	UserID          string
	// Email is what the provider last said the account's email was, for
	// the account page and the admin API only; never used to look up.
	Email       string
	CreatedAt   time.Time
	LastLoginAt time.Time // zero until a sign-in after the link was made
}

// FederationStore keeps linked identities. The SQL stores implement it.
type FederationStore interface {
	// LinkIdentity stores a new link. ErrAlreadyExists when the upstream
	// account (Provider, UpstreamSubject) is linked already, to anyone;
	// of any number of concurrent links of one account exactly one wins.
	LinkIdentity(ctx context.Context, l LinkedIdentity) error
	// GetLinkedIdentity returns the link of one upstream account.
	// ErrNotFound if there is none.
	GetLinkedIdentity(ctx context.Context, provider, upstreamSubject string) (LinkedIdentity, error)
	// ListLinkedIdentities returns userID's links, oldest first.
	ListLinkedIdentities(ctx context.Context, userID string) ([]LinkedIdentity, error)
	// TouchLinkedIdentity records a sign-in through the link at now and
	// the email the provider reported. ErrNotFound if there is no link.
	TouchLinkedIdentity(ctx context.Context, provider, upstreamSubject, email string, now time.Time) error
	// UnlinkIdentity deletes userID's link of that upstream account.
	// ErrNotFound if userID has no such link.
	UnlinkIdentity(ctx context.Context, userID, provider, upstreamSubject string) error
}
