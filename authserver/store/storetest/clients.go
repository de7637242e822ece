package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// newClient is a stored client with every field set, so a round trip
// checks every column.
func newClient(id string) store.Client {
	return store.Client{
		ID:                                 id,
		Name:                               "App " + id,
		Description:                        "Description of " + id + " — with non-ASCII ✓",
		Type:                               "third_party",
		SecretHashes:                       []string{"sha256:" + hashOf("secret:"+id), "sha256:" + hashOf("old:"+id)},
		PendingSecretHash:                  "sha256:" + hashOf("pending:"+id),
		RedirectURIs:                       []string{"https://app.example/cb?tenant=" + id, "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs:             []string{"https://app.example/bye"},
		BackchannelLogoutURI:               "https://app.example/backchannel",
		Scopes:                             []string{"openid", "offline_access"},
		LogoURI:                            "https://app.example/logo.png",
		ClientURI:                          "https://app.example/",
		PolicyURI:                          "https://app.example/privacy",
		TOSURI:                             "https://app.example/terms",
		GrantTypes:                         []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod:            "client_secret_post",
		IDTokenSigningAlg:                  "ES256",
		AccessTokenLifetime:                15 * time.Minute,
		RefreshTokenLifetime:               72*time.Hour + 500*time.Millisecond,
		BypassConsentForOfflineAccess:      true,
		RequirePushedAuthorizationRequests: true,
		Contacts:                           []string{"ops@app.example", "dev@app.example"},
		SoftwareID:                         "4NRB1-0XZABZI9E6-5SM3R",
		SoftwareVersion:                    "2.1",
		JWKS:                               `{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}`,
		JWKSURI:                            "https://app.example/jwks.json",
		DPoPBoundAccessTokens:              true,
		Dynamic:                            true,
		RegistrationAccessTokenHash:        hashOf("rat:" + id),
		CreatedAt:                          t0,
		UpdatedAt:                          t0.Add(time.Second),
		Revision:                           1,
	}
}

func testClientRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	full := newClient("client-full")
	// A client with only the required fields: empty lists and strings,
	// false flags and zero durations must come back as such.
	bare := store.Client{ID: "client-bare", Name: "Bare", Type: "first_party_public",
		RedirectURIs: []string{"com.example.app:/cb"}, CreatedAt: t0, UpdatedAt: t0, Revision: 1}
	for _, c := range []store.Client{full, bare} {
		// The store numbers revisions itself, starting at 1.
		in := c
		in.Revision = 42
		must(t, "CreateClient", s.CreateClient(ctx, in))
	}
	for _, want := range []store.Client{full, bare} {
		got, err := s.GetClient(ctx, want.ID)
		must(t, "GetClient", err)
		checkEqual(t, "client "+want.ID, got, want)
	}
}

func testClientNotFound(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	_, err := s.GetClient(ctx, "client-none")
	wantErr(t, "GetClient of an unknown id", err, store.ErrNotFound)
	err = s.UpdateClient(ctx, newClient("client-none"))
	wantErr(t, "UpdateClient of an unknown id", err, store.ErrNotFound)
	err = s.DeleteClient(ctx, "client-none", t0)
	wantErr(t, "DeleteClient of an unknown id", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "client-none")
	wantErr(t, "GetClient after failed writes", err, store.ErrNotFound)
}

func testClientDuplicate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := newClient("client-a")
	must(t, "CreateClient", s.CreateClient(ctx, first))
	second := newClient("client-a")
	second.Name = "Impostor"
	wantErr(t, "CreateClient with a taken id", s.CreateClient(ctx, second), store.ErrAlreadyExists)
	got, err := s.GetClient(ctx, "client-a")
	must(t, "GetClient", err)
	checkEqual(t, "client after a duplicate create", got, first)
}

