package queuetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// testRunningInStats: while a job runs, Stats counts it as running at its
// priority (not waiting), and Job and LinkJobs say running.
func testRunningInStats(t *testing.T, q Queue) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rec := &recorder{fn: func(ctx context.Context, _ ohx.Job, _ int) error {
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	id := enqueue(t, q, ohx.Job{LinkID: "link-run", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	start(t, q, rec)
	select {
	case <-started:
	case <-time.After(Patience):
		t.Fatalf("the job did not start within %s", Patience)
	}
	defer close(release)

	running := func() queue.PriorityStats {
		s, err := q.Stats(t.Context())
		require.NoError(t, err)
		for _, p := range s.Priorities {
			if p.Priority == ohx.PriorityIncremental {
				return p
			}
		}
		return queue.PriorityStats{}
	}
	// A worker may report the task as claimed a moment after the handler
	// started (Redis): wait for it.
	eventually(t, func() bool { return running().Running == 1 }, "one running job at priority %d", ohx.PriorityIncremental)
	p := running()
	assert.Zero(t, p.Pending+p.Scheduled+p.Retry, "a running job does not wait")
	assert.Zero(t, p.Depth())
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, queue.StateRunning, ji.State)
	jobs, err := q.LinkJobs(t.Context(), "link-run")
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, queue.StateRunning, jobs[0].State)
	assert.Equal(t, id, jobs[0].Job.ID)
}

// testLinkJobs: LinkJobs lists a link's jobs in every state the queue
// still holds, newest first, and no other link's.
func testLinkJobs(t *testing.T, q Queue) {
	rec := &recorder{fn: func(_ context.Context, j ohx.Job, _ int) error {
		if j.Trigger == ohx.TriggerBackfill {
			return fmt.Errorf("mapping: %w", ohx.ErrPermanent)
		}
		return nil
	}}
	done := enqueue(t, q, ohx.Job{LinkID: "link-a", Trigger: ohx.TriggerDeviceSync}, ohx.EnqueueOptions{})
	dead := enqueue(t, q, ohx.Job{LinkID: "link-a", Trigger: ohx.TriggerBackfill, Window: hour(1)}, ohx.EnqueueOptions{NoCoalesce: true})
	other := enqueue(t, q, ohx.Job{LinkID: "link-b", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	start(t, q, rec)
	eventually(t, stateIs(t, q, done, queue.StateDone), "device sync done")
	eventually(t, stateIs(t, q, dead, queue.StateDead), "backfill dead")
	eventually(t, stateIs(t, q, other, queue.StateDone), "other link's job done")
	later := enqueue(t, q, pushJob("link-a", 2), ohx.EnqueueOptions{Delay: time.Hour})

	jobs, err := q.LinkJobs(t.Context(), "link-a")
	require.NoError(t, err)
	var got []string
	states := map[string]queue.State{}
	for _, j := range jobs {
		got = append(got, j.Job.ID)
		states[j.Job.ID] = j.State
		assert.Equal(t, "link-a", j.Job.LinkID)
	}
	assert.Equal(t, []string{later, dead, done}, got, "newest first, only link-a's")
	assert.Equal(t, map[string]queue.State{later: queue.StateScheduled, dead: queue.StateDead, done: queue.StateDone}, states)

	jobs, err = q.LinkJobs(t.Context(), "link-b")
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, other, jobs[0].Job.ID)
	jobs, err = q.LinkJobs(t.Context(), "no-such-link")
	require.NoError(t, err)
	assert.Empty(t, jobs)
}

// testFinal: inside the handler, queue.Final tells the run after which the
// queue gives up (the last retry, or a permanent error).
func testFinal(t *testing.T, q Queue) {
	var (
		mu     sync.Mutex
		finals = map[string][]bool{}
	)
	rec := &recorder{fn: func(ctx context.Context, j ohx.Job, _ int) error {
		err := fmt.Errorf("down: %w", ohx.ErrTransient)
		if j.LinkID == "link-perm" {
			err = fmt.Errorf("bad: %w", ohx.ErrPermanent)
		}
		mu.Lock()
		finals[j.LinkID] = append(finals[j.LinkID], queue.Final(ctx, j, err))
		mu.Unlock()
		return err
	}}
	transient := enqueue(t, q, pushJob("link-trans", 0), ohx.EnqueueOptions{})
	permanent := enqueue(t, q, pushJob("link-perm", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	eventually(t, stateIs(t, q, transient, queue.StateDead), "transient job dead")
	eventually(t, stateIs(t, q, permanent, queue.StateDead), "permanent job dead")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []bool{false, false, true}, finals["link-trans"], "MaxAttempts 3: the third run is the last")
	assert.Equal(t, []bool{true}, finals["link-perm"])
	assert.False(t, queue.Final(t.Context(), ohx.Job{}, nil), "no failure, nothing final")
}
