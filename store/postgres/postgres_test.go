package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/postgres"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/storetest"
)

func databaseURL(t testing.TB) string {
	u := os.Getenv("OHX_TEST_DATABASE_URL")
	if u == "" {
		t.Skip("OHX_TEST_DATABASE_URL is not set")
	}
	return u
}

// freshSchema creates a schema of its own for one test, dropped at cleanup,
// and returns a function making pools whose search_path points at it.
func freshSchema(t testing.TB) (schema string, newPool func(t testing.TB) *pgxpool.Pool) {
	url := databaseURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "ohx_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	_, err = admin.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	require.NoError(t, admin.Close(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer func() { _ = admin.Close(ctx) }()
		if _, err := admin.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	newPool = func(t testing.TB) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(url)
		require.NoError(t, err)
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close) // runs before the schema is dropped
		return pool
	}
	return schema, newPool
}

func newStore(t testing.TB, pool *pgxpool.Pool, ring *seal.KeyRing, clock *storetest.Clock) *postgres.Store {
	t.Helper()
	s, err := postgres.New(t.Context(), pool, ring, postgres.WithClock(clock.Now))
	require.NoError(t, err)
	return s
}

func factory(t testing.TB, cfg storetest.Config) storetest.Harness {
	_, newPool := freshSchema(t)
	pool := newPool(t)
	return storetest.Harness{
		Store: newStore(t, pool, cfg.Ring, cfg.Clock),
		// A replica has its own pool, as another process would.
		Replica: func(t testing.TB) store.Store { return newStore(t, newPool(t), cfg.Ring, cfg.Clock) },
		Reopen: func(t testing.TB, ring *seal.KeyRing) store.Store {
			return newStore(t, pool, ring, cfg.Clock)
		},
		RawToken: func(t testing.TB, linkID string) store.SealedToken {
			var st store.SealedToken
			require.NoError(t, pool.QueryRow(t.Context(), `SELECT access_token, refresh_token, token_type FROM tokens WHERE link_id = $1`, linkID).
				Scan(&st.AccessToken, &st.RefreshToken, &st.TokenType))
			return st
		},
		SetRawToken: func(t testing.TB, linkID string, st store.SealedToken) {
			tag, err := pool.Exec(t.Context(), `UPDATE tokens SET access_token = $1, refresh_token = $2 WHERE link_id = $3`, st.AccessToken, st.RefreshToken, linkID)
			require.NoError(t, err)
			require.EqualValues(t, 1, tag.RowsAffected())
		},
	}
}

func TestConformance(t *testing.T) {
	databaseURL(t)
	storetest.Run(t, factory)
}

func BenchmarkPostgres(b *testing.B) {
	storetest.Bench(b, factory)
}

func testRing(t testing.TB) *seal.KeyRing {
	r, err := seal.NewKeyRing(storetest.TestKeys()[0])
	require.NoError(t, err)
	return r
}

func TestMigrations(t *testing.T) {
	schema, newPool := freshSchema(t)
	pool := newPool(t)
	clock := &storetest.Clock{}

	// Replicas starting at once apply each migration once.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := postgres.New(t.Context(), pool, testRing(t), postgres.WithClock(clock.Now))
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	s := newStore(t, pool, testRing(t), clock)
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, postgres.MigrationCount(), v)
	var applied int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM `+schema+`.schema_migrations`).Scan(&applied))
	assert.Equal(t, postgres.MigrationCount(), applied)

	_, err = pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (99, now())`)
	require.NoError(t, err)
	_, err = postgres.New(t.Context(), pool, testRing(t))
	require.ErrorContains(t, err, "schema version 99 is newer")
}

// TestUpgrade: databases at an older schema version (1: the first; 2: the
// consent migration's connect flows) upgrade in place and keep their rows.
func TestUpgrade(t *testing.T) {
	for _, from := range []int{1, 2} {
		t.Run(fmt.Sprint("from ", from), func(t *testing.T) {
			_, newPool := freshSchema(t)
			pool := newPool(t)
			_, err := pool.Exec(t.Context(), `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`)
			require.NoError(t, err)
			for i := range from {
				_, err = pool.Exec(t.Context(), postgres.Migration(i))
				require.NoError(t, err)
				_, err = pool.Exec(t.Context(), `INSERT INTO schema_migrations VALUES ($1, now())`, i+1)
				require.NoError(t, err)
			}
			_, err = pool.Exec(t.Context(), `INSERT INTO sync_status (link_id, data_type, last_error_kind, last_error, successes, failures, consecutive_failures, items)
				VALUES ('l1', 'heart-rate', '', '', 3, 0, 0, 42)`)
			require.NoError(t, err)

			s := newStore(t, pool, testRing(t), &storetest.Clock{})
			v, err := s.SchemaVersion(t.Context())
			require.NoError(t, err)
			assert.Equal(t, postgres.MigrationCount(), v)
			st, err := s.SyncStatus(t.Context(), "l1")
			require.NoError(t, err)
			assert.Equal(t, int64(42), st[ohx.HeartRate].Items)
			assert.Zero(t, st[ohx.HeartRate].SamplesRead, "not counted before the upgrade")
			_, err = s.InitialSync(t.Context(), "l1")
			require.ErrorIs(t, err, ohx.ErrNotFound, "the new tables exist, empty")
			n, err := s.DeleteConnectFlows(t.Context(), storetest.Start)
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
}

func TestOpen(t *testing.T) {
	url := databaseURL(t)
	_, err := postgres.Open(t.Context(), "postgres://user:hunter2@[bad", testRing(t))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2", "connection string secrets stay out of errors")

	_, err = postgres.Open(t.Context(), url, nil)
	require.ErrorContains(t, err, "key ring is required")
	_, err = postgres.New(t.Context(), nil, testRing(t))
	require.Error(t, err)

	schema, _ := freshSchema(t)
	s, err := postgres.Open(t.Context(), url+"&search_path="+schema, testRing(t))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.SaveLink(t.Context(), ohx.Link{ID: "l1", Provider: "withings"}))
	l, err := s.Link(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, "withings", l.Provider)
}