func testClientList(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	page, err := s.ListClients(ctx, "", 10)
	must(t, "ListClients of an empty store", err)
	if len(page) != 0 {
		t.Fatalf("ListClients of an empty store returned %d clients", len(page))
	}
	// Created out of order; ids of one case and length so that every
	// collation agrees with byte order.
	var ids []string
	for _, n := range []int{5, 2, 7, 1, 6, 3, 4} {
		id := fmt.Sprintf("client-%02d", n)
		ids = append(ids, id)
		must(t, "CreateClient", s.CreateClient(ctx, newClient(id)))
	}
	slices.Sort(ids)

	for _, limit := range []int{1, 3, 7, 100} {
		var got []string
		after := ""
		for range len(ids) + 1 { // bounded: one page per client at most, plus the empty one
			page, err := s.ListClients(ctx, after, limit)
			must(t, "ListClients", err)
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d clients", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, ids) {
			t.Errorf("limit %d: paging listed %v, want %v", limit, got, ids)
		}
	}
	// Whole records come back, and after need not be an existing id.
	page, err = s.ListClients(ctx, "client-03x", 2)
	must(t, "ListClients", err)
	if len(page) != 2 || page[0].ID != "client-04" || page[1].ID != "client-05" {
		t.Fatalf("ListClients after client-03x = %v", page)
	}
	checkEqual(t, "listed client", page[0], newClient("client-04"))

	for _, limit := range []int{0, -1} {
		if _, err := s.ListClients(ctx, "", limit); err == nil {
			t.Errorf("ListClients with limit %d succeeded", limit)
		}
	}
	// Deleted clients drop out of the list.
	must(t, "DeleteClient", s.DeleteClient(ctx, "client-02", t0))
	page, err = s.ListClients(ctx, "client-01", 1)
	must(t, "ListClients", err)
	if len(page) != 1 || page[0].ID != "client-03" {
		t.Fatalf("ListClients after a delete = %v", page)
	}
}

func testClientUpdate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	orig := newClient("client-a")
	must(t, "CreateClient", s.CreateClient(ctx, orig))
	other := newClient("client-b")
	must(t, "CreateClient", s.CreateClient(ctx, other))

	read, err := s.GetClient(ctx, "client-a")
	must(t, "GetClient", err)
	// Every field but the id changes; CreatedAt is ignored.
	next := store.Client{
		ID: "client-a", Name: "Renamed", Description: "", Type: "first_party",
		SecretHashes: []string{"sha256:" + hashOf("pending:client-a")}, PendingSecretHash: "",
		RedirectURIs: []string{"https://new.example/cb"}, PostLogoutRedirectURIs: nil, Scopes: nil,
		TokenEndpointAuthMethod: "client_secret_basic", AccessTokenLifetime: time.Minute,
		Contacts: []string{"new@app.example"}, Dynamic: false,
		CreatedAt: t0.Add(99 * time.Hour), UpdatedAt: t0.Add(time.Hour), Revision: read.Revision,
	}
	must(t, "UpdateClient", s.UpdateClient(ctx, next))
	want := next
	want.CreatedAt = orig.CreatedAt
	want.Revision = read.Revision + 1
	got, err := s.GetClient(ctx, "client-a")
	must(t, "GetClient", err)
	checkEqual(t, "updated client", got, want)

	// A second update from the stale read loses and changes nothing.
	stale := read
	stale.Name = "Lost update"
	wantErr(t, "UpdateClient from a stale revision", s.UpdateClient(ctx, stale), store.ErrConflict)
	got, err = s.GetClient(ctx, "client-a")
	must(t, "GetClient", err)
	checkEqual(t, "client after a lost update", got, want)
	// The other client was never touched.
	got, err = s.GetClient(ctx, "client-b")
	must(t, "GetClient", err)
	checkEqual(t, "untouched client", got, other)
}

