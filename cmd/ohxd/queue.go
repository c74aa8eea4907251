package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
	"github.com/openhealthexchange/ohx/store/redislock"
	"github.com/openhealthexchange/ohx/store/redisreplay"
)

// adminQueue is what the daemon needs of a queue: jobs, and the inspector
// behind /v1/queue and /v1/jobs.
type adminQueue interface {
	ohx.Queue
	queue.Inspector
}

// openQueue opens the queue, the token-refresh locker and the webhook
// replay marks: Redis for all three when configured (marks are rebuildable
// deduplication state, so Redis is where they belong), else an in-memory
// queue, the store's own lease lock and each provider's in-process marks.
// The store must be open.
func (a *app) openQueue(ctx context.Context, debounce time.Duration) error {
	if a.cfg.RedisURL == "" {
		q, err := queue.NewMemory(queue.Config{Concurrency: a.cfg.Workers, Debounce: debounce, Logger: a.log, Metrics: a.metrics})
		if err != nil {
			return err
		}
		a.queue, a.locker = q, a.store
		return nil
	}
	rdb, err := a.openRedis(ctx)
	if err != nil {
		return err
	}
	q, err := redisq.New(rdb, redisq.Config{Namespace: a.cfg.RedisNamespace, Concurrency: a.cfg.Workers, Debounce: debounce,
		Logger: a.log, Metrics: a.metrics})
	if err != nil {
		return err
	}
	a.queue = q
	if a.replays, err = redisreplay.New(rdb, redisreplay.WithPrefix(a.cfg.RedisNamespace+":replay:")); err != nil {
		return err
	}
	a.locker, err = redislock.New(rdb, redislock.WithLogger(a.log))
	return err
}

// openRedis connects to OHX_REDIS_URL and pings it.
func (a *app) openRedis(ctx context.Context) (*redis.Client, error) {
	ropt, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return nil, errors.New("OHX_REDIS_URL is not a valid redis URL")
	}
	if ropt.PoolSize == 0 {
		// Webhook bursts enqueue concurrently (each enqueue is a short
		// WATCH/MULTI transaction holding a connection); go-redis's default
		// of 10 per CPU starves them. A pool_size in the URL wins.
		ropt.PoolSize = 128
	}
	rdb := redis.NewClient(ropt)
	a.closers = append(a.closers, rdb.Close)
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}
