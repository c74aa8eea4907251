package queuetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// Queue is what the suite tests: a queue with its administrative side.
type Queue interface {
	ohx.Queue
	queue.Inspector
}

// Options are the settings a sub-test needs from its queue. Every field is
// set by the suite.
type Options struct {
	// Concurrency is the number of jobs run at once.
	Concurrency int
	// StrictPriority asks for strict priority order.
	StrictPriority bool
	// Retry is the retry policy (short delays).
	Retry queue.Retry
	// Debounce is the least delay of a follow-up.
	Debounce time.Duration
	// ShutdownTimeout is the grace period of in-flight jobs on shutdown.
	ShutdownTimeout time.Duration
}

// Factory builds a fresh queue, isolated from every other one, for one
// sub-test. It registers its own cleanup with t.
type Factory func(t *testing.T, o Options) Queue

// Patience bounds every wait of the suite (real time): long enough for a
// Redis queue polling once a second, short enough to fail a hung test.
var Patience = 30 * time.Second

func defaults() Options {
	return Options{
		Concurrency:     2,
		StrictPriority:  true,
		Retry:           queue.Retry{MaxAttempts: 3, Base: 10 * time.Millisecond, Max: 20 * time.Millisecond},
		Debounce:        50 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
	}
}

// Run runs the suite against the queues f builds.
func Run(t *testing.T, f Factory) {
	t.Helper()
	tests := []struct {
		name string
		opts func(*Options)
		run  func(t *testing.T, q Queue)
	}{
		{"PriorityOrder", func(o *Options) { o.Concurrency = 1 }, testPriorityOrder},
		{"RetryThenSuccess", nil, testRetryThenSuccess},
		{"PermanentErrorNotRetried", nil, testPermanentNotRetried},
		{"DeadLetterAndReplay", func(o *Options) { o.Retry.MaxAttempts = 2 }, testDeadLetterAndReplay},
		{"CoalescePending", nil, testCoalescePending},
		{"CoalesceWhileRunning", nil, testCoalesceWhileRunning},
		// No debounce and a single attempt: the follow-up comes up while the
		// first job still runs and must wait without losing its only attempt.
		{"CoalesceWhileRunningNoDebounceOneAttempt", func(o *Options) { o.Debounce, o.Retry.MaxAttempts = -1, 1 }, testCoalesceWhileRunning},
		{"NoCoalesce", func(o *Options) { o.Concurrency = 1 }, testNoCoalesce},
		{"Delayed", nil, testDelayed},
		{"Periodic", nil, testPeriodic},
		{"GracefulShutdown", nil, testGracefulShutdown},
		{"ShutdownHandsJobBack", func(o *Options) { o.ShutdownTimeout = 200 * time.Millisecond }, testShutdownHandsBack},
		{"BadInput", nil, testBadInput},
		{"LongJobsDoNotStarveANewLink", nil, testLongJobsDoNotStarveANewLink},
		{"CancelPending", nil, testCancelPending},
		{"CancelRunning", nil, testCancelRunning},
		{"RunningJobInStats", nil, testRunningInStats},
		{"LinkJobs", func(o *Options) { o.Concurrency = 1 }, testLinkJobs},
		{"FinalTellsTheLastRun", nil, testFinal},
		// Batches (queue.BatchEnqueuer), skipped for a queue without them.
		{"BatchMergesLikeOneByOne", nil, testBatchMerges},
		{"BatchMergesIntoPending", nil, testBatchIntoPending},
		{"BatchWhileRunning", nil, testBatchWhileRunning},
		{"GroupCommit", nil, testGroupCommit},
		{"BatchSkipsCancelled", nil, testBatchSkipsCancelled},
		{"BatchJobsListedByLink", nil, testBatchJobsListedByLink},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := defaults()
			if tc.opts != nil {
				tc.opts(&o)
			}
			tc.run(t, f(t, o))
		})
	}
}

var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func hour(i int) *ohx.Window {
	return &ohx.Window{Start: t0.Add(time.Duration(i) * time.Hour), End: t0.Add(time.Duration(i+1) * time.Hour)}
}

