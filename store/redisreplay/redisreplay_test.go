package redisreplay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/store/redisreplay"
)

func client(t testing.TB) *redis.Client {
	u := os.Getenv("OHX_TEST_REDIS_URL")
	if u == "" {
		t.Skip("OHX_TEST_REDIS_URL is not set")
	}
	opts, err := redis.ParseURL(u)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// prefix isolates one test's keys.
func prefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "ohx-test:" + hex.EncodeToString(b) + ":replay:"
}

func TestConformance(t *testing.T) {
	client(t)
	providertest.RunReplays(t, func(t *testing.T) providertest.ReplaysHarness {
		p := prefix(t)
		a, err := redisreplay.New(client(t), redisreplay.WithPrefix(p))
		require.NoError(t, err)
		b, err := redisreplay.New(client(t), redisreplay.WithPrefix(p)) // another process: own connection
		require.NoError(t, err)
		return providertest.ReplaysHarness{Replays: a, Other: b}
	})
}

func TestMarkExpiresOnTheServer(t *testing.T) {
	rdb := client(t)
	p := prefix(t)
	r, err := redisreplay.New(rdb, redisreplay.WithPrefix(p))
	require.NoError(t, err)
	k := provider.ReplayKey("sig", []byte("body"))
	require.NoError(t, r.Mark(t.Context(), k, 24*time.Hour))
	t.Cleanup(func() { rdb.Del(context.Background(), p+k) })
	ttl, err := rdb.PTTL(t.Context(), p+k).Result()
	require.NoError(t, err)
	assert.InDelta(t, float64(24*time.Hour), float64(ttl), float64(time.Minute), "the mark lives 24 h on the server")
	v, err := rdb.Get(t.Context(), p+k).Result()
	require.NoError(t, err)
	assert.Equal(t, "1", v, "the key holds no part of the delivery")
}

func TestNilClient(t *testing.T) {
	_, err := redisreplay.New(nil)
	require.Error(t, err)
}
