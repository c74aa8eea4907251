package redisq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/internal/testredis"
	"github.com/openhealthexchange/ohx/queue/queuetest"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

// testRedis connects to OHX_TEST_REDIS_URL (skipping when unset) and
// checks that the server answers.
func testRedis(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	rdb := testredis.Client(tb)
	require.NoError(tb, rdb.Ping(tb.Context()).Err())
	return rdb
}

// namespace returns a fresh namespace and deletes its keys when tb ends.
func namespace(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ns := "ohxtest-" + hex.EncodeToString(b)
	tb.Cleanup(func() { cleanup(rdb, ns) })
	return ns
}

func cleanup(rdb redis.UniversalClient, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, pattern := range []string{ns + ":*", "asynq:{" + ns + ":*"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	}
	for _, p := range []string{"1", "3", "5"} {
		rdb.SRem(ctx, "asynq:queues", ns+":p"+p)
	}
	// asynq's server registries: drop only entries that expired (a killed
	// child worker leaves its own behind).
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for _, k := range []string{"asynq:servers", "asynq:workers"} {
		rdb.ZRemRangeByScore(ctx, k, "-inf", now)
	}
}

func newQueue(tb testing.TB, rdb redis.UniversalClient, cfg redisq.Config) *redisq.Queue {
	tb.Helper()
	if cfg.Namespace == "" {
		cfg.Namespace = namespace(tb, rdb)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Lease == 0 {
		cfg.Lease = 2 * time.Second
	}
	q, err := redisq.New(rdb, cfg)
	require.NoError(tb, err)
	return q
}

func TestRedisSuite(t *testing.T) {
	rdb := testRedis(t)
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) queuetest.Queue {
		return newQueue(t, rdb, redisq.Config{
			Concurrency:     o.Concurrency,
			StrictPriority:  o.StrictPriority,
			Retry:           o.Retry,
			Debounce:        o.Debounce,
			ShutdownTimeout: o.ShutdownTimeout,
		})
	})
}