func pushJob(link string, i int) ohx.Job {
	return ohx.Job{LinkID: link, DataTypes: []ohx.DataType{ohx.HeartRate}, Trigger: ohx.TriggerPush, Window: hour(i)}
}

// recorder is a handler that records the jobs it ran, in order.
type recorder struct {
	mu   sync.Mutex
	runs []ohx.Job
	fn   func(ctx context.Context, j ohx.Job, n int) error // n: index of this call
}

func (r *recorder) HandleJob(ctx context.Context, j ohx.Job) error {
	r.mu.Lock()
	n := len(r.runs)
	r.runs = append(r.runs, j)
	r.mu.Unlock()
	if r.fn == nil {
		return nil
	}
	return r.fn(ctx, j, n)
}

func (r *recorder) Runs() []ohx.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runs)
}

// start runs q with h in the background and returns the function that stops
// it and waits for Run to return.
func start(t *testing.T, q ohx.Queue, h ohx.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "Run after shutdown")
			case <-time.After(Patience):
				t.Errorf("Run did not return within %s of its context ending", Patience)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually waits until cond holds, failing the test after Patience.
func eventually(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for: %s", Patience, fmt.Sprintf(what, args...))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateIs(t *testing.T, q Queue, id string, want queue.State) func() bool {
	return func() bool {
		ji, err := q.Job(t.Context(), id)
		return err == nil && ji.State == want
	}
}

// idle reports whether nothing waits or runs.
func idle(t *testing.T, q Queue) bool {
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	for _, p := range s.Priorities {
		if p.Depth() > 0 || p.Running > 0 {
			return false
		}
	}
	return true
}

func enqueue(t *testing.T, q ohx.Queue, j ohx.Job, o ohx.EnqueueOptions) string {
	t.Helper()
	id, err := q.Enqueue(t.Context(), j, o)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	return id
}

func testPriorityOrder(t *testing.T, q Queue) {
	triggers := []ohx.Trigger{ohx.TriggerReconciliation, ohx.TriggerIncremental, ohx.TriggerPush}
	for i := range 9 {
		trig := triggers[i%3]
		j := ohx.Job{LinkID: fmt.Sprintf("link-%d", i), Trigger: trig}
		if trig == ohx.TriggerPush {
			j.Window = hour(i)
		}
		enqueue(t, q, j, ohx.EnqueueOptions{})
	}
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 9, s.Depth())

	rec := &recorder{}
	start(t, q, rec)
	eventually(t, func() bool { return len(rec.Runs()) == 9 }, "9 runs")
	var got []ohx.Priority
	for _, j := range rec.Runs() {
		got = append(got, j.EffectivePriority())
	}
	assert.Equal(t, []ohx.Priority{1, 1, 1, 3, 3, 3, 5, 5, 5}, got, "lower priority number runs first")
}

func testRetryThenSuccess(t *testing.T, q Queue) {
	rec := &recorder{fn: func(_ context.Context, _ ohx.Job, n int) error {
		if n < 2 {
			return &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: ohx.KindTransient, HTTPStatus: 503}
		}
		return nil
	}}
	id := enqueue(t, q, pushJob("link-r", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	eventually(t, stateIs(t, q, id, queue.StateDone), "job %s done", id)

	runs := rec.Runs()
	require.Len(t, runs, 3)
	for i, j := range runs {
		assert.Equal(t, id, j.ID)
		assert.Equal(t, i, j.Attempt, "Attempt counts the earlier failed runs")
		assert.False(t, j.EnqueuedAt.IsZero())
		assert.Equal(t, *hour(0), *j.Window)
	}
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, 2, ji.Job.Attempt)
}

