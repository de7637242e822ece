package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func testConsentNotFound(t *testing.T, open opener) {
	s := open(t)
	_, err := s.GetConsent(t.Context(), "user-a", "client-a")
	wantErr(t, "GetConsent of an unknown pair", err, store.ErrNotFound)
}

func testConsentRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	// Pairs that share a subject or a client are separate records.
	consents := []store.Consent{
		{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid", "email"}, Resources: []string{"https://api.example/mcp"}, CreatedAt: t0, UpdatedAt: t0},
		{Subject: "user-a", ClientID: "client-b", Scopes: nil, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)},
		{Subject: "user-b", ClientID: "client-a", Scopes: []string{"openid"}, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)},
	}
	for _, c := range consents {
		must(t, "SaveConsent", s.SaveConsent(ctx, c))
	}
	for _, want := range consents {
		got, err := s.GetConsent(ctx, want.Subject, want.ClientID)
		must(t, "GetConsent", err)
		checkEqual(t, "consent", got, want)
	}
	_, err := s.GetConsent(ctx, "user-b", "client-b")
	wantErr(t, "GetConsent of a pair never saved", err, store.ErrNotFound)
}

func testConsentReplace(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid"}, Resources: []string{"https://a.example/"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, "SaveConsent", s.SaveConsent(ctx, first))
	later := t0.Add(48 * time.Hour)
	second := store.Consent{Subject: "user-a", ClientID: "client-a", Scopes: []string{"openid", "profile", "email"},
		Resources: []string{"https://a.example/", "https://b.example/mcp"}, CreatedAt: later, UpdatedAt: later}
	must(t, "SaveConsent over an existing one", s.SaveConsent(ctx, second))

	want := second
	want.CreatedAt = first.CreatedAt
	got, err := s.GetConsent(ctx, "user-a", "client-a")
	must(t, "GetConsent", err)
	checkEqual(t, "replaced consent", got, want)
}

func testSigningKeysEmpty(t *testing.T, open opener) {
	s := open(t)
	keys, err := s.ListSigningKeys(t.Context())
	must(t, "ListSigningKeys", err)
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store returned %d keys", len(keys))
	}
}

func testSigningKeysRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	oldest := store.SigningKey{ID: "k1", Algorithm: "ES256", Sealed: allBytes, CreatedAt: t0,
		NotAfter: t0.Add(90 * 24 * time.Hour), RetireAt: t0.Add(120 * 24 * time.Hour)}
	middle := store.SigningKey{ID: "k2", Algorithm: "RS256", Sealed: []byte("sealed-k2"), CreatedAt: t0.Add(time.Hour)}
	newest := store.SigningKey{ID: "k0", Algorithm: "EdDSA", Sealed: []byte{0}, CreatedAt: t0.Add(2 * time.Hour),
		RetireAt: t0.Add(365 * 24 * time.Hour)}
	// Created out of order; listed oldest first.
	for _, k := range []store.SigningKey{middle, newest, oldest} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	checkEqual(t, "signing keys", keys, []store.SigningKey{oldest, middle, newest})
}

func testSigningKeyDuplicate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	k := store.SigningKey{ID: "k1", Algorithm: "ES256", Sealed: []byte("first"), CreatedAt: t0}
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
	dup := store.SigningKey{ID: "k1", Algorithm: "RS256", Sealed: []byte("second"), CreatedAt: t0.Add(time.Hour)}
	wantErr(t, "CreateSigningKey with a used id", s.CreateSigningKey(ctx, dup), store.ErrAlreadyExists)
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	checkEqual(t, "signing keys after a duplicate create", keys, []store.SigningKey{k})
}

func testSigningKeysDelete(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	var all []store.SigningKey
	for i, id := range []string{"k1", "k2", "k3", "k4"} {
		k := store.SigningKey{ID: id, Algorithm: "ES256", Sealed: []byte("sealed-" + id), CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
		all = append(all, k)
	}
	for _, tc := range []struct {
		name  string
		ids   []string
		want  int
		after []store.SigningKey
	}{
		{"none", nil, 0, all},
		{"two of four", []string{"k3", "k1"}, 2, []store.SigningKey{all[1], all[3]}},
		// Another instance deleted k2 already: it is skipped, k4 goes.
		{"one gone, one stored", []string{"k2", "k4", "k3"}, 2, nil},
		{"unknown only", []string{"k9"}, 0, nil},
	} {
		n, err := s.DeleteSigningKeys(ctx, tc.ids)
		must(t, "DeleteSigningKeys "+tc.name, err)
		if n != tc.want {
			t.Errorf("DeleteSigningKeys %s deleted %d keys, want %d", tc.name, n, tc.want)
		}
		keys, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		checkEqual(t, "signing keys after DeleteSigningKeys "+tc.name, keys, tc.after)
	}
}

func testSecretFirstValueWins(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	first := []byte{0, 1, 2, 0xfe, 0xff, 'a'}
	got, err := s.GetOrCreateSecret(ctx, "cookie-key", t0, first)
	must(t, "GetOrCreateSecret", err)
	if !bytes.Equal(got, first) {
		t.Fatalf("first GetOrCreateSecret returned %x, want the candidate %x", got, first)
	}
	for i, candidate := range [][]byte{[]byte("second"), first[:2]} {
		got, err := s.GetOrCreateSecret(ctx, "cookie-key", t0.Add(time.Duration(i+1)*time.Hour), candidate)
		must(t, "GetOrCreateSecret", err)
		if !bytes.Equal(got, first) {
			t.Fatalf("later GetOrCreateSecret returned %x, want the first value %x", got, first)
		}
	}
	// Names are independent.
	other := []byte("other")
	got, err = s.GetOrCreateSecret(ctx, "csrf-key", t0, other)
	must(t, "GetOrCreateSecret", err)
	if !bytes.Equal(got, other) {
		t.Fatalf("GetOrCreateSecret of another name returned %x, want %x", got, other)
	}
	// The creation time comes from the caller, like every time the store
	// records, so a missing one is a caller's bug, not "now".
	_, err = s.GetOrCreateSecret(ctx, "zero-now", time.Time{}, []byte("x"))
	wantErr(t, "GetOrCreateSecret with a zero now", err, nil)
}
