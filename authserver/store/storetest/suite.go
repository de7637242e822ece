package storetest

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// opener returns a fresh, empty store that is closed when t ends.
type opener func(t *testing.T) store.Store

// contractTests check one method's contract each; they open the stores they
// need, so table cases can each have a fresh one.
var contractTests = []struct {
	name string
	run  func(t *testing.T, open opener)
}{
	{"Session/RoundTrip", testSessionRoundTrip},
	{"Session/NotFound", testSessionNotFound},
	{"Session/Duplicate", testSessionDuplicate},
	{"Session/Revoke", testSessionRevoke},

	{"AuthCode/RoundTrip", testAuthCodeRoundTrip},
	{"AuthCode/NotFound", testAuthCodeNotFound},
	{"AuthCode/Duplicate", testAuthCodeDuplicate},
	{"AuthCode/Redeem", testRedeem},
	{"AuthCode/RedeemFailures", testRedeemFailures},
	{"AuthCode/RedeemTwice", testRedeemTwice},
	{"AuthCode/RedeemTwiceAfterRotation", testRedeemTwiceAfterRotation},

	{"Grant/NotFound", testGrantNotFound},
	{"Grant/Revoke", testGrantRevoke},

	{"RefreshToken/NotFound", testRefreshTokenNotFound},
	{"RefreshToken/Rotate", testRotate},
	{"RefreshToken/RotateReused", testRotateReused},
	{"RefreshToken/RotateUnusable", testRotateUnusable},
	{"RefreshToken/RotateBadNext", testRotateBadNext},
	{"RefreshToken/Extend", testExtend},
	{"RefreshToken/ExtendRotated", testExtendRotated},
	{"RefreshToken/ExtendUnusable", testExtendUnusable},

	{"Consent/NotFound", testConsentNotFound},
	{"Consent/RoundTrip", testConsentRoundTrip},
	{"Consent/ReplaceKeepsCreatedAt", testConsentReplace},
	{"Consent/List", testConsentList},
	{"Consent/Delete", testConsentDelete},
	{"Consent/Touch", testConsentTouch},
	{"Consent/TouchedByTokens", testTokensTouchConsent},

	{"Grant/RevokeFor", testRevokeGrantsFor},
	{"Grant/ListBySession", testListGrantsBySession},

	{"Denylist", testDenylist},
	{"UseOnce", testUseOnce},
	{"UseOnce/Concurrent", testUseOnceConcurrent},

	{"SigningKey/Empty", testSigningKeysEmpty},
	{"SigningKey/RoundTripOldestFirst", testSigningKeysRoundTrip},
	{"SigningKey/Duplicate", testSigningKeyDuplicate},
	{"SigningKey/Delete", testSigningKeysDelete},

	{"Secret/FirstValueWins", testSecretFirstValueWins},

	{"RevokedSince", testRevokedSince},

	{"GarbageCollect/ExpiredOnly", testGCExpiredOnly},
	{"GarbageCollect/Limit", testGCLimit},

	{"Client/RoundTrip", testClientRoundTrip},
	{"Client/NotFound", testClientNotFound},
	{"Client/Duplicate", testClientDuplicate},
	{"Client/List", testClientList},
	{"Client/Update", testClientUpdate},
	{"Client/Delete", testClientDelete},

	{"User/RoundTrip", testUserRoundTrip},
	{"User/NotFound", testUserNotFound},
	{"User/Duplicate", testUserDuplicate},
	{"User/IDNeverReused", testUserIDNeverReused},
	{"User/List", testUserList},
	{"User/Update", testUserUpdate},
	{"User/DisableRevokesSessions", testUserDisableRevokesSessions},
	{"User/RevokeSessionsKeepsOne", testUserRevokeSessionsKeepsOne},
	{"User/Delete", testUserDelete},
	{"User/Tokens", testUserTokens},

	{"LinkedIdentity/RoundTrip", testLinkRoundTrip},
	{"LinkedIdentity/Refusals", testLinkRefusals},
	{"LinkedIdentity/DeleteUserUnlinks", testLinkDeleteUser},
	{"Factor/RoundTrip", testFactorRoundTrip},
	{"Factor/Steps", testFactorSteps},
	{"Factor/Delete", testFactorDelete},
	{"Factor/RecoveryCodes", testRecoveryCodes},
	{"Factor/DeleteUserDropsFactors", testDeleteUserDropsFactors},

	{"Audit/RoundTrip", testAuditRoundTrip},
	{"Audit/Query", testAuditQuery},
	{"Audit/DeleteBefore", testAuditDeleteBefore},

	{"Device/RoundTrip", testDeviceRoundTrip},
	{"Device/Decide", testDeviceDecide},
	{"Device/Poll", testDevicePoll},
	{"Device/Redeem", testDeviceRedeem},
	{"PushedRequest/UseOnce", testPushedRequest},
	{"Device/GarbageCollect", testDeviceAndPushedGC},
}

// concurrencyTests race many callers against one database. They get every
// store that shares it and spread the callers over them.
var concurrencyTests = []struct {
	name string
	run  func(t *testing.T, stores []store.Store)
}{
	{"RedeemOnce", testConcurrentRedeem},
	{"RotateOnce", testConcurrentRotate},
	{"RevokeSessionDuringReads", testConcurrentRevokeSessionDuringReads},
	{"RevokeGrantDuringRotation", testConcurrentRevokeGrantDuringRotation},
	{"GarbageCollect", testConcurrentGarbageCollect},
	{"SaveConsent", testConcurrentSaveConsent},
	{"GetOrCreateSecret", testConcurrentSecret},
	{"RevokedSessionVisible", testConcurrentRevokedSession},
	{"UpdateClientOnce", testConcurrentUpdateClient},
	{"CreateUserOnce", testConcurrentCreateUser},
	{"UseUserTokenOnce", testConcurrentUseUserToken},
	{"RedeemDeviceOnce", testConcurrentRedeemDevice},
	{"UsePushedRequestOnce", testConcurrentUsePushedRequest},
	{"LinkIdentityOnce", testConcurrentLinkIdentity},
	{"UseFactorStepOnce", testConcurrentUseFactorStep},
	{"UseRecoveryCodeOnce", testConcurrentUseRecoveryCode},
}

// Run runs the conformance suite. newStore must return a fresh, empty store
// each time it is called; the suite closes it when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, tc := range contractTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
	for _, tc := range concurrencyTests {
		t.Run("Concurrent/"+tc.name, func(t *testing.T) { tc.run(t, []store.Store{open(t)}) })
	}
}

// RunShared runs the concurrency tests, and checks that writes are visible
// across stores, with callers split between two stores that open the same
// empty database, as two instances of the server would. newPair must
// return fresh stores each time; the suite closes them.
func RunShared(t *testing.T, newPair func(t *testing.T) (store.Store, store.Store)) {
	open := func(t *testing.T) []store.Store {
		t.Helper()
		a, b := newPair(t)
		for _, s := range []store.Store{a, b} {
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		return []store.Store{a, b}
	}
	t.Run("Visibility", func(t *testing.T) { testSharedVisibility(t, open(t)) })
	for _, tc := range concurrencyTests {
		t.Run("Concurrent/"+tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}