func testPermanentNotRetried(t *testing.T, q Queue) {
	rec := &recorder{fn: func(context.Context, ohx.Job, int) error {
		return fmt.Errorf("mapping: %w", ohx.ErrPermanent)
	}}
	id := enqueue(t, q, pushJob("link-p", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	eventually(t, stateIs(t, q, id, queue.StateDead), "job %s dead", id)
	assert.Len(t, rec.Runs(), 1, "a permanent error is not retried")
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Contains(t, ji.LastError, "permanent")
}

func testDeadLetterAndReplay(t *testing.T, q Queue) {
	var broken atomic.Bool
	broken.Store(true)
	rec := &recorder{fn: func(context.Context, ohx.Job, int) error {
		if broken.Load() {
			return fmt.Errorf("destination down: %w", ohx.ErrTransient)
		}
		return nil
	}}
	id := enqueue(t, q, pushJob("link-d", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	eventually(t, stateIs(t, q, id, queue.StateDead), "job %s dead", id)
	assert.Len(t, rec.Runs(), 2, "MaxAttempts runs, then the dead letters")

	dead, err := q.DeadLetters(t.Context())
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, id, dead[0].Job.ID)
	assert.Equal(t, "link-d", dead[0].Job.LinkID)
	assert.Contains(t, dead[0].LastError, "destination down")
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, s.Dead())

	broken.Store(false)
	require.NoError(t, q.Replay(t.Context(), id))
	eventually(t, stateIs(t, q, id, queue.StateDone), "replayed job %s done", id)
	runs := rec.Runs()
	require.Len(t, runs, 3)
	assert.Equal(t, 0, runs[2].Attempt, "a replayed job gets a fresh retry budget")
	dead, err = q.DeadLetters(t.Context())
	require.NoError(t, err)
	assert.Empty(t, dead)

	assert.ErrorIs(t, q.Replay(t.Context(), id), queue.ErrNotDead)
	assert.ErrorIs(t, q.Replay(t.Context(), "no-such-job"), ohx.ErrNotFound)
	_, err = q.Job(t.Context(), "no-such-job")
	assert.ErrorIs(t, err, ohx.ErrNotFound)
}

func testCoalescePending(t *testing.T, q Queue) {
	var ids []string
	for i := range 100 {
		ids = append(ids, enqueue(t, q, pushJob("link-c", i), ohx.EnqueueOptions{}))
	}
	for _, id := range ids {
		require.Equal(t, ids[0], id, "every equal job merges into the pending one")
	}
	rec := &recorder{}
	start(t, q, rec)
	eventually(t, stateIs(t, q, ids[0], queue.StateDone), "job done")
	eventually(t, func() bool { return idle(t, q) }, "queue idle")
	runs := rec.Runs()
	require.Len(t, runs, 1, "100 identical enqueues make one run")
	assert.Equal(t, ohx.Window{Start: hour(0).Start, End: hour(99).End}, *runs[0].Window, "windows are unioned")
}

func testCoalesceWhileRunning(t *testing.T, q Queue) {
	started, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{fn: func(_ context.Context, _ ohx.Job, n int) error {
		if n == 0 {
			close(started)
			<-release
		}
		return nil
	}}
	first := enqueue(t, q, pushJob("link-f", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	select {
	case <-started:
	case <-time.After(Patience):
		t.Fatal("first job did not start")
	}
	var ids []string
	for i := 1; i <= 100; i++ {
		ids = append(ids, enqueue(t, q, pushJob("link-f", i), ohx.EnqueueOptions{}))
	}
	follow := ids[0]
	assert.NotEqual(t, first, follow, "a job enqueued while the equal one runs is a follow-up")
	for _, id := range ids {
		require.Equal(t, follow, id, "exactly one follow-up")
	}
	close(release)
	eventually(t, stateIs(t, q, follow, queue.StateDone), "follow-up done")
	eventually(t, func() bool { return idle(t, q) }, "queue idle")
	runs := rec.Runs()
	require.Len(t, runs, 2, "a burst during a run makes exactly one follow-up")
	assert.Equal(t, *hour(0), *runs[0].Window)
	assert.Equal(t, follow, runs[1].ID)
	assert.Equal(t, ohx.Window{Start: hour(1).Start, End: hour(100).End}, *runs[1].Window, "no notification is lost")
}

func testNoCoalesce(t *testing.T, q Queue) {
	a := enqueue(t, q, pushJob("link-n", 0), ohx.EnqueueOptions{})
	b := enqueue(t, q, pushJob("link-n", 1), ohx.EnqueueOptions{NoCoalesce: true})
	assert.NotEqual(t, a, b)
	rec := &recorder{}
	start(t, q, rec)
	eventually(t, func() bool { return len(rec.Runs()) == 2 }, "two runs")
}

func testDelayed(t *testing.T, q Queue) {
	id := enqueue(t, q, pushJob("link-l", 0), ohx.EnqueueOptions{Delay: time.Hour})
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, queue.StateScheduled, ji.State)
	assert.True(t, ji.NextRunAt.After(time.Now().Add(50*time.Minute)), "runs in about an hour, got %s", ji.NextRunAt)

	// An equal job without delay pulls the merged job forward. (A queue may
	// move the job to a new id; the old id then reports the new job.)
	now := enqueue(t, q, pushJob("link-l", 1), ohx.EnqueueOptions{})
	ji, err = q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, now, ji.Job.ID, "the first id leads to the job that will run")
	rec := &recorder{}
	start(t, q, rec)
	eventually(t, stateIs(t, q, now, queue.StateDone), "job done")
	eventually(t, func() bool { return idle(t, q) }, "queue idle")
	require.Len(t, rec.Runs(), 1)
	assert.Equal(t, now, rec.Runs()[0].ID)
	assert.Equal(t, ohx.Window{Start: hour(0).Start, End: hour(1).End}, *rec.Runs()[0].Window)

	late := enqueue(t, q, pushJob("link-m", 0), ohx.EnqueueOptions{Delay: time.Hour})
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, s.Depth())
	ji, err = q.Job(t.Context(), late)
	require.NoError(t, err)
	assert.Equal(t, queue.StateScheduled, ji.State, "a delayed job waits for its time")
}

func testPeriodic(t *testing.T, q Queue) {
	every, err := queue.Every(100 * time.Millisecond)
	require.NoError(t, err)
	var fired atomic.Int32
	s, err := queue.NewScheduler(q, []queue.Entry{{
		Name:     "reconcile",
		Schedule: every,
		Jobs: func(_ context.Context, at time.Time) ([]ohx.Job, error) {
			fired.Add(1)
			return []ohx.Job{{LinkID: "link-s", Trigger: ohx.TriggerReconciliation}}, nil
		},
	}}, queue.SchedulerConfig{})
	require.NoError(t, err)
	rec := &recorder{}
	start(t, q, rec)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	eventually(t, func() bool { return len(rec.Runs()) >= 2 }, "two periodic runs")
	cancel()
	require.NoError(t, <-done)
	for _, j := range rec.Runs() {
		assert.Equal(t, ohx.TriggerReconciliation, j.Trigger)
		assert.Equal(t, "link-s", j.LinkID)
	}
	assert.GreaterOrEqual(t, int(fired.Load()), 2)
}

func testGracefulShutdown(t *testing.T, q Queue) {
	started, release := make(chan struct{}), make(chan struct{})
	var ctxErr atomic.Value
	rec := &recorder{fn: func(ctx context.Context, _ ohx.Job, _ int) error {
		close(started)
		<-release
		if err := ctx.Err(); err != nil {
			ctxErr.Store(err)
		}
		return nil
	}}
	id := enqueue(t, q, pushJob("link-g", 0), ohx.EnqueueOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, rec) }()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a job was in flight", err)
	default:
	}
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(Patience):
		t.Fatal("Run did not return after the in-flight job finished")
	}
	assert.Nil(t, ctxErr.Load(), "the job's context stays alive during the grace period")
	eventually(t, stateIs(t, q, id, queue.StateDone), "job done")
}

