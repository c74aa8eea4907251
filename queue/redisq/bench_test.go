package redisq_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

func benchJobs(n int) []ohx.Job {
	jobs := make([]ohx.Job, n)
	for i := range jobs {
		jobs[i] = ohx.Job{LinkID: fmt.Sprintf("link-%d", i), Trigger: ohx.TriggerIncremental, DataTypes: []ohx.DataType{ohx.HeartRate}}
	}
	return jobs
}

// BenchmarkRedisEnqueue measures enqueues of distinct jobs (coalescing
// transaction plus an asynq task each).
func BenchmarkRedisEnqueue(b *testing.B) {
	rdb := testRedis(b)
	q := newQueue(b, rdb, redisq.Config{})
	jobs := benchJobs(b.N)
	b.ResetTimer()
	for i := range b.N {
		if _, err := q.Enqueue(b.Context(), jobs[i], ohx.EnqueueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkRedisEnqueueCoalesced measures enqueues that merge into one pending
// job (a webhook burst).
func BenchmarkRedisEnqueueCoalesced(b *testing.B) {
	rdb := testRedis(b)
	q := newQueue(b, rdb, redisq.Config{})
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		w := ohx.Window{Start: t0.Add(time.Duration(i%1000) * time.Minute), End: t0.Add(time.Duration(i%1000+1) * time.Minute)}
		j := ohx.Job{LinkID: "burst", Trigger: ohx.TriggerPush, DataTypes: []ohx.DataType{ohx.HeartRate}, Window: &w}
		if _, err := q.Enqueue(b.Context(), j, ohx.EnqueueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkRedisDequeue measures how fast Run drains b.N ready jobs with a
// handler that does nothing (queue overhead only: dequeue, coalesce-key
// claim, lease, completion).
func BenchmarkRedisDequeue(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			rdb := testRedis(b)
			q := newQueue(b, rdb, redisq.Config{Concurrency: conc, StrictPriority: true, PollInterval: 10 * time.Millisecond})
			for _, j := range benchJobs(b.N) {
				if _, err := q.Enqueue(b.Context(), j, ohx.EnqueueOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			ctx, cancel := context.WithCancel(b.Context())
			b.ResetTimer()
			err := q.Run(ctx, ohx.HandlerFunc(func(context.Context, ohx.Job) error {
				if n.Add(1) == int64(b.N) {
					cancel()
				}
				return nil
			}))
			b.StopTimer()
			require.NoError(b, err)
			require.Equal(b, int64(b.N), n.Load())
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkRedisEnqueueParallel measures enqueues of distinct jobs from
// several goroutines, as webhook handlers do.
func BenchmarkRedisEnqueueParallel(b *testing.B) {
	rdb := testRedis(b)
	q := newQueue(b, rdb, redisq.Config{})
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j := ohx.Job{LinkID: fmt.Sprintf("link-%d", next.Add(1)), Trigger: ohx.TriggerIncremental}
			if _, err := q.Enqueue(context.Background(), j, ohx.EnqueueOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
