// Package testredis connects tests to the Redis that OHX_TEST_REDIS_URL
// names, and gives each test keys of its own.
package testredis

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Client returns a client of the test Redis, closed when tb ends; tb is
// skipped when OHX_TEST_REDIS_URL is not set.
func Client(tb testing.TB) *redis.Client {
	tb.Helper()
	u := os.Getenv("OHX_TEST_REDIS_URL")
	if u == "" {
		tb.Skip("OHX_TEST_REDIS_URL is not set")
	}
	opts, err := redis.ParseURL(u)
	require.NoError(tb, err)
	rdb := redis.NewClient(opts)
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Prefix returns a key prefix that isolates one test's keys:
// "ohx-test:<12 random hex digits>:" followed by suffix.
func Prefix(suffix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "ohx-test:" + hex.EncodeToString(b) + ":" + suffix
}
