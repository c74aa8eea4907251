package redislock_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/internal/testredis"
	"github.com/openhealthexchange/ohx/store/redislock"
	"github.com/openhealthexchange/ohx/store/storetest"
)

func TestConformance(t *testing.T) {
	testredis.Client(t)
	storetest.RunLocker(t, func(t testing.TB) storetest.LockerHarness {
		p := testredis.Prefix("")
		a, err := redislock.New(testredis.Client(t), redislock.WithPrefix(p))
		require.NoError(t, err)
		b, err := redislock.New(testredis.Client(t), redislock.WithPrefix(p)) // another process: own connection
		require.NoError(t, err)
		return storetest.LockerHarness{Locker: a, Other: b}
	})
}

func TestKeyAndExpiryOnServer(t *testing.T) {
	rdb := testredis.Client(t)
	p := testredis.Prefix("")
	l, err := redislock.New(rdb, redislock.WithPrefix(p))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Del(context.Background(), p+"refresh:l1").Err() })

	release, err := l.Lock(t.Context(), "refresh:l1", time.Minute)
	require.NoError(t, err)
	ttl, err := rdb.PTTL(t.Context(), p+"refresh:l1").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 50*time.Second, "lease set with PX")
	assert.LessOrEqual(t, ttl, time.Minute)

	// Someone else's token under the key is not deleted by our release.
	require.NoError(t, rdb.Set(t.Context(), p+"refresh:l1", "other-holder", time.Minute).Err())
	release()
	v, err := rdb.Get(t.Context(), p+"refresh:l1").Result()
	require.NoError(t, err)
	assert.Equal(t, "other-holder", v)
}

func TestNew(t *testing.T) {
	_, err := redislock.New(nil)
	require.Error(t, err)
}

func TestServerDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := redislock.New(rdb)
	require.NoError(t, err)
	_, err = l.Lock(t.Context(), "n", time.Minute)
	require.ErrorContains(t, err, "redislock: lock \"n\"")
}
