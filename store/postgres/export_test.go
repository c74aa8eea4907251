package postgres

// MigrationCount is the number of migrations of this build, for tests.
func MigrationCount() int { return len(migrations) }

// Migration returns migration i (0-based), for tests that build an older
// schema.
func Migration(i int) string { return migrations[i] }
