package sqlstore

// MigrationVersions returns the schema versions this build applies, in
// order, for tests that check a database has each of them exactly once
// (versions may skip numbers while branches reserve their own).
func MigrationVersions() []int64 {
	out := make([]int64, len(migrations))
	for i, m := range migrations {
		out[i] = m.version
	}
	return out
}
