package redisq_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

// A worker process: a Redis queue with weighted priorities, a nightly
// reconciliation at 02:30 UTC, and an engine (any ohx.Handler) running jobs.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer func() { _ = rdb.Close() }()
	q, err := redisq.New(rdb, redisq.Config{Concurrency: 8, Retry: queue.Retry{MaxAttempts: 8}})
	if err != nil {
		log.Fatal(err)
	}
	nightly, err := queue.Daily(2, 30, time.UTC)
	if err != nil {
		log.Fatal(err)
	}
	sched, err := queue.NewScheduler(q, []queue.Entry{{
		Name:     "reconciliation",
		Schedule: nightly,
		Jobs: func(context.Context, time.Time) ([]ohx.Job, error) {
			// One job per active link, read from the link store.
			return []ohx.Job{{LinkID: "link-1", Trigger: ohx.TriggerReconciliation}}, nil
		},
	}}, queue.SchedulerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() { _ = sched.Run(ctx) }()
	var engine ohx.Handler = ohx.HandlerFunc(func(context.Context, ohx.Job) error { return nil })
	if err := q.Run(ctx, engine); err != nil {
		log.Fatal(err)
	}
}
