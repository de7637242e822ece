package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlstore"
)

const (
	// busyTimeout is how long, in milliseconds, a connection waits for a
	// lock another connection (usually another process's writer) holds.
	busyTimeout = 5000
	// readerConns is the size of the reader pool. WAL readers do not block
	// each other or the writer, so this is about parallelism, not locking.
	readerConns = 4
)

// dialect is SQLite's part of sqlstore.
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	Placeholder: sqlstore.QuestionMark,
	// Migration transactions begin IMMEDIATE like every other write, which
	// already excludes other writers, other processes included.
	LockMigrations:    nil,
	IsUniqueViolation: isUniqueViolation,
	SingleWriter:      true,
	CacheStatements:   true,
	IsUnavailable:     isUnavailable,
}

// isUnavailable reports SQLite's passing failures: the file is locked
// longer than busy_timeout, the disk or the database is full
// (SQLITE_FULL), the disk failed or vanished (SQLITE_IOERR,
// SQLITE_CANTOPEN), or a statement was interrupted because its deadline
// passed (SQLITE_INTERRUPT).
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	// The driver turns on extended result codes, so a constraint error
	// says which constraint failed.
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Open opens, creating it if needed, the SQLite database at path (a file
// path, not a DSN) and brings its schema up to date, recording migrations as
// applied at now. Several Stores, in one process or several, may open the
// same file. Close the Store to release it. opts tune the store
// (sqlstore.WithCallTimeout).
func Open(ctx context.Context, path string, now time.Time, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := preparePath(abs); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	// The writer is connected (and so the file switched to WAL) before any
	// reader connection exists.
	writer, err := sql.Open("sqlite", dsn(abs,
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout),
		"_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_txlock=immediate",
	))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := connectWriter(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	reader, err := sql.Open("sqlite", dsn(abs,
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout),
		"_pragma=foreign_keys(1)",
		"_query_only=1",
	))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)

	s, err := sqlstore.New(ctx, reader, writer, dialect, now, opts...)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	return s, nil
}

// preparePath creates the parent directory (0700) if it is missing and the
// database file (0600) if it does not exist yet, so SQLite, which would use
// 0644, never creates it. SQLite gives the -wal and -shm files the main
// file's mode. An existing file readable by others is narrowed to 0600: it
// holds sealed keys and credential hashes.
func preparePath(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = f.Chmod(0o600)
	}
	return errors.Join(err, f.Close())
}

// dsn builds a "file:" URI for path with the driver parameters params. The
// URI form lets the path contain '?', '#' or '%', which SQLite decodes.
func dsn(path string, params ...string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path, C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: strings.Join(params, "&")}
	return u.String()
}

// connectWriter opens the writer's connection, which switches the file to
// WAL, and checks that it took. When several instances create the same
// database at once, that switch can fail with SQLITE_BUSY at once rather
// than wait (SQLite refuses to wait where waiting could deadlock), so it is
// retried, backing off, for up to busyTimeout. That bound is a timer, not a
// reading of the clock: the store takes every time it records from its
// caller.
func connectWriter(ctx context.Context, db *sql.DB) error {
	giveUp := time.NewTimer(busyTimeout * time.Millisecond)
	defer giveUp.Stop()
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := checkWAL(ctx, db)
		if !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-giveUp.C:
			return err
		case <-time.After(delay):
		}
	}
}

func isBusy(err error) bool {
	var e *sqlite.Error
	// The low byte is the primary result code; extended codes such as
	// SQLITE_BUSY_RECOVERY carry more in the high bytes.
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// checkWAL makes sure the journal mode took. SQLite silently keeps its old
// mode where WAL is impossible (some network file systems), and without WAL
// readers would block the writer.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want WAL", mode)
	}
	return nil
}
