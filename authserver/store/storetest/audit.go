package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func auditStore(t *testing.T, open opener) store.AuditStore {
	t.Helper()
	a, ok := open(t).(store.AuditStore)
	if !ok {
		t.Fatal("the store does not implement store.AuditStore")
	}
	return a
}

// auditRecords are n records a minute apart from t0, ids in the same
// order, alternating between two users and two clients and types.
func auditRecords(t0 time.Time, n int) []store.AuditRecord {
	var out []store.AuditRecord
	for i := range n {
		out = append(out, store.AuditRecord{
			ID:         fmt.Sprintf("%016x-%02d", t0.Add(time.Duration(i)*time.Minute).UnixMilli(), i),
			Time:       t0.Add(time.Duration(i) * time.Minute),
			Type:       []string{"login", "token_issued"}[i%2],
			Result:     "success",
			Method:     "password",
			GrantType:  "authorization_code",
			ClientType: "confidential",
			Kind:       "",
			Subject:    fmt.Sprintf("user-%d", i%2),
			Username:   "alice",
			ClientID:   fmt.Sprintf("client-%d", i%3),
			GrantID:    fmt.Sprintf("grant-%d", i),
			Scopes:     []string{"openid", "email"},
			ClientIP:   "192.0.2.7",
		})
	}
	return out
}

func auditIDs(rs []store.AuditRecord) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testAuditRoundTrip(t *testing.T, open opener) {
	s := auditStore(t, open)
	ctx := t.Context()
	want := auditRecords(auditBase, 3)
	must(t, "AppendAudit", s.AppendAudit(ctx, want))
	got, err := s.ListAudit(ctx, store.AuditQuery{Limit: 10})
	must(t, "ListAudit", err)
	slices.Reverse(want)
	if len(got) != len(want) {
		t.Fatalf("ListAudit returned %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("record %d: Time %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if err := s.AppendAudit(ctx, want[:1]); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("AppendAudit of a stored id: %v, want ErrAlreadyExists", err)
	}
	if _, err := s.ListAudit(ctx, store.AuditQuery{}); err == nil {
		t.Error("ListAudit without a limit succeeded")
	}
}

func testAuditQuery(t *testing.T, open opener) {
	s := auditStore(t, open)
	ctx := t.Context()
	all := auditRecords(auditBase, 12)
	must(t, "AppendAudit", s.AppendAudit(ctx, all))
	pick := func(keep func(store.AuditRecord) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	cases := []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"user", store.AuditQuery{Subject: "user-1"}, pick(func(r store.AuditRecord) bool { return r.Subject == "user-1" })},
		{"client", store.AuditQuery{ClientID: "client-2"}, pick(func(r store.AuditRecord) bool { return r.ClientID == "client-2" })},
		{"type", store.AuditQuery{Type: "login"}, pick(func(r store.AuditRecord) bool { return r.Type == "login" })},
		{"since until", store.AuditQuery{Since: auditBase.Add(3 * time.Minute), Until: auditBase.Add(6 * time.Minute)},
			[]string{all[5].ID, all[4].ID, all[3].ID}},
		{"combined", store.AuditQuery{Subject: "user-0", ClientID: "client-0"},
			pick(func(r store.AuditRecord) bool { return r.Subject == "user-0" && r.ClientID == "client-0" })},
		{"none", store.AuditQuery{Subject: "nobody"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 100
			got, err := s.ListAudit(ctx, tc.q)
			must(t, "ListAudit", err)
			if !slices.Equal(auditIDs(got), tc.want) {
				t.Errorf("got %v, want %v", auditIDs(got), tc.want)
			}
		})
	}
	// Keyset pages of every size walk the filtered list exactly once.
	want := pick(func(r store.AuditRecord) bool { return r.Type == "token_issued" })
	for _, limit := range []int{1, 2, 5, 6, 100} {
		var got []string
		after := ""
		for range len(all) + 1 { // bounded: a page per record at most, plus the empty one
			page, err := s.ListAudit(ctx, store.AuditQuery{Type: "token_issued", After: after, Limit: limit})
			must(t, "ListAudit", err)
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, auditIDs(page)...)
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: pages gave %v, want %v", limit, got, want)
		}
	}
}

func testAuditDeleteBefore(t *testing.T, open opener) {
	s := auditStore(t, open)
	ctx := t.Context()
	all := auditRecords(auditBase, 10)
	must(t, "AppendAudit", s.AppendAudit(ctx, all))
	// Records 0..5 are older than the cut; deleted 4 then 2 (oldest first).
	cut := auditBase.Add(6 * time.Minute)
	for _, step := range []struct{ limit, want int }{{0, 0}, {4, 4}, {4, 2}, {4, 0}} {
		n, err := s.DeleteAuditBefore(ctx, cut, step.limit)
		must(t, "DeleteAuditBefore", err)
		if n != step.want {
			t.Fatalf("DeleteAuditBefore(limit %d) deleted %d, want %d", step.limit, n, step.want)
		}
	}
	got, err := s.ListAudit(ctx, store.AuditQuery{Limit: 100})
	must(t, "ListAudit", err)
	want := auditIDs(all[6:])
	slices.Reverse(want)
	if !slices.Equal(auditIDs(got), want) {
		t.Errorf("left %v, want %v", auditIDs(got), want)
	}
}

// auditBase is a whole millisecond: audit times are kept to the millisecond.
var auditBase = t0.Truncate(time.Millisecond)
