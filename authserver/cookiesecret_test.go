package authserver

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// TestStoredCookieSecret: the first caller creates the secret; later
// callers, on the same store or another instance's, get the same one as
// long as their key-encryption keys open it.
func TestStoredCookieSecret(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	kekA, kekB := seal.GenerateKey(), seal.GenerateKey()
	sealer := func(t *testing.T, keks ...[]byte) *seal.Sealer {
		s, err := seal.New(keks...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tt := range []struct {
		name      string
		sameStore bool     // the second call uses the first one's store, not another on the file
		keks      [][]byte // of the second caller; the first has kekA
		wantErr   string
	}{
		{"again on the same store", true, [][]byte{kekA}, ""},
		{"another instance sharing the database", false, [][]byte{kekA}, ""},
		{"after a key-encryption key rotation", false, [][]byte{kekB, kekA}, ""},
		{"another key-encryption key", false, [][]byte{kekB}, "does not open with the configured key_encryption_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "core.db")
			open := func() store.Store {
				st, err := sqlite.Open(t.Context(), path, now)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			first := open()
			secret, err := StoredCookieSecret(t.Context(), first, sealer(t, kekA), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) != 32 {
				t.Fatalf("secret of %d bytes, want 32", len(secret))
			}
			second := first
			if !tt.sameStore {
				second = open()
			}
			again, err := StoredCookieSecret(t.Context(), second, sealer(t, tt.keks...), now.Add(time.Hour))
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("second call = %v, want an error containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(again, secret):
				t.Fatal("the second call got another secret")
			}
		})
	}
}
