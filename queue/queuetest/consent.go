package queuetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// The cases of bounded work (issue 17): one sync per link at a time, a new
// link's initial sync not starved by long jobs of another, and cancellation
// of pending and running jobs.

// testLongJobsDoNotStarveANewLink holds both workers' worth of long jobs of
// one link (a push and a backfill, which do not coalesce) and then links a
// new patient: the new link's initial sync must start while the first long
// job still runs, because a link runs one job at a time.
func testLongJobsDoNotStarveANewLink(t *testing.T, q Queue) {
	release := make(chan struct{})
	started := make(chan ohx.Job, 8)
	var mu sync.Mutex
	running := map[string]int{}
	most := 0
	rec := &recorder{fn: func(ctx context.Context, j ohx.Job, _ int) error {
		mu.Lock()
		running[j.LinkID]++
		most = max(most, running[j.LinkID])
		mu.Unlock()
		defer func() { mu.Lock(); running[j.LinkID]--; mu.Unlock() }()
		started <- j
		if j.LinkID == "busy" {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}
	enqueue(t, q, pushJob("busy", 0), ohx.EnqueueOptions{})
	enqueue(t, q, ohx.Job{LinkID: "busy", Trigger: ohx.TriggerBackfill, Window: hour(1)}, ohx.EnqueueOptions{NoCoalesce: true})
	start(t, q, rec)
	first := waitStart(t, started)
	require.Equal(t, "busy", first.LinkID)
	enqueue(t, q, ohx.Job{LinkID: "new-patient", Trigger: ohx.TriggerInitial}, ohx.EnqueueOptions{})
	next := waitStart(t, started)
	assert.Equal(t, "new-patient", next.LinkID, "the new link's initial sync runs while the long job holds its link")
	close(release)
	last := waitStart(t, started)
	assert.Equal(t, "busy", last.LinkID, "the second long job runs after the first")
	eventually(t, func() bool { return idle(t, q) }, "the queue drains")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, most, "never two jobs of one link at once")
}

func waitStart(t *testing.T, started <-chan ohx.Job) ohx.Job {
	t.Helper()
	select {
	case j := <-started:
		return j
	case <-time.After(Patience):
		t.Fatalf("no job started within %s", Patience)
		return ohx.Job{}
	}
}

func canceller(t *testing.T, q Queue) queue.Canceller {
	t.Helper()
	c, ok := q.(queue.Canceller)
	if !ok {
		t.Skip("the queue cannot cancel jobs")
	}
	return c
}

// testCancelPending cancels a scheduled job: it never runs.
func testCancelPending(t *testing.T, q Queue) {
	c := canceller(t, q)
	rec := &recorder{}
	id := enqueue(t, q, pushJob("l1", 0), ohx.EnqueueOptions{Delay: 500 * time.Millisecond})
	require.NoError(t, c.Cancel(t.Context(), id))
	eventually(t, stateIs(t, q, id, queue.StateCancelled), "job %s cancelled", id)
	require.ErrorIs(t, c.Cancel(t.Context(), id), queue.ErrFinished)
	require.ErrorIs(t, c.Cancel(t.Context(), "no-such-job"), ohx.ErrNotFound)
	other := enqueue(t, q, pushJob("l1", 1), ohx.EnqueueOptions{})
	assert.NotEqual(t, id, other, "a cancelled job takes no more merges")
	start(t, q, rec)
	eventually(t, stateIs(t, q, other, queue.StateDone), "the next job of the link runs")
	time.Sleep(time.Second) // past the cancelled job's run time (and a Redis poll)
	for _, j := range rec.Runs() {
		assert.NotEqual(t, id, j.ID, "a cancelled job never runs")
	}
}

// testCancelRunning cancels a running job: its context ends, it is not
// retried, and it reports cancelled.
func testCancelRunning(t *testing.T, q Queue) {
	c := canceller(t, q)
	running := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	rec := &recorder{fn: func(ctx context.Context, _ ohx.Job, _ int) error {
		running <- struct{}{}
		select {
		case <-ctx.Done():
			if !queue.Cancelled(ctx) {
				stopped <- errors.New("the handler cannot tell its job was cancelled (queue.Cancelled)")
				return ctx.Err()
			}
			stopped <- ctx.Err()
			return ctx.Err()
		case <-time.After(Patience):
			return errors.New("never cancelled")
		}
	}}
	id := enqueue(t, q, pushJob("l1", 0), ohx.EnqueueOptions{})
	start(t, q, rec)
	select {
	case <-running:
	case <-time.After(Patience):
		t.Fatal("the job did not start")
	}
	require.NoError(t, c.Cancel(t.Context(), id))
	select {
	case err := <-stopped:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(Patience):
		t.Fatal("the running job was not stopped")
	}
	eventually(t, stateIs(t, q, id, queue.StateCancelled), "job %s reports cancelled", id)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, rec.Runs(), 1, "a cancelled job is not retried")
}
