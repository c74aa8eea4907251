package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// BenchmarkMemoryEnqueue measures enqueues of distinct jobs (each a new job).
func BenchmarkMemoryEnqueue(b *testing.B) {
	q, err := queue.NewMemory(queue.Config{})
	require.NoError(b, err)
	jobs := benchJobs(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := q.Enqueue(b.Context(), jobs[i], ohx.EnqueueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkMemoryEnqueueCoalesced measures enqueues that merge into one
// pending job (a webhook burst).
func BenchmarkMemoryEnqueueCoalesced(b *testing.B) {
	q, err := queue.NewMemory(queue.Config{})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := q.Enqueue(b.Context(), push("burst", i%1000), ohx.EnqueueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkMemoryDequeue measures how fast Run drains b.N ready jobs with a
// handler that does nothing (queue overhead only).
func BenchmarkMemoryDequeue(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			q, err := queue.NewMemory(queue.Config{Concurrency: conc, StrictPriority: true})
			require.NoError(b, err)
			for _, j := range benchJobs(b.N) {
				if _, err := q.Enqueue(b.Context(), j, ohx.EnqueueOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			ctx, cancel := context.WithCancel(b.Context())
			b.ReportAllocs()
			b.ResetTimer()
			err = q.Run(ctx, ohx.HandlerFunc(func(context.Context, ohx.Job) error {
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

// benchJobs returns n jobs of distinct links over the three priorities.
func benchJobs(n int) []ohx.Job {
	triggers := []ohx.Trigger{ohx.TriggerPush, ohx.TriggerIncremental, ohx.TriggerReconciliation}
	jobs := make([]ohx.Job, n)
	for i := range jobs {
		jobs[i] = ohx.Job{LinkID: fmt.Sprintf("link-%d", i), Trigger: triggers[i%3], DataTypes: []ohx.DataType{ohx.HeartRate}}
		if jobs[i].Trigger == ohx.TriggerPush {
			jobs[i].Window = window(i % 24)
		}
	}
	return jobs
}
