package redisreplay_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/internal/testredis"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/store/redisreplay"
)

func TestConformance(t *testing.T) {
	testredis.Client(t)
	providertest.RunReplays(t, func(t *testing.T) providertest.ReplaysHarness {
		p := testredis.Prefix("replay:")
		a, err := redisreplay.New(testredis.Client(t), redisreplay.WithPrefix(p))
		require.NoError(t, err)
		b, err := redisreplay.New(testredis.Client(t), redisreplay.WithPrefix(p)) // another process: own connection
		require.NoError(t, err)
		return providertest.ReplaysHarness{Replays: a, Other: b}
	})
}

func TestMarkExpiresOnTheServer(t *testing.T) {
	rdb := testredis.Client(t)
	p := testredis.Prefix("replay:")
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
