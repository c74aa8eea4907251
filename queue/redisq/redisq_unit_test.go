package redisq_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

func TestNewRejectsBadConfig(t *testing.T) {
	rdb := testRedis(t)
	for name, cfg := range map[string]redisq.Config{
		"negative concurrency": {Concurrency: -1},
		"negative weight":      {Weights: map[ohx.Priority]int{1: -2}},
		"zero priority":        {Priorities: []ohx.Priority{0, 3}},
		"empty priorities":     {Priorities: []ohx.Priority{}},
	} {
		_, err := redisq.New(rdb, cfg)
		assert.Error(t, err, name)
	}
	_, err := redisq.New(nil, redisq.Config{})
	assert.Error(t, err)
}

// collect runs q with a handler that records jobs, until the test ends.
func collect(t *testing.T, q *redisq.Queue) func() []ohx.Job {
	var mu sync.Mutex
	var runs []ohx.Job
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- q.Run(ctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, j)
			return nil
		}))
	}()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return func() []ohx.Job {
		mu.Lock()
		defer mu.Unlock()
		return append([]ohx.Job(nil), runs...)
	}
}

func TestMergeThatRaisesPriorityMovesTheJob(t *testing.T) {
	rdb := testRedis(t)
	q := newQueue(t, rdb, redisq.Config{})
	recon := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.Steps}, Trigger: ohx.TriggerReconciliation}
	old, err := q.Enqueue(t.Context(), recon, ohx.EnqueueOptions{})
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	push := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.Steps}, Trigger: ohx.TriggerPush,
		Window: &ohx.Window{Start: t0, End: t0.Add(time.Hour)}}
	moved, err := q.Enqueue(t.Context(), push, ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, old, moved, "the job moved to the webhook queue under a new id")

	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	byPrio := map[ohx.Priority]int{}
	for _, p := range s.Priorities {
		byPrio[p.Priority] = p.Depth()
	}
	assert.Equal(t, map[ohx.Priority]int{1: 1, 3: 0, 5: 0}, byPrio, "one job, in the webhook queue")

	ji, err := q.Job(t.Context(), old)
	require.NoError(t, err)
	assert.Equal(t, moved, ji.Job.ID)
	assert.Equal(t, ohx.PriorityWebhook, ji.Job.EffectivePriority())

	runs := collect(t, q)
	require.Eventually(t, func() bool { return len(runs()) == 1 }, 30*time.Second, 10*time.Millisecond)
	got := runs()[0]
	assert.Equal(t, moved, got.ID)
	assert.Nil(t, got.Window, "merged with a windowless job: the strategy decides")
	assert.Equal(t, ohx.TriggerReconciliation, got.Trigger)
}

func TestStaleActiveJobDoesNotBlockItsKey(t *testing.T) {
	rdb := testRedis(t)
	ns := namespace(t, rdb)
	q := newQueue(t, rdb, redisq.Config{Namespace: ns, Debounce: -1})
	j := ohx.Job{LinkID: "l", Trigger: ohx.TriggerIncremental}
	first, err := q.Enqueue(t.Context(), j, ohx.EnqueueOptions{})
	require.NoError(t, err)
	runs := collect(t, q)
	require.Eventually(t, func() bool {
		ji, err := q.Job(t.Context(), first)
		return err == nil && ji.State == queue.StateDone
	}, 30*time.Second, 10*time.Millisecond)

	// Simulate a crash between start and end bookkeeping: the key names an
	// active job whose task is finished.
	// (The key layout is documented in the package comment.)
	sum := sha256.Sum256([]byte(j.CoalesceKey()))
	require.NoError(t, rdb.HSet(t.Context(), ns+":co:"+hex.EncodeToString(sum[:12]), "active", first).Err())

	second, err := q.Enqueue(t.Context(), j, ohx.EnqueueOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ji, err := q.Job(t.Context(), second)
		return err == nil && ji.State == queue.StateDone
	}, 30*time.Second, 10*time.Millisecond, "the follow-up takes over the stale key")
	assert.Len(t, runs(), 2)
}

func TestCallerChosenIDs(t *testing.T) {
	rdb := testRedis(t)
	q := newQueue(t, rdb, redisq.Config{})
	j := ohx.Job{ID: "backfill-42", LinkID: "l", Trigger: ohx.TriggerIncremental}
	id, err := q.Enqueue(t.Context(), j, ohx.EnqueueOptions{NoCoalesce: true})
	require.NoError(t, err)
	assert.Equal(t, "backfill-42", id)
	_, err = q.Enqueue(t.Context(), j, ohx.EnqueueOptions{NoCoalesce: true})
	assert.ErrorIs(t, err, queue.ErrDuplicateID)

	// A job with its own id that merges into a pending one runs under the
	// pending job's id; its own id stays unknown.
	pending, err := q.Enqueue(t.Context(), ohx.Job{LinkID: "m", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)
	merged, err := q.Enqueue(t.Context(), ohx.Job{ID: "mine", LinkID: "m", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.Equal(t, pending, merged)
	_, err = q.Job(t.Context(), "mine")
	assert.ErrorIs(t, err, ohx.ErrNotFound)
}

func TestWeightedPriorityRunsEverything(t *testing.T) {
	rdb := testRedis(t)
	q := newQueue(t, rdb, redisq.Config{Concurrency: 1})
	triggers := []ohx.Trigger{ohx.TriggerReconciliation, ohx.TriggerIncremental, ohx.TriggerDeviceSync}
	for i := range 12 {
		_, err := q.Enqueue(t.Context(), ohx.Job{LinkID: string(rune('a' + i)), Trigger: triggers[i%3]}, ohx.EnqueueOptions{})
		require.NoError(t, err)
	}
	runs := collect(t, q)
	require.Eventually(t, func() bool { return len(runs()) == 12 }, 30*time.Second, 10*time.Millisecond)
}

type depthMetrics struct {
	ohx.NopMetrics
	mu    sync.Mutex
	depth map[string]int
}

func (m *depthMetrics) QueueDepth(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.depth[name] = n
}

func TestStatsReportDepthMetrics(t *testing.T) {
	rdb := testRedis(t)
	ns := namespace(t, rdb)
	m := &depthMetrics{depth: map[string]int{}}
	q := newQueue(t, rdb, redisq.Config{Namespace: ns, Metrics: m})
	for _, l := range []string{"a", "b"} {
		_, err := q.Enqueue(t.Context(), ohx.Job{LinkID: l, Trigger: ohx.TriggerReconciliation}, ohx.EnqueueOptions{})
		require.NoError(t, err)
	}
	_, err := q.Enqueue(t.Context(), ohx.Job{LinkID: "c", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, s.Depth())
	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Equal(t, map[string]int{ns + ":p1": 0, ns + ":p3": 1, ns + ":p5": 2}, m.depth)
}