func testShutdownHandsBack(t *testing.T, q Queue) {
	started := make(chan struct{})
	var (
		once        sync.Once
		misreported atomic.Bool // the shutdown looked like a cancellation
	)
	rec := &recorder{fn: func(ctx context.Context, _ ohx.Job, n int) error {
		if n > 0 {
			return nil
		}
		once.Do(func() { close(started) })
		<-ctx.Done() // a job that outlives the grace period
		misreported.Store(queue.Cancelled(ctx))
		return ctx.Err()
	}}
	id := enqueue(t, q, pushJob("link-h", 0), ohx.EnqueueOptions{})
	stop := start(t, q, rec)
	<-started
	stop()
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Contains(t, []queue.State{queue.StatePending, queue.StateScheduled}, ji.State, "handed back, not failed")
	assert.Equal(t, 0, ji.Job.Attempt, "a handed-back job keeps its retry budget")
	assert.False(t, misreported.Load(), "a shutdown is not a cancellation (queue.Cancelled)")

	start(t, q, rec)
	eventually(t, stateIs(t, q, id, queue.StateDone), "job done on the next run")
	runs := rec.Runs()
	require.Len(t, runs, 2)
	assert.Equal(t, 0, runs[1].Attempt)
}

func testBadInput(t *testing.T, q Queue) {
	for _, tc := range []struct {
		name string
		job  ohx.Job
	}{
		{"no link", ohx.Job{Trigger: ohx.TriggerIncremental}},
		{"bad trigger", ohx.Job{LinkID: "l", Trigger: "sometimes"}},
		{"bad window", ohx.Job{LinkID: "l", Trigger: ohx.TriggerBackfill, Window: &ohx.Window{Start: t0, End: t0}}},
	} {
		_, err := q.Enqueue(t.Context(), tc.job, ohx.EnqueueOptions{})
		assert.Error(t, err, tc.name)
	}
	_, err := q.Enqueue(t.Context(), pushJob("l", 0), ohx.EnqueueOptions{Delay: -time.Second})
	assert.Error(t, err)
	assert.Error(t, q.Run(t.Context(), nil))
	assert.True(t, idle(t, q), "nothing was enqueued")
}

