package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func window(h int) *ohx.Window {
	return &ohx.Window{Start: t0.Add(time.Duration(h) * time.Hour), End: t0.Add(time.Duration(h+1) * time.Hour)}
}

func push(link string, h int) ohx.Job {
	return ohx.Job{LinkID: link, DataTypes: []ohx.DataType{ohx.HeartRate}, Trigger: ohx.TriggerPush, Window: window(h)}
}

// runs records when each run happened (fake time inside a synctest bubble).
type runs struct {
	mu   sync.Mutex
	at   []time.Time
	jobs []ohx.Job
}

func (r *runs) add(j ohx.Job) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Now())
	r.jobs = append(r.jobs, j)
	return len(r.at) - 1
}

func (r *runs) snapshot() ([]time.Time, []ohx.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...), append([]ohx.Job(nil), r.jobs...)
}

func newMemory(t *testing.T, cfg queue.Config) *queue.Memory {
	t.Helper()
	q, err := queue.NewMemory(cfg)
	require.NoError(t, err)
	return q
}

// runInBubble starts q.Run and returns a stop function that waits for it.
func runInBubble(t *testing.T, q *queue.Memory, h ohx.HandlerFunc) func() {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

func TestMemoryBackoffIsExponentialWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Retry: queue.Retry{MaxAttempts: 4, Base: time.Second, Max: 4 * time.Second}})
		var r runs
		id, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
		require.NoError(t, err)
		stop := runInBubble(t, q, func(_ context.Context, j ohx.Job) error {
			r.add(j)
			return ohx.ErrTransient
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()

		at, jobs := r.snapshot()
		require.Len(t, at, 4, "MaxAttempts runs")
		bounds := [][2]time.Duration{{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}}
		for i, b := range bounds {
			gap := at[i+1].Sub(at[i])
			assert.GreaterOrEqual(t, gap, b[0], "gap %d", i)
			assert.LessOrEqual(t, gap, b[1], "gap %d", i)
			assert.Equal(t, i+1, jobs[i+1].Attempt)
		}
		ji, err := q.Job(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, queue.StateDead, ji.State)
	})
}

func TestMemoryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Retry: queue.Retry{Base: time.Second}})
		var r runs
		_, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
		require.NoError(t, err)
		stop := runInBubble(t, q, func(_ context.Context, j ohx.Job) error {
			if r.add(j) == 0 {
				return &ohx.ProviderError{Provider: "fake", Op: "list", Kind: ohx.KindRateLimited, HTTPStatus: 429, RetryAfter: 90 * time.Second}
			}
			return nil
		})
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		stop()
		at, _ := r.snapshot()
		require.Len(t, at, 2)
		assert.GreaterOrEqual(t, at[1].Sub(at[0]), 90*time.Second)
	})
}

func TestMemoryFollowUpWaitsForDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{}) // default debounce: 10 s
		var r runs
		release := make(chan struct{})
		_, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
		require.NoError(t, err)
		stop := runInBubble(t, q, func(_ context.Context, j ohx.Job) error {
			if r.add(j) == 0 {
				<-release
			}
			return nil
		})
		synctest.Wait() // first job running
		enqueuedAt := time.Now()
		follow, err := q.Enqueue(t.Context(), push("l", 1), ohx.EnqueueOptions{})
		require.NoError(t, err)
		ji, err := q.Job(t.Context(), follow)
		require.NoError(t, err)
		assert.Equal(t, queue.StateScheduled, ji.State)
		close(release)
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		at, jobs := r.snapshot()
		require.Len(t, at, 2)
		assert.Equal(t, follow, jobs[1].ID)
		assert.Equal(t, enqueuedAt.Add(10*time.Second), at[1], "the follow-up waits for the debounce")
	})
}

