package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database at path to dst with
// VACUUM INTO, while other connections and processes keep using it: the
// copy is one read transaction's snapshot (WAL readers block nobody), a
// complete database file with no -wal to go with it. dst must not exist.
// The copy holds the signing keys and secrets sealed as they are stored:
// restoring it needs the same key-encryption key.
func Backup(ctx context.Context, path, dst string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("sqlite: the database: %w", err)
	}
	out, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("sqlite: %s exists; back up to a new file", out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs, fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout)))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return fmt.Errorf("sqlite: backing up to %s: %w", out, err)
	}
	return nil
}
