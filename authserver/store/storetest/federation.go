package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func federationStore(t *testing.T, s store.Store) store.FederationStore {
	t.Helper()
	f, ok := s.(store.FederationStore)
	if !ok {
		t.Fatal("the store does not implement store.FederationStore")
	}
	return f
}

func newLink(provider, sub, user string) store.LinkedIdentity {
	return store.LinkedIdentity{Provider: provider, UpstreamSubject: sub, UserID: user, Email: sub + "@Upstream.example", CreatedAt: t0}
}

func testLinkRoundTrip(t *testing.T, open opener) {
	s := open(t)
	f := federationStore(t, s)
	ctx := t.Context()
	first := newLink("corp", "248289761001", "usr_a")
	second := newLink("github", "583231", "usr_a")
	second.CreatedAt = t0.Add(time.Second)
	other := newLink("corp", "90342", "usr_b")
	for _, l := range []store.LinkedIdentity{second, first, other} {
		must(t, "LinkIdentity", f.LinkIdentity(ctx, l))
	}
	got, err := f.GetLinkedIdentity(ctx, "corp", "248289761001")
	must(t, "GetLinkedIdentity", err)
	checkEqual(t, "link", got, first)
	list, err := f.ListLinkedIdentities(ctx, "usr_a")
	must(t, "ListLinkedIdentities", err)
	checkEqual(t, "links of usr_a, oldest first", list, []store.LinkedIdentity{first, second})

	must(t, "TouchLinkedIdentity", f.TouchLinkedIdentity(ctx, "corp", "248289761001", "new@upstream.example", t0.Add(time.Hour)))
	got, err = f.GetLinkedIdentity(ctx, "corp", "248289761001")
	must(t, "GetLinkedIdentity after touch", err)
	first.Email, first.LastLoginAt = "new@upstream.example", t0.Add(time.Hour)
	checkEqual(t, "touched link", got, first)

	must(t, "UnlinkIdentity", f.UnlinkIdentity(ctx, "usr_a", "github", "583231"))
	list, err = f.ListLinkedIdentities(ctx, "usr_a")
	must(t, "ListLinkedIdentities after unlink", err)
	checkEqual(t, "links of usr_a after unlink", list, []store.LinkedIdentity{first})
	list, err = f.ListLinkedIdentities(ctx, "usr_nobody")
	must(t, "ListLinkedIdentities of nobody", err)
	if len(list) != 0 {
		t.Errorf("links of a user without any: %v", list)
	}
}

func testLinkRefusals(t *testing.T, open opener) {
	s := open(t)
	f := federationStore(t, s)
	ctx := t.Context()
	l := newLink("corp", "sub-1", "usr_a")
	must(t, "LinkIdentity", f.LinkIdentity(ctx, l))
	// One upstream account belongs to one user: linking it again, to
	// anyone, is refused and the first link stays.
	wantErr(t, "LinkIdentity of a linked account", f.LinkIdentity(ctx, newLink("corp", "sub-1", "usr_b")), store.ErrAlreadyExists)
	got, err := f.GetLinkedIdentity(ctx, "corp", "sub-1")
	must(t, "GetLinkedIdentity", err)
	checkEqual(t, "link after a refused relink", got, l)
	// The same subject at another provider is another account.
	must(t, "LinkIdentity at another provider", f.LinkIdentity(ctx, newLink("other", "sub-1", "usr_b")))

	_, err = f.GetLinkedIdentity(ctx, "corp", "sub-2")
	wantErr(t, "GetLinkedIdentity of an unlinked account", err, store.ErrNotFound)
	wantErr(t, "TouchLinkedIdentity of an unlinked account", f.TouchLinkedIdentity(ctx, "corp", "sub-2", "", t0), store.ErrNotFound)
	// Only its own user unlinks an account.
	wantErr(t, "UnlinkIdentity by another user", f.UnlinkIdentity(ctx, "usr_b", "corp", "sub-1"), store.ErrNotFound)
	wantErr(t, "UnlinkIdentity of an unlinked account", f.UnlinkIdentity(ctx, "usr_a", "corp", "sub-2"), store.ErrNotFound)
	if _, err := f.GetLinkedIdentity(ctx, "corp", "sub-1"); err != nil {
		t.Errorf("the link is gone after refused unlinks: %v", err)
	}
}

func testLinkDeleteUser(t *testing.T, open opener) {
	s := open(t)
	f := federationStore(t, s)
	ctx := t.Context()
	for _, u := range []store.User{newUser("gone"), newUser("kept")} {
		must(t, "CreateUser", s.CreateUser(ctx, u))
		must(t, "LinkIdentity", f.LinkIdentity(ctx, newLink("corp", u.Username, u.ID)))
	}
	must(t, "DeleteUser", s.DeleteUser(ctx, "usr_gone", t0.Add(time.Minute)))
	_, err := f.GetLinkedIdentity(ctx, "corp", "gone")
	wantErr(t, "GetLinkedIdentity of a deleted user's account", err, store.ErrNotFound)
	if _, err := f.GetLinkedIdentity(ctx, "corp", "kept"); err != nil {
		t.Errorf("another user's link went with the deleted user: %v", err)
	}
}

func testConcurrentLinkIdentity(t *testing.T, stores []store.Store) {
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		return federationStore(t, s).LinkIdentity(ctx, newLink("corp", "raced", fmt.Sprintf("usr_%d", i)))
	})
	tally(t, "LinkIdentity", errs, store.ErrAlreadyExists)
}
