// Package storetest is the conformance suite for store.Store backends.
//
// A backend's tests call Run with a function that returns a fresh, empty
// store; every subtest gets its own. RunShared runs the concurrency tests
// against two stores sharing one database, as two server instances would.
//
// The suite checks the contract written in package store, plus these
// readings of it that backends must share:
//
//   - Times round-trip to millisecond precision; a nil and an empty slice
//     are the same value.
//   - Expiry is exclusive: a record is expired at now when
//     !now.Before(ExpiresAt).
//   - Revoking something already revoked keeps the first revocation time.
//   - A call that fails leaves stored state unchanged, except that reuse
//     errors (ErrCodeReused, ErrRefreshTokenReused) revoke the grant.
//   - A rotated refresh token presented again is ErrRefreshTokenReused even
//     when an earlier replay already revoked the grant (so of N racing
//     rotations, one succeeds and N-1 report reuse). Expiry comes first: an
//     expired token is ErrNotFound whatever else is true of it.
//   - RotateRefreshToken stores next as given; ExtendRefreshToken caps the
//     new expiry at the grant's ExpiresAt.
//   - GarbageCollect deletes, per kind and up to limit, auth codes,
//     sessions, grants (with all their refresh tokens) and refresh tokens
//     that expired strictly before now, and counts every deleted record,
//     refresh tokens included.
//
// The suite only uses the store.Store interface, so it says nothing about
// how a backend lays out its data.
package storetest
