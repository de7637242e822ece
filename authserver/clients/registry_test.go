package clients

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestRegistry is a registry over a fresh SQLite store, with the given
// static clients and a fake clock.
func newTestRegistry(t *testing.T, static ...*Client) (*Registry, store.Store, *fakeClock) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sc, err := NewStatic(static, testScopes)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	return NewRegistry(sc, st, testScopes, RegistryOptions{Now: clock.now}), st, clock
}

func webApp(name string) Metadata {
	return Metadata{Name: name, Type: ThirdParty, RedirectURIs: []string{"https://app.example/cb"}}
}

func staticClient(id string) *Client {
	return &Client{ID: id, Metadata: Metadata{Type: FirstPartyPublic, RedirectURIs: []string{"http://127.0.0.1/cb"}}}
}

func TestRegistryLookupAndCache(t *testing.T) {
	ctx := t.Context()
	reg, st, clock := newTestRegistry(t, staticClient("static-a"))
	info, secret, err := reg.Create(ctx, webApp("Web"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Web" || !c.VerifySecret(ctx, nil, secret) || c.VerifySecret(ctx, nil, secret+"x") {
		t.Fatalf("looked-up client: %+v", c)
	}
	if _, err := reg.Client(ctx, "nobody"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown id: %v", err)
	}

	// A change behind the registry's back (another instance) is seen once
	// the cache entry is older than the TTL, not before.
	rec, err := st.GetClient(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Name = "Changed elsewhere"
	if err := st.UpdateClient(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if c, _ := reg.Client(ctx, info.ID); c.Name != "Web" {
		t.Errorf("within the TTL: name %q, want the cached one", c.Name)
	}
	clock.advance(defaultClientCacheTTL)
	if c, _ := reg.Client(ctx, info.ID); c.Name != "Changed elsewhere" {
		t.Errorf("after the TTL: name %q", c.Name)
	}
	// A change through the registry is seen at once.
	if _, err := reg.Update(ctx, info.ID, func(md *Metadata) error { md.Name = "Changed here"; return nil }); err != nil {
		t.Fatal(err)
	}
	if c, _ := reg.Client(ctx, info.ID); c.Name != "Changed here" {
		t.Errorf("after a local update: name %q", c.Name)
	}
	// A client created elsewhere is found at once: misses are not cached.
	rec.ID, rec.Name, rec.Revision = "made-elsewhere", "Elsewhere", 0
	if _, err := reg.Client(ctx, "made-elsewhere"); !errors.Is(err, ErrUnknown) {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if c, err := reg.Client(ctx, "made-elsewhere"); err != nil || c.Name != "Elsewhere" {
		t.Errorf("client created elsewhere: %v %+v", err, c)
	}
	// Deleted here: gone at once.
	if err := reg.Delete(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Client(ctx, info.ID); !errors.Is(err, ErrUnknown) {
		t.Errorf("after delete: %v", err)
	}
}

// TestRegistryStaticClientsWin: static ids are reserved and read-only.
func TestRegistryStaticClientsWin(t *testing.T) {
	ctx := t.Context()
	reg, st, _ := newTestRegistry(t, staticClient("shared-id"))
	// A stored client under a static id (e.g. the Caddyfile gained it
	// later) is never served.
	if err := st.CreateClient(ctx, store.Client{ID: "shared-id", Name: "Stored", Type: "third_party_public",
		RedirectURIs: []string{"https://evil.example/cb"}, TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, "shared-id")
	if err != nil || c.RedirectURIs[0] != "http://127.0.0.1/cb" {
		t.Fatalf("shared id served %+v (%v)", c, err)
	}
	info, err := reg.Get(ctx, "shared-id")
	if err != nil || !info.Static {
		t.Fatalf("GetClient: %+v %v", info, err)
	}
	page, next, err := reg.List(ctx, "", 10)
	if err != nil || len(page) != 1 || !page[0].Static || next != "" {
		t.Fatalf("list: %+v %q %v", page, next, err)
	}
	for name, op := range map[string]func() error{
		"update": func() error {
			_, err := reg.Update(ctx, "shared-id", func(*Metadata) error { return nil })
			return err
		},
		"delete":   func() error { return reg.Delete(ctx, "shared-id") },
		"start":    func() error { _, _, err := reg.StartSecretRotation(ctx, "shared-id"); return err },
		"complete": func() error { _, err := reg.CompleteSecretRotation(ctx, "shared-id"); return err },
		"cancel":   func() error { _, err := reg.CancelSecretRotation(ctx, "shared-id"); return err },
	} {
		if err := op(); !errors.Is(err, ErrStatic) {
			t.Errorf("%s of a static client: %v", name, err)
		}
	}
}

// TestRegistryList: static clients first, then stored ones, each exactly
// once whatever the page size, skipping stored clients shadowed by static
// ones.
func TestRegistryList(t *testing.T) {
	ctx := t.Context()
	reg, st, _ := newTestRegistry(t, staticClient("s-b"), staticClient("s-a"), staticClient("s-c"))
	want := []string{"s-a", "s-b", "s-c"}
	var stored []string
	for range 5 {
		info, _, err := reg.Create(ctx, webApp("x"))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, info.ID)
	}
	// Two more stored clients sort first and last among the stored ones;
	// a second registry has static clients of the same ids, which shadow
	// them, so they must be listed once, as static.
	first, last := "gh_client_", "gh_client_~"
	shadowing, err := NewStatic([]*Client{staticClient("s-a"), staticClient("s-b"), staticClient("s-c"),
		staticClient(first), staticClient(last)}, testScopes)
	if err != nil {
		t.Fatal(err)
	}
	reg2 := NewRegistry(shadowing, st, testScopes, RegistryOptions{})
	for _, id := range []string{first, last} {
		if err := st.CreateClient(ctx, store.Client{ID: id, Name: "shadowed", Type: "third_party_public",
			RedirectURIs: []string{"https://x.example/cb"}, TokenEndpointAuthMethod: "none"}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(stored)
	for name, tc := range map[string]struct {
		r    *Registry
		want []string
	}{
		"plain":    {reg, slices.Concat(want, []string{first}, stored, []string{last})},
		"shadowed": {reg2, slices.Concat([]string{first, last}, want, stored)},
	} {
		for limit := 1; limit <= 12; limit++ {
			var got []string
			after := ""
			for range 20 {
				page, next, err := tc.r.List(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("%s, limit %d: page of %d", name, limit, len(page))
				}
				for _, c := range page {
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s, limit %d: listed %v\nwant %v", name, limit, got, tc.want)
			}
		}
	}
	if _, _, err := reg.List(ctx, "", 0); err == nil {
		t.Error("limit 0 accepted")
	}
}

func TestRegistryRotation(t *testing.T) {
	ctx := t.Context()
	reg, _, _ := newTestRegistry(t)
	info, first, err := reg.Create(ctx, webApp("Web"))
	if err != nil {
		t.Fatal(err)
	}
	accepts := func(secret string) bool {
		c, err := reg.Client(ctx, info.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.VerifySecret(ctx, nil, secret)
	}
	if _, err := reg.CompleteSecretRotation(ctx, info.ID); !errors.Is(err, ErrNoRotation) {
		t.Errorf("complete before start: %v", err)
	}
	started, second, err := reg.StartSecretRotation(ctx, info.ID)
	if err != nil || second == first || !started.SecretRotationPending || !strings.HasPrefix(second, clientSecretPrefix) {
		t.Fatalf("start: %v %+v", err, started)
	}
	if !accepts(first) || !accepts(second) {
		t.Error("during a rotation both secrets must work")
	}
	if _, _, err := reg.StartSecretRotation(ctx, info.ID); !errors.Is(err, ErrRotationInProgress) {
		t.Errorf("second start: %v", err)
	}
	if _, err := reg.CompleteSecretRotation(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if accepts(first) || !accepts(second) {
		t.Error("after complete only the new secret works")
	}
	_, third, _ := reg.StartSecretRotation(ctx, info.ID)
	if _, err := reg.CancelSecretRotation(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if accepts(third) || !accepts(second) {
		t.Error("after cancel only the kept secret works")
	}
	pub, _, err := reg.Create(ctx, Metadata{Name: "SPA", Type: ThirdPartyPublic, RedirectURIs: []string{"https://spa.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.StartSecretRotation(ctx, pub.ID); !errors.Is(err, ErrNoSecret) {
		t.Errorf("rotation of a public client: %v", err)
	}
	if _, _, err := reg.StartSecretRotation(ctx, "nobody"); !errors.Is(err, ErrUnknown) {
		t.Errorf("rotation of an unknown client: %v", err)
	}
}

// TestRegistryUpdateRetriesOnConflict: an update that loses a race is
// applied again on the newer record, so no change is lost.
func TestRegistryUpdateRetriesOnConflict(t *testing.T) {
	ctx := t.Context()
	reg, st, _ := newTestRegistry(t)
	info, _, err := reg.Create(ctx, webApp("Web"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := reg.Update(ctx, info.ID, func(md *Metadata) error {
		calls++
		if calls == 1 {
			// Someone else changes the description meanwhile.
			rec, err := st.GetClient(ctx, info.ID)
			if err != nil {
				return err
			}
			rec.Description = "theirs"
			if err := st.UpdateClient(ctx, rec); err != nil {
				return err
			}
		}
		md.Name = "mine"
		return nil
	})
	if err != nil || calls != 2 || got.Name != "mine" || got.Description != "theirs" {
		t.Fatalf("update after a conflict: calls %d, %+v, %v", calls, got, err)
	}
	// An edit that fails writes nothing.
	boom := errors.New("boom")
	if _, err := reg.Update(ctx, info.ID, func(md *Metadata) error { md.Name = "half"; return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if now, _ := reg.Get(ctx, info.ID); now.Name != "mine" {
		t.Errorf("a failed edit was stored: %+v", now)
	}
	// A client that keeps changing gives up after a few attempts.
	_, err = reg.Update(ctx, info.ID, func(md *Metadata) error {
		rec, _ := st.GetClient(context.Background(), info.ID)
		rec.Description += "."
		return st.UpdateClient(context.Background(), rec)
	})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("endless conflicts: %v", err)
	}
}
