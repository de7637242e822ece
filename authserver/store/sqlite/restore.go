package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrInUse is Restore's error when the database it would replace is open
// in another connection or process (a running Caddy).
var ErrInUse = errors.New("sqlite: the database is in use; stop Caddy (or every process using it) first")

// PreRestoreSuffix names where Restore keeps the database it replaced:
// the database's path with this suffix.
const PreRestoreSuffix = ".pre-restore"

// Restore replaces the database at path with the backup src (one that
// Backup wrote), offline:
//
//   - src must be a sound Gatehouse database (quick_check, and its
//     schema table);
//   - the database at path, when there is one, must not be in use: taking
//     it out of WAL mode needs every other connection closed, so a running
//     instance makes Restore fail with ErrInUse and change nothing;
//   - the replaced database is kept at path+PreRestoreSuffix, and its -wal
//     and -shm files are removed, so no stale log is replayed onto the
//     restored file;
//   - the copy is written beside path and renamed over it, so a crash
//     leaves either database whole.
//
// The restored database's keys and secrets are sealed with the
// key-encryption key of the instance that wrote them: start with that key.
func Restore(ctx context.Context, src, path string) error {
	from, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	to, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if from == to {
		return errors.New("sqlite: the backup and the database are the same file")
	}
	if err := checkBackup(ctx, from); err != nil {
		return err
	}
	if err := releaseForRestore(ctx, to); err != nil {
		return err
	}
	tmp, err := copyBeside(from, to)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone after the rename; a leftover on failure
	if _, err := os.Stat(to); err == nil {
		if err := os.Rename(to, to+PreRestoreSuffix); err != nil {
			return fmt.Errorf("sqlite: keeping the replaced database: %w", err)
		}
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(to + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sqlite: removing %s: %w", to+suffix, err)
		}
	}
	if err := os.Rename(tmp, to); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return syncDir(filepath.Dir(to))
}

// checkBackup opens src read-only and checks it is a sound Gatehouse
// database.
func checkBackup(ctx context.Context, src string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("sqlite: the backup: %w", err)
	}
	// immutable: nothing writes a backup, and a WAL-mode file opens
	// read-only without creating a -shm beside it.
	db, err := sql.Open("sqlite", dsn(src, "mode=ro", "immutable=1"))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil || check != "ok" {
		return fmt.Errorf("sqlite: %s is not a sound SQLite database (%v%s)", src, err, check)
	}
	var version int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM gatehouse_schema_migrations").Scan(&version); err != nil || version == 0 {
		return fmt.Errorf("sqlite: %s is not a Gatehouse database", src)
	}
	return nil
}

// releaseForRestore checks that nothing uses the database at path, by
// taking it out of WAL mode, which SQLite allows only to the one
// connection open on it; that also folds its -wal into the file. A
// missing database is fine.
func releaseForRestore(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", dsn(path, "_pragma=busy_timeout(0)"))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer db.Close()
	var mode string
	err = db.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode)
	switch {
	case err != nil && (strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy")):
		return ErrInUse
	case err != nil:
		return fmt.Errorf("sqlite: %s: %w", path, err)
	case !strings.EqualFold(mode, "delete"):
		return ErrInUse
	}
	return nil
}

// copyBeside copies src to a new file in dst's directory and syncs it.
func copyBeside(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(out.Name(), 0o600)
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("sqlite: copying the backup: %w", err)
	}
	return out.Name(), nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
