package caddymodule

import (
	"path/filepath"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

func init() {
	caddy.RegisterModule(SQLiteStorage{})
}

// SQLiteStorage keeps Gatehouse's state in an embedded SQLite database
// (pure Go, no cgo). Suited to a single Caddy instance.
type SQLiteStorage struct {
	// Path of the database file. Default: gatehouse/gatehouse.db in
	// Caddy's data directory.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (SQLiteStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse.storage.sqlite",
		New: func() caddy.Module { return new(SQLiteStorage) },
	}
}

func (s *SQLiteStorage) path() string {
	p := s.Path
	if p == "" {
		p = filepath.Join(caddy.AppDataDir(), "gatehouse", "gatehouse.db")
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// PoolKey identifies the database file.
func (s *SQLiteStorage) PoolKey() string { return "sqlite:" + s.path() }

// OpenStore opens the database, creating it and applying migrations.
func (s *SQLiteStorage) OpenStore(ctx caddy.Context) (store.Store, error) {
	return sqlite.Open(ctx, s.path())
}

// Interface guards
var _ StorageBackend = (*SQLiteStorage)(nil)
