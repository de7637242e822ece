package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

func TestStaticDirectoryLookup(t *testing.T) {
	alice := &identity.User{ID: "u-alice", Username: "alice", Email: "Alice@Example.com"}
	bob := &identity.User{ID: "u-bob", Username: "Bob"} // no email
	carol := &identity.User{ID: "u-carol", Username: "carol@example.org", Email: "CAROL@example.org"}
	dave := &identity.User{ID: "u-dave", Username: " dave ", Email: " dave@example.net\t"}
	d, err := identity.NewStaticDirectory([]*identity.User{alice, bob, carol, dave})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want *identity.User
	}{
		{"alice", alice},
		{"ALICE", alice},
		{"  alice  ", alice},
		{"\talice\n", alice},
		{"alice@example.com", alice},
		{"ALICE@EXAMPLE.COM", alice},
		{" Alice@Example.com ", alice},
		{"bob", bob},
		{"BOB", bob},
		{"carol@example.org", carol}, // username equal to own email is not a duplicate
		{"Carol@Example.Org", carol},
		{"dave", dave}, // configured with stray spaces, still found
		{"dave@example.net", dave},
		{"", nil}, // bob's empty email must not make "" a login name
		{"   ", nil},
		{"mallory", nil},
		{"alic", nil},
		{"alicex", nil},
		{"al ice", nil},
		{"alice@example", nil},
		{"u-alice", nil}, // ids are not login names
		{"alice\x00", nil},
	}
	ctx := context.Background()
	for _, tc := range tests {
		got, err := d.UserByUsername(ctx, tc.name)
		if got != tc.want || !lookupErrOK(err, tc.want) {
			t.Errorf("UserByUsername(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	idTests := []struct {
		id   string
		want *identity.User
	}{
		{"u-alice", alice}, {"u-bob", bob}, {"u-dave", dave},
		{"U-ALICE", nil}, // subject identifiers are compared exactly
		{" u-alice", nil}, {"alice", nil}, {"", nil},
	}
	for _, tc := range idTests {
		got, err := d.UserByID(ctx, tc.id)
		if got != tc.want || !lookupErrOK(err, tc.want) {
			t.Errorf("UserByID(%q) = %v, %v; want %v", tc.id, got, err, tc.want)
		}
	}
}

// lookupErrOK: a found user comes with no error, a missing one with
// ErrNotFound and nothing else.
func lookupErrOK(err error, want *identity.User) bool {
	if want != nil {
		return err == nil
	}
	return errors.Is(err, identity.ErrNotFound)
}

func TestStaticDirectoryEmpty(t *testing.T) {
	d, err := identity.NewStaticDirectory(nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := d.UserByUsername(context.Background(), "alice"); !errors.Is(err, identity.ErrNotFound) || u != nil {
		t.Errorf("empty directory found %v, %v", u, err)
	}
	if u, err := d.UserByID(context.Background(), ""); !errors.Is(err, identity.ErrNotFound) || u != nil {
		t.Errorf("empty directory found %v, %v by empty id", u, err)
	}
}

func TestStaticDirectoryRejects(t *testing.T) {
	u := func(id, username, email string) *identity.User {
		return &identity.User{ID: id, Username: username, Email: email}
	}
	tests := []struct {
		name  string
		users []*identity.User
		want  []string // substrings the error must contain
	}{
		{"empty username", []*identity.User{u("1", "", "a@x")}, []string{"username"}},
		{"blank username", []*identity.User{u("1", "  ", "a@x")}, []string{"username"}},
		{"empty id", []*identity.User{u("", "alice", "")}, []string{`"alice"`, "id"}},
		{"duplicate id", []*identity.User{u("1", "alice", ""), u("1", "bob", "")},
			[]string{`"alice"`, `"bob"`, `"1"`}},
		{"duplicate username", []*identity.User{u("1", "alice", ""), u("2", "alice", "")},
			[]string{`"alice"`}},
		{"duplicate username, other case", []*identity.User{u("1", "alice", ""), u("2", "ALICE", "")},
			[]string{`"alice"`, `"ALICE"`}},
		{"duplicate username, stray spaces", []*identity.User{u("1", "alice", ""), u("2", " alice", "")},
			[]string{`"alice"`, `" alice"`}},
		{"duplicate email", []*identity.User{u("1", "alice", "a@x.com"), u("2", "bob", "A@X.COM")},
			[]string{`"alice"`, `"bob"`, `"A@X.COM"`}},
		{"email equals another's username", []*identity.User{u("1", "alice", ""), u("2", "bob", "Alice")},
			[]string{`"alice"`, `"bob"`}},
		{"username equals another's email", []*identity.User{u("1", "alice", "boss@x.com"), u("2", "boss@x.com", "")},
			[]string{`"alice"`, `"boss@x.com"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := identity.NewStaticDirectory(tc.users)
			if err == nil {
				t.Fatalf("NewStaticDirectory accepted %d users, want an error", len(tc.users))
			}
			if d != nil {
				t.Errorf("got a directory together with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}