func TestMemoryRetryingJobKeepsItsFollowUpBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Debounce: -1, Retry: queue.Retry{Base: time.Minute}})
		var r runs
		first, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
		require.NoError(t, err)
		stop := runInBubble(t, q, func(_ context.Context, j ohx.Job) error {
			if r.add(j) == 0 {
				return ohx.ErrTransient
			}
			return nil
		})
		synctest.Wait() // the first run failed; a retry waits
		ji, err := q.Job(t.Context(), first)
		require.NoError(t, err)
		require.Equal(t, queue.StateRetry, ji.State)
		follow, err := q.Enqueue(t.Context(), push("l", 1), ohx.EnqueueOptions{})
		require.NoError(t, err)
		require.NotEqual(t, first, follow)
		time.Sleep(time.Hour)
		synctest.Wait()
		stop()
		_, jobs := r.snapshot()
		require.Len(t, jobs, 3)
		assert.Equal(t, []string{first, first, follow}, []string{jobs[0].ID, jobs[1].ID, jobs[2].ID},
			"the follow-up never overtakes the retry of an equal job")
	})
}

func TestMemoryMergeRaisesPriority(t *testing.T) {
	q := newMemory(t, queue.Config{})
	recon := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.HeartRate}, Trigger: ohx.TriggerReconciliation}
	id, err := q.Enqueue(t.Context(), recon, ohx.EnqueueOptions{})
	require.NoError(t, err)
	id2, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
	require.NoError(t, err)
	require.Equal(t, id, id2)
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, ohx.PriorityWebhook, ji.Job.EffectivePriority())
	assert.Nil(t, ji.Job.Window, "a job without window stays without one")
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []queue.PriorityStats{{Priority: ohx.PriorityWebhook, Pending: 1}}, s.Priorities)
}

func TestMemoryConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Concurrency: 3})
		for i := range 10 {
			_, err := q.Enqueue(t.Context(), push(fmt.Sprintf("l%d", i), 0), ohx.EnqueueOptions{})
			require.NoError(t, err)
		}
		var cur, peak, total atomic.Int32
		stop := runInBubble(t, q, func(context.Context, ohx.Job) error {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Second)
			cur.Add(-1)
			total.Add(1)
			return nil
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		assert.Equal(t, int32(10), total.Load())
		assert.Equal(t, int32(3), peak.Load())
	})
}

func TestMemoryWeightedPriorityDoesNotStarve(t *testing.T) {
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			q := newMemory(t, queue.Config{Concurrency: 1, StrictPriority: strict,
				Weights: map[ohx.Priority]int{ohx.PriorityWebhook: 1, ohx.PriorityReconciliation: 1}})
			for i := range 40 {
				_, err := q.Enqueue(t.Context(), push(fmt.Sprintf("p%d", i), 0), ohx.EnqueueOptions{})
				require.NoError(t, err)
				_, err = q.Enqueue(t.Context(), ohx.Job{LinkID: fmt.Sprintf("r%d", i), Trigger: ohx.TriggerReconciliation}, ohx.EnqueueOptions{})
				require.NoError(t, err)
			}
			var mu sync.Mutex
			var order []ohx.Priority
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- q.Run(ctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
					mu.Lock()
					defer mu.Unlock()
					order = append(order, j.EffectivePriority())
					if len(order) == 40 {
						cancel()
					}
					return nil
				}))
			}()
			require.NoError(t, <-done)
			low := 0
			for _, p := range order[:40] {
				if p == ohx.PriorityReconciliation {
					low++
				}
			}
			if strict {
				assert.Zero(t, low, "strict: no low-priority job before the high ones are done")
			} else {
				assert.Positive(t, low, "weighted: low priorities get a share") // fails with probability 2^-40
			}
		})
	}
}

type depthMetrics struct {
	ohx.NopMetrics
	mu    sync.Mutex
	name  string
	depth []int
}

func (m *depthMetrics) QueueDepth(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.name = name
	m.depth = append(m.depth, n)
}