func batcher(t *testing.T, q Queue) queue.BatchEnqueuer {
	t.Helper()
	bq, ok := q.(queue.BatchEnqueuer)
	if !ok {
		t.Skip("the queue does not implement queue.BatchEnqueuer")
	}
	return bq
}

// runsByLink runs q until it is idle and returns the runs per link.
func runsByLink(t *testing.T, q Queue, want int) map[string][]ohx.Job {
	t.Helper()
	rec := &recorder{}
	start(t, q, rec)
	eventually(t, func() bool { return len(rec.Runs()) >= want && idle(t, q) }, "%d runs, queue idle", want)
	out := map[string][]ohx.Job{}
	for _, r := range rec.Runs() {
		out[r.LinkID] = append(out[r.LinkID], r)
	}
	return out
}

// A batch has the outcome of its requests enqueued one by one: equal jobs
// merge, others do not, a NoCoalesce job stays alone, and a bad request
// fails alone.
func testBatchMerges(t *testing.T, q Queue) {
	bq := batcher(t, q)
	var reqs []queue.Request
	for i := range 50 {
		reqs = append(reqs, queue.Request{Job: pushJob("link-b", i)})
	}
	reqs = append(reqs,
		queue.Request{Job: pushJob("link-b2", 0)},
		queue.Request{Job: pushJob("link-b3", 99), Options: ohx.EnqueueOptions{NoCoalesce: true}},
		queue.Request{Job: ohx.Job{Trigger: ohx.TriggerIncremental}},
		queue.Request{Job: pushJob("link-b", 50), Options: ohx.EnqueueOptions{Delay: -time.Second}},
	)
	res := bq.EnqueueBatch(t.Context(), reqs)
	require.Len(t, res, len(reqs))
	for i := range 50 {
		require.NoError(t, res[i].Err)
		require.Equal(t, res[0].ID, res[i].ID, "equal jobs of a batch merge")
	}
	require.NoError(t, res[50].Err)
	require.NoError(t, res[51].Err)
	assert.NotEqual(t, res[0].ID, res[50].ID)
	assert.NotEqual(t, res[0].ID, res[51].ID)
	assert.Error(t, res[52].Err, "a job without link")
	assert.Error(t, res[53].Err, "a negative delay")

	runs := runsByLink(t, q, 3)
	require.Len(t, runs["link-b"], 1)
	assert.Equal(t, ohx.Window{Start: hour(0).Start, End: hour(49).End}, *runs["link-b"][0].Window, "windows are unioned")
	require.Len(t, runs["link-b2"], 1)
	require.Len(t, runs["link-b3"], 1)
	assert.Equal(t, *hour(99), *runs["link-b3"][0].Window)
}

