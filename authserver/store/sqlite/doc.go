// Package sqlite opens Gatehouse's store on a SQLite file, through the pure
// Go driver modernc.org/sqlite (no cgo), using the generic sqlstore.
//
// Invariants:
//
//   - The database is in WAL mode, so readers never wait for the writer and
//     the writer never waits for readers.
//   - All writes in a process go through one connection whose transactions
//     begin IMMEDIATE, taking SQLite's write lock up front. Writers in other
//     processes (or other Stores on the same file) wait for it for up to
//     busyTimeout instead of failing.
//   - Foreign keys are enforced on every connection; reader connections are
//     query-only.
//   - The database file (and the -wal and -shm files SQLite derives from it)
//     is readable by its owner only, and a missing parent directory is
//     created with mode 0700.
package sqlite