func TestMemoryReportsDepth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &depthMetrics{}
		q := newMemory(t, queue.Config{Name: "jobs", Metrics: m})
		for i := range 3 {
			_, err := q.Enqueue(t.Context(), push(fmt.Sprintf("l%d", i), 0), ohx.EnqueueOptions{})
			require.NoError(t, err)
		}
		stop := runInBubble(t, q, func(context.Context, ohx.Job) error { return nil })
		synctest.Wait()
		stop()
		m.mu.Lock()
		defer m.mu.Unlock()
		assert.Equal(t, "jobs", m.name)
		require.GreaterOrEqual(t, len(m.depth), 5)
		assert.Equal(t, []int{0, 1, 2, 3}, m.depth[:4], "zero from the start, then each enqueue")
		assert.Equal(t, 0, m.depth[len(m.depth)-1])
	})
}

func TestMemoryBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Retention: 2, MaxDeadLetters: 2})
		var ids []string
		for i := range 6 {
			id, err := q.Enqueue(t.Context(), push(fmt.Sprintf("l%d", i), 0), ohx.EnqueueOptions{})
			require.NoError(t, err)
			ids = append(ids, id)
		}
		stop := runInBubble(t, q, func(_ context.Context, j ohx.Job) error {
			if j.LinkID[1]%2 == 0 {
				return ohx.ErrPermanent
			}
			return nil
		})
		synctest.Wait()
		stop()
		dead, err := q.DeadLetters(t.Context())
		require.NoError(t, err)
		assert.Len(t, dead, 2, "the oldest dead letters are dropped")
		known := 0
		for _, id := range ids {
			if _, err := q.Job(t.Context(), id); err == nil {
				known++
			}
		}
		assert.Equal(t, 4, known, "two done and two dead jobs are kept")
	})
}

func TestMemoryRejectsBadConfigAndDuplicateIDs(t *testing.T) {
	_, err := queue.NewMemory(queue.Config{Concurrency: -1})
	require.Error(t, err)
	_, err = queue.NewMemory(queue.Config{Weights: map[ohx.Priority]int{1: -1}})
	require.Error(t, err)

	q := newMemory(t, queue.Config{})
	j := push("l", 0)
	j.ID = "fixed"
	id, err := q.Enqueue(t.Context(), j, ohx.EnqueueOptions{NoCoalesce: true})
	require.NoError(t, err)
	assert.Equal(t, "fixed", id, "a caller-chosen id is kept")
	_, err = q.Enqueue(t.Context(), j, ohx.EnqueueOptions{NoCoalesce: true})
	assert.ErrorIs(t, err, queue.ErrDuplicateID)
}

func TestMemoryHandlerPanicIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newMemory(t, queue.Config{Retry: queue.Retry{MaxAttempts: 1}})
		id, err := q.Enqueue(t.Context(), push("l", 0), ohx.EnqueueOptions{})
		require.NoError(t, err)
		stop := runInBubble(t, q, func(context.Context, ohx.Job) error { panic("boom") })
		synctest.Wait()
		stop()
		ji, err := q.Job(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, queue.StateDead, ji.State)
		assert.Contains(t, ji.LastError, "panicked: boom")
	})
}

func TestRetryDelay(t *testing.T) {
	r := queue.Retry{Base: time.Second, Max: 10 * time.Second}
	for _, tc := range []struct {
		attempt  int
		err      error
		min, max time.Duration
	}{
		{0, ohx.ErrTransient, 500 * time.Millisecond, time.Second},
		{1, ohx.ErrTransient, time.Second, 2 * time.Second},
		{3, ohx.ErrTransient, 4 * time.Second, 8 * time.Second},
		{10, ohx.ErrTransient, 5 * time.Second, 10 * time.Second},
		{0, &ohx.ProviderError{Kind: ohx.KindRateLimited, RetryAfter: time.Hour}, time.Hour, time.Hour},
	} {
		for range 20 {
			d := r.Delay(tc.attempt, tc.err)
			assert.GreaterOrEqual(t, d, tc.min, "attempt %d", tc.attempt)
			assert.LessOrEqual(t, d, tc.max, "attempt %d", tc.attempt)
		}
	}
	assert.Equal(t, 10, queue.Retry{}.Attempts())
	assert.True(t, r.ShouldRetry(0, ohx.ErrTransient))
	assert.False(t, r.ShouldRetry(0, ohx.ErrNotLinked))
	assert.False(t, r.ShouldRetry(9, ohx.ErrTransient))
}
