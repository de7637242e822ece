// Package sqlstore implements store.Store over database/sql, once, for every
// SQL database Gatehouse supports. What differs between databases is kept in
// a small Dialect; the SQL itself is written to run unchanged on SQLite 3.35+
// and PostgreSQL 13+.
//
// Invariants the package keeps:
//
//   - Columns are TEXT or BIGINT only. Times are Unix milliseconds, with 0
//     standing for the zero time.Time (so a time at exactly the Unix epoch
//     reads back as zero). String lists are JSON arrays; byte slices are
//     standard base64.
//   - Every race the store.Store contract cares about (a code redeemed twice,
//     a refresh token rotated twice) is decided by one conditional UPDATE ...
//     RETURNING inside a write transaction. Go code only explains a lost race
//     afterwards, in the same transaction, and never picks the winner.
//   - A failed call rolls its transaction back and leaves stored state as it
//     was. The exceptions are the reuse errors (store.ErrCodeReused,
//     store.ErrRefreshTokenReused): the grant revocation they imply is
//     committed before the error is returned.
//   - Refresh tokens have no revoked flag of their own: a token is usable
//     only while its grant is neither revoked nor expired, so revoking the
//     grant revokes the whole family in one write.
//   - Reads go to the reader pool and must observe every write the writer
//     has committed (no asynchronous replicas behind the reader).
//   - Schema changes are an append-only list of migrations, each applied in
//     its own transaction and recorded in gatehouse_schema_migrations. Every
//     table is prefixed gatehouse_.
//   - Error messages never carry credential hashes or sealed values.
//   - Every time written comes from the caller (a now argument, or the time
//     New is given for migrations); the package never reads the clock.
package sqlstore