// testClientDelete: deleting a client revokes its grants (visible in the
// revocation feed) and removes its consents and codes, and nothing of any
// other client.
func testClientDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	// issue's records belong to client "client-" + name.
	must(t, "CreateClient", s.CreateClient(ctx, newClient("client-a")))
	must(t, "CreateClient", s.CreateClient(ctx, newClient("client-b")))
	gone := issue(t, s, "a", nil)
	kept := issue(t, s, "b", nil)
	pending := newCode("a")
	pending.Hash, pending.GrantID = hashOf("code:a-pending"), "grant-a-pending"
	must(t, "CreateAuthCode", s.CreateAuthCode(ctx, pending))
	for _, c := range []string{"client-a", "client-b"} {
		must(t, "SaveConsent", s.SaveConsent(ctx, store.Consent{Subject: "user-x", ClientID: c, Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}))
	}
	keptProbe := probe{codes: []string{kept.code.Hash}, grants: []string{kept.grant.ID}, tokens: []string{kept.token.Hash}}
	before := observe(t, s, keptProbe)

	wantErr(t, "DeleteClient at the zero time", s.DeleteClient(ctx, "client-a", time.Time{}), nil)
	if _, err := s.GetClient(ctx, "client-a"); err != nil {
		t.Fatalf("a failed DeleteClient removed the client: %v", err)
	}

	deletedAt := redeemAt.Add(time.Hour)
	must(t, "DeleteClient", s.DeleteClient(ctx, "client-a", deletedAt))
	_, err := s.GetClient(ctx, "client-a")
	wantErr(t, "GetClient of a deleted client", err, store.ErrNotFound)
	g, err := s.GetGrant(ctx, gone.grant.ID)
	must(t, "GetGrant", err)
	if !g.RevokedAt.Equal(deletedAt.Truncate(time.Millisecond)) {
		t.Errorf("grant of the deleted client: RevokedAt %s, want %s", formatTime(g.RevokedAt), formatTime(deletedAt))
	}
	_, err = s.RotateRefreshToken(ctx, gone.token.Hash, deletedAt, newToken(gone.grant, "a/2", deletedAt))
	wantErr(t, "RotateRefreshToken of a deleted client's token", err, store.ErrRevoked)
	revs, err := s.RevokedSince(ctx, deletedAt, deletedAt, 10)
	must(t, "RevokedSince", err)
	if !slices.ContainsFunc(revs, func(r store.Revocation) bool { return r.Kind == store.RevokedGrant && r.ID == gone.grant.ID }) {
		t.Errorf("RevokedSince does not list the deleted client's grant: %v", revs)
	}
	checkMissing(t, s, probe{codes: []string{gone.code.Hash, pending.Hash}})
	_, err = s.GetConsent(ctx, "user-x", "client-a")
	wantErr(t, "GetConsent of a deleted client", err, store.ErrNotFound)

	checkUnchanged(t, s, keptProbe, before)
	if _, err := s.GetConsent(ctx, "user-x", "client-b"); err != nil {
		t.Errorf("the other client's consent: %v", err)
	}
	if _, err := s.GetClient(ctx, "client-b"); err != nil {
		t.Errorf("the other client: %v", err)
	}
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, "client-a", deletedAt), store.ErrNotFound)
}

// testConcurrentUpdateClient: of many updates from the same read, exactly
// one applies; the others get ErrConflict.
func testConcurrentUpdateClient(t *testing.T, stores []store.Store) {
	c := newClient("client-race")
	must(t, "CreateClient", stores[0].CreateClient(t.Context(), c))
	errs := race(t, stores, func(ctx context.Context, s store.Store, i int) error {
		next := c
		next.Name = fmt.Sprint("writer ", i)
		return s.UpdateClient(ctx, next)
	})
	winner := tally(t, "UpdateClient", errs, store.ErrConflict)
	for _, s := range stores {
		got, err := s.GetClient(t.Context(), c.ID)
		must(t, "GetClient", err)
		if want := fmt.Sprint("writer ", winner); got.Name != want || got.Revision != 2 {
			t.Errorf("after the race: name %q revision %d, want %q and 2", got.Name, got.Revision, want)
		}
	}
}