// Batches merge into a job already pending, however it was enqueued.
func testBatchIntoPending(t *testing.T, q Queue) {
	bq := batcher(t, q)
	first := enqueue(t, q, pushJob("link-p", 0), ohx.EnqueueOptions{})
	for b := range 3 {
		var reqs []queue.Request
		for i := 1; i <= 20; i++ {
			reqs = append(reqs, queue.Request{Job: pushJob("link-p", b*20+i)})
		}
		for _, r := range bq.EnqueueBatch(t.Context(), reqs) {
			require.NoError(t, r.Err)
			require.Equal(t, first, r.ID, "merged into the pending job")
		}
	}
	runs := runsByLink(t, q, 1)
	require.Len(t, runs["link-p"], 1)
	assert.Equal(t, ohx.Window{Start: hour(0).Start, End: hour(60).End}, *runs["link-p"][0].Window, "no window is lost")
}

// A batch of jobs equal to a running one makes exactly one follow-up, and
// later batches merge into it.
func testBatchWhileRunning(t *testing.T, q Queue) {
	bq := batcher(t, q)
	started, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{fn: func(_ context.Context, _ ohx.Job, n int) error {
		if n == 0 {
			close(started)
			<-release
		}
		return nil
	}}
	first := enqueue(t, q, pushJob("link-r", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	select {
	case <-started:
	case <-time.After(Patience):
		t.Fatal("first job did not start")
	}
	var follow string
	for b := range 3 {
		var reqs []queue.Request
		for i := 1; i <= 40; i++ {
			reqs = append(reqs, queue.Request{Job: pushJob("link-r", b*40+i)})
		}
		for _, r := range bq.EnqueueBatch(t.Context(), reqs) {
			require.NoError(t, r.Err)
			if follow == "" {
				follow = r.ID
			}
			require.Equal(t, follow, r.ID, "exactly one follow-up")
		}
	}
	assert.NotEqual(t, first, follow)
	close(release)
	eventually(t, stateIs(t, q, follow, queue.StateDone), "follow-up done")
	eventually(t, func() bool { return idle(t, q) }, "queue idle")
	runs := rec.Runs()
	require.Len(t, runs, 2)
	assert.Equal(t, ohx.Window{Start: hour(1).Start, End: hour(120).End}, *runs[1].Window, "no notification is lost")
}

// Concurrent Enqueue calls through a GroupCommit share batches and each
// gets its job's id; nothing is lost.
func testGroupCommit(t *testing.T, q Queue) {
	gc, err := queue.NewGroupCommit(batcher(t, q), queue.GroupCommitConfig{})
	require.NoError(t, err)
	const calls, links = 200, 8
	ids := make([]string, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			id, err := gc.Enqueue(t.Context(), pushJob(fmt.Sprintf("link-g%d", i%links), i), ohx.EnqueueOptions{})
			assert.NoError(t, err)
			ids[i] = id
		})
	}
	wg.Wait()
	for i := range calls {
		require.Equal(t, ids[i%links], ids[i], "one job per link")
	}
	runs := runsByLink(t, q, links)
	for l := range links {
		rs := runs[fmt.Sprintf("link-g%d", l)]
		require.Len(t, rs, 1)
		last := l + (calls-1-l)/links*links
		assert.Equal(t, ohx.Window{Start: hour(l).Start, End: hour(last).End}, *rs[0].Window)
	}
}
