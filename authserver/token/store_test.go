package token

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

// testStore is a real SQLite store with one hook: beforeList, when set,
// runs at the start of every ListSigningKeys, so tests can force the
// interleavings of several key managers starting at once.
type testStore struct {
	*sqlstore.Store
	beforeList func()
}

var _ store.Store = (*testStore)(nil)

// newTestStore opens a fresh SQLite store in t's temporary directory.
func newTestStore(t testing.TB) *testStore {
	t.Helper()
	st, err := openTestStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openTestStore(dir string) (*testStore, error) {
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"), t0)
	if err != nil {
		return nil, err
	}
	return &testStore{Store: st}, nil
}

// fixtureDir holds the store of the shared fixture, which lives as long
// as the test binary; TestMain removes it.
var fixtureDir string

// fixtureStore opens the shared fixture's store.
func fixtureStore() (*testStore, error) {
	dir, err := os.MkdirTemp("", "gatehouse-token-test")
	if err != nil {
		return nil, err
	}
	fixtureDir = dir
	return openTestStore(dir)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func (s *testStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if s.beforeList != nil {
		s.beforeList()
	}
	return s.Store.ListSigningKeys(ctx)
}

// count is the number of signing keys stored.
func (s *testStore) count() int {
	keys, err := s.Store.ListSigningKeys(context.Background())
	if err != nil {
		panic(err)
	}
	return len(keys)
}
