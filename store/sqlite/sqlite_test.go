package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
	"github.com/openhealthexchange/ohx/store/storetest"
)

func open(t testing.TB, path string, ring *seal.KeyRing, clock *storetest.Clock) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, ring, sqlite.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func factory(t testing.TB, cfg storetest.Config) storetest.Harness {
	path := filepath.Join(t.TempDir(), "ohx.db")
	s := open(t, path, cfg.Ring, cfg.Clock)
	raw := rawDB(t, path)
	return storetest.Harness{
		Store:   s,
		Replica: func(t testing.TB) store.Store { return open(t, path, cfg.Ring, cfg.Clock) },
		Reopen: func(t testing.TB, ring *seal.KeyRing) store.Store {
			return open(t, path, ring, cfg.Clock)
		},
		RawToken: func(t testing.TB, linkID string) store.SealedToken {
			var st store.SealedToken
			require.NoError(t, raw.QueryRow(`SELECT access_token, refresh_token, token_type FROM tokens WHERE link_id = ?`, linkID).
				Scan(&st.AccessToken, &st.RefreshToken, &st.TokenType))
			return st
		},
		SetRawToken: func(t testing.TB, linkID string, st store.SealedToken) {
			res, err := raw.Exec(`UPDATE tokens SET access_token = ?, refresh_token = ? WHERE link_id = ?`, st.AccessToken, st.RefreshToken, linkID)
			require.NoError(t, err)
			n, err := res.RowsAffected()
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
		},
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, factory)
}

func BenchmarkSQLite(b *testing.B) {
	storetest.Bench(b, factory)
}

func testRing(t testing.TB) *seal.KeyRing {
	r, err := seal.NewKeyRing(storetest.TestKeys()[0])
	require.NoError(t, err)
	return r
}

func TestFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		prepare func(path string)
	}{
		{"new file", func(string) {}},
		{"existing world-readable file is tightened", func(path string) {
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			require.NoError(t, os.Chmod(path, 0o644))
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "db"+string(rune('a'+i)))
			tt.prepare(path)
			s := open(t, path, testRing(t), &storetest.Clock{})
			require.NoError(t, s.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "a"}))
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				require.NoError(t, err, p)
				assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
			}
		})
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohx.db")
	s := open(t, path, testRing(t), &storetest.Clock{})
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlite.MigrationCount(), v)

	// Reopening applies nothing again and keeps data.
	require.NoError(t, s.SaveLink(t.Context(), ohx.Link{ID: "l1", Provider: "withings"}))
	again := open(t, path, testRing(t), &storetest.Clock{})
	v, err = again.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlite.MigrationCount(), v)
	_, err = again.Link(t.Context(), "l1")
	require.NoError(t, err)
	var applied int
	require.NoError(t, rawDB(t, path).QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&applied))
	assert.Equal(t, sqlite.MigrationCount(), applied)

	// A schema from a newer build is refused.
	_, err = rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`)
	require.NoError(t, err)
	_, err = sqlite.Open(t.Context(), path, testRing(t))
	require.ErrorContains(t, err, "schema version 99 is newer")
}

// TestUpgradeFromVersion1: a database of the first schema, with sync
// bookkeeping, upgrades in place and keeps its rows.
func TestUpgradeFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohx.db")
	raw := oldSchema(t, path, 1)
	_, err := raw.Exec(`INSERT INTO sync_status VALUES ('l1', 'heart-rate', 1, 1, NULL, '', '', 3, 0, 0, 42)`)
	require.NoError(t, err)

	s := open(t, path, testRing(t), &storetest.Clock{})
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlite.MigrationCount(), v)
	st, err := s.SyncStatus(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, int64(42), st[ohx.HeartRate].Items)
	assert.Equal(t, int64(3), st[ohx.HeartRate].Successes)
	assert.Zero(t, st[ohx.HeartRate].SamplesRead, "not counted before the upgrade")
}

// TestUpgradeFromVersion2: a database of the consent schema (connect flows,
// version 2) upgrades to link status and events and keeps its flows.
func TestUpgradeFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohx.db")
	raw := oldSchema(t, path, 2)
	_, err := raw.Exec(`INSERT INTO connect_flows (id, link_id, provider, data_types, success_url, error_url, created_at, expires_at, browser)
		VALUES ('f1', 'l1', 'withings', '["heart-rate"]', '', '', 0, ?, '')`, storetest.Start.Add(time.Hour).UnixNano())
	require.NoError(t, err)

	s := open(t, path, testRing(t), &storetest.Clock{})
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlite.MigrationCount(), v)
	f, err := s.OpenConnectFlow(t.Context(), "f1", "browser-1", storetest.Start)
	require.NoError(t, err, "the flow written at version 2 is kept")
	assert.Equal(t, "l1", f.LinkID)
	_, err = s.InitialSync(t.Context(), "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound, "the new tables exist, empty")
	evs, err := s.Events(t.Context(), store.EventQuery{})
	require.NoError(t, err)
	assert.Empty(t, evs)
}

// oldSchema creates the database at path at schema version v (the first v
// migrations of this build, which never change once shipped).
func oldSchema(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	raw := rawDB(t, path)
	_, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	for i := range v {
		_, err = raw.Exec(sqlite.Migration(i))
		require.NoError(t, err)
		_, err = raw.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, i+1)
		require.NoError(t, err)
	}
	return raw
}

func TestOpenRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		ring *seal.KeyRing
		want string
	}{
		{"no ring", filepath.Join(dir, "a.db"), nil, "key ring is required"},
		{"empty path", "", testRing(t), "plain file path"},
		{"memory", ":memory:", testRing(t), "plain file path"},
		{"uri", "file:x.db", testRing(t), "plain file path"},
		{"query", filepath.Join(dir, "x.db?mode=ro"), testRing(t), "plain file path"},
		{"missing directory", filepath.Join(dir, "no", "such", "x.db"), testRing(t), "create database file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqlite.Open(t.Context(), tt.path, tt.ring)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
