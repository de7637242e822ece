package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// newDevice is a pending device authorization created at t0 for ten
// minutes, polled every five seconds.
func newDevice(name string) store.DeviceAuthorization {
	return store.DeviceAuthorization{
		DeviceCodeHash: hashOf("device:" + name),
		UserCodeHash:   hashOf("user-code:" + name),
		GrantID:        "grant-device-" + name,
		ClientID:       "client-" + name,
		Scopes:         []string{"openid", "offline_access"},
		Resources:      []string{"https://api.example/"},
		Interval:       5 * time.Second,
		CreatedAt:      t0,
		ExpiresAt:      t0.Add(10 * time.Minute),
		Status:         store.DevicePending,
	}
}

func approval(name string) store.DeviceDecision {
	return store.DeviceDecision{Approved: true, Subject: "user-" + name, SessionIDHash: hashOf("session:" + name), AuthTime: t0.Add(-time.Minute)}
}

// deviceGrant is the grant redeeming d creates.
func deviceGrant(d store.DeviceAuthorization, subject string) store.Grant {
	return store.Grant{ID: d.GrantID, ClientID: d.ClientID, Subject: subject, Scopes: d.Scopes, Resources: d.Resources,
		AuthTime: t0, CreatedAt: redeemAt, ExpiresAt: t0.Add(24 * time.Hour)}
}

func testDeviceRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	d := newDevice("a")
	must(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d))
	got, err := s.GetDeviceAuthorization(ctx, d.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	checkEqual(t, "device authorization", got, d)
	got, err = s.GetDeviceAuthorizationByUserCode(ctx, d.UserCodeHash)
	must(t, "GetDeviceAuthorizationByUserCode", err)
	checkEqual(t, "device authorization by user code", got, d)

	_, err = s.GetDeviceAuthorization(ctx, hashOf("device:nothing"))
	wantErr(t, "GetDeviceAuthorization of an unknown hash", err, store.ErrNotFound)
	_, err = s.GetDeviceAuthorizationByUserCode(ctx, hashOf("user-code:nothing"))
	wantErr(t, "GetDeviceAuthorizationByUserCode of an unknown hash", err, store.ErrNotFound)

	// Either code taken: the second request is refused, the first kept.
	sameUser := newDevice("b")
	sameUser.UserCodeHash = d.UserCodeHash
	wantErr(t, "a duplicate user code", s.CreateDeviceAuthorization(ctx, sameUser), store.ErrAlreadyExists)
	sameDevice := newDevice("c")
	sameDevice.DeviceCodeHash = d.DeviceCodeHash
	wantErr(t, "a duplicate device code", s.CreateDeviceAuthorization(ctx, sameDevice), store.ErrAlreadyExists)
	got, err = s.GetDeviceAuthorization(ctx, d.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	checkEqual(t, "device authorization after refused duplicates", got, d)
}

func testDeviceDecide(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	approved, denied, late := newDevice("approved"), newDevice("denied"), newDevice("late")
	for _, d := range []store.DeviceAuthorization{approved, denied, late} {
		must(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d))
	}
	decideAt := t0.Add(time.Minute)
	must(t, "approve", s.DecideDeviceAuthorization(ctx, approved.UserCodeHash, decideAt, approval("approved")))
	must(t, "deny", s.DecideDeviceAuthorization(ctx, denied.UserCodeHash, decideAt, store.DeviceDecision{Subject: "user-denied"}))
	wantErr(t, "a second answer", s.DecideDeviceAuthorization(ctx, approved.UserCodeHash, decideAt, store.DeviceDecision{Subject: "user-x"}), store.ErrConflict)
	wantErr(t, "an answer after expiry", s.DecideDeviceAuthorization(ctx, late.UserCodeHash, late.ExpiresAt, approval("late")), store.ErrNotFound)
	wantErr(t, "an answer to an unknown code", s.DecideDeviceAuthorization(ctx, hashOf("user-code:none"), decideAt, approval("x")), store.ErrNotFound)

	want := approved
	a := approval("approved")
	want.Status, want.Subject, want.SessionIDHash, want.AuthTime, want.DecidedAt = store.DeviceApproved, a.Subject, a.SessionIDHash, a.AuthTime, decideAt
	got, err := s.GetDeviceAuthorization(ctx, approved.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	checkEqual(t, "approved device authorization", got, want)
	got, err = s.GetDeviceAuthorization(ctx, denied.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	if got.Status != store.DeviceDenied || got.Subject != "user-denied" {
		t.Errorf("denied request: %+v", got)
	}
	got, err = s.GetDeviceAuthorization(ctx, late.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	checkEqual(t, "late device authorization (unchanged)", got, late)
}

func testDevicePoll(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	d := newDevice("a")
	must(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d))
	first := t0.Add(5 * time.Second)
	must(t, "first poll", s.PollDeviceAuthorization(ctx, d.DeviceCodeHash, time.Time{}, first, d.Interval))
	// A poll that read the state before the first one loses.
	wantErr(t, "a poll racing the first", s.PollDeviceAuthorization(ctx, d.DeviceCodeHash, time.Time{}, first, d.Interval), store.ErrConflict)
	second := first.Add(time.Second)
	must(t, "second poll", s.PollDeviceAuthorization(ctx, d.DeviceCodeHash, first, second, 10*time.Second))
	got, err := s.GetDeviceAuthorization(ctx, d.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	if !got.LastPolledAt.Equal(second.Truncate(time.Millisecond)) || got.Interval != 10*time.Second {
		t.Errorf("after two polls: last %v interval %v", got.LastPolledAt, got.Interval)
	}
	wantErr(t, "polling an unknown code", s.PollDeviceAuthorization(ctx, hashOf("device:none"), time.Time{}, first, d.Interval), store.ErrNotFound)
}

func testDeviceRedeem(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	pending, approved, denied, expired := newDevice("pending"), newDevice("approved"), newDevice("denied"), newDevice("expired")
	for _, d := range []store.DeviceAuthorization{pending, approved, denied, expired} {
		must(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d))
	}
	must(t, "approve", s.DecideDeviceAuthorization(ctx, approved.UserCodeHash, t0, approval("approved")))
	must(t, "approve", s.DecideDeviceAuthorization(ctx, expired.UserCodeHash, t0, approval("expired")))
	must(t, "deny", s.DecideDeviceAuthorization(ctx, denied.UserCodeHash, t0, store.DeviceDecision{Subject: "user-denied"}))

	for _, d := range []store.DeviceAuthorization{pending, denied} {
		wantErr(t, "redeeming an unapproved request", s.RedeemDeviceAuthorization(ctx, d.DeviceCodeHash, redeemAt, deviceGrant(d, "u"), nil), store.ErrNotFound)
	}
	wantErr(t, "redeeming after expiry", s.RedeemDeviceAuthorization(ctx, expired.DeviceCodeHash, expired.ExpiresAt, deviceGrant(expired, "u"), nil), store.ErrNotFound)
	wantErr(t, "redeeming an unknown code", s.RedeemDeviceAuthorization(ctx, hashOf("device:none"), redeemAt, deviceGrant(approved, "u"), nil), store.ErrNotFound)

	g := deviceGrant(approved, "user-approved")
	rt := newToken(g, "device", redeemAt)
	must(t, "RedeemDeviceAuthorization", s.RedeemDeviceAuthorization(ctx, approved.DeviceCodeHash, redeemAt, g, &rt))
	gotToken, gotGrant, err := s.GetRefreshToken(ctx, rt.Hash)
	must(t, "GetRefreshToken", err)
	checkEqual(t, "the redemption's grant", gotGrant, g)
	checkEqual(t, "the redemption's refresh token", gotToken, rt)
	wantErr(t, "a second redemption", s.RedeemDeviceAuthorization(ctx, approved.DeviceCodeHash, redeemAt, g, nil), store.ErrCodeReused)
	got, err := s.GetDeviceAuthorization(ctx, approved.DeviceCodeHash)
	must(t, "GetDeviceAuthorization", err)
	if !got.RedeemedAt.Equal(redeemAt.Truncate(time.Millisecond)) {
		t.Errorf("RedeemedAt %v, want %v", got.RedeemedAt, redeemAt)
	}
}

func newPushed(name string) store.PushedRequest {
	return store.PushedRequest{
		Hash: hashOf("request-uri:" + name), ClientID: "client-" + name,
		Params:    "client_id=client-" + name + "&response_type=code&scope=openid+%E2%9C%93",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
	}
}

func testPushedRequest(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	p, late := newPushed("a"), newPushed("late")
	must(t, "CreatePushedRequest", s.CreatePushedRequest(ctx, p))
	must(t, "CreatePushedRequest", s.CreatePushedRequest(ctx, late))
	dup := newPushed("b")
	dup.Hash = p.Hash
	wantErr(t, "a duplicate request_uri", s.CreatePushedRequest(ctx, dup), store.ErrAlreadyExists)

	useAt := t0.Add(10 * time.Second)
	_, err := s.UsePushedRequest(ctx, p.Hash, "client-b", useAt)
	wantErr(t, "another client's request", err, store.ErrNotFound)
	_, err = s.UsePushedRequest(ctx, late.Hash, late.ClientID, late.ExpiresAt)
	wantErr(t, "an expired request", err, store.ErrNotFound)
	got, err := s.UsePushedRequest(ctx, p.Hash, p.ClientID, useAt)
	must(t, "UsePushedRequest", err)
	want := p
	want.UsedAt = useAt
	checkEqual(t, "pushed request", got, want)
	_, err = s.UsePushedRequest(ctx, p.Hash, p.ClientID, useAt)
	wantErr(t, "a second use", err, store.ErrNotFound)
	_, err = s.UsePushedRequest(ctx, hashOf("request-uri:none"), p.ClientID, useAt)
	wantErr(t, "an unknown request_uri", err, store.ErrNotFound)
}

func testDeviceAndPushedGC(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	d, p := newDevice("a"), newPushed("a")
	must(t, "CreateDeviceAuthorization", s.CreateDeviceAuthorization(ctx, d))
	must(t, "CreatePushedRequest", s.CreatePushedRequest(ctx, p))
	if _, err := s.GarbageCollect(ctx, d.ExpiresAt.Add(-time.Second), 100); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetDeviceAuthorization(ctx, d.DeviceCodeHash)
	must(t, "an unexpired device authorization after GC", err)
	if _, err := s.GarbageCollect(ctx, d.ExpiresAt.Add(time.Second), 100); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetDeviceAuthorization(ctx, d.DeviceCodeHash)
	wantErr(t, "an expired device authorization after GC", err, store.ErrNotFound)
	_, err = s.UsePushedRequest(ctx, p.Hash, p.ClientID, t0)
	wantErr(t, "an expired pushed request after GC", err, store.ErrNotFound)
}

// testConcurrentRedeemDevice: of many redemptions of one approved device
// code, one wins; the others get ErrCodeReused.
func testConcurrentRedeemDevice(t *testing.T, stores []store.Store) {
	d := newDevice("race")
	must(t, "CreateDeviceAuthorization", stores[0].CreateDeviceAuthorization(t.Context(), d))
	must(t, "approve", stores[0].DecideDeviceAuthorization(t.Context(), d.UserCodeHash, t0, approval("race")))
	g := deviceGrant(d, "user-race")
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return s.RedeemDeviceAuthorization(ctx, d.DeviceCodeHash, redeemAt, g, nil)
	})
	tally(t, "RedeemDeviceAuthorization", errs, store.ErrCodeReused)
}

// testConcurrentUsePushedRequest: a request_uri is used once however many
// instances race for it.
func testConcurrentUsePushedRequest(t *testing.T, stores []store.Store) {
	p := newPushed("race")
	must(t, "CreatePushedRequest", stores[0].CreatePushedRequest(t.Context(), p))
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		_, err := s.UsePushedRequest(ctx, p.Hash, p.ClientID, redeemAt)
		return err
	})
	tally(t, "UsePushedRequest", errs, store.ErrNotFound)
}
