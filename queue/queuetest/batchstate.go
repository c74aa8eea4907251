package queuetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// Batches (queue.BatchEnqueuer) against the job states of the other
// abilities: a cancelled job (queue.Canceller) and a link's job listing
// (Inspector.LinkJobs).

// testBatchSkipsCancelled: a batch equal to a cancelled pending job makes a
// new job instead of merging into it, so an acknowledged notification is
// never absorbed by a job that will not run.
func testBatchSkipsCancelled(t *testing.T, q Queue) {
	bq := batcher(t, q)
	c := canceller(t, q)
	cancelled := enqueue(t, q, pushJob("link-c", 0), ohx.EnqueueOptions{Delay: 500 * time.Millisecond})
	require.NoError(t, c.Cancel(t.Context(), cancelled))

	var reqs []queue.Request
	for i := 1; i <= 10; i++ {
		reqs = append(reqs, queue.Request{Job: pushJob("link-c", i)})
	}
	res := bq.EnqueueBatch(t.Context(), reqs)
	next := res[0].ID
	for _, r := range res {
		require.NoError(t, r.Err)
		require.Equal(t, next, r.ID, "the batch merges into one new job")
	}
	assert.NotEqual(t, cancelled, next, "a cancelled job takes no more work")

	rec := &recorder{}
	start(t, q, rec)
	eventually(t, stateIs(t, q, next, queue.StateDone), "the new job runs")
	time.Sleep(time.Second) // past the cancelled job's run time (and a Redis poll)
	runs := rec.Runs()
	require.Len(t, runs, 1, "the cancelled job never runs")
	assert.Equal(t, next, runs[0].ID)
	assert.Equal(t, ohx.Window{Start: hour(1).Start, End: hour(10).End}, *runs[0].Window, "every batched window runs")
	ji, err := q.Job(t.Context(), cancelled)
	require.NoError(t, err)
	assert.Equal(t, queue.StateCancelled, ji.State)
}

// testBatchJobsListedByLink: the jobs a batch creates are in their links'
// job listings, once each however many requests merged into them.
func testBatchJobsListedByLink(t *testing.T, q Queue) {
	bq := batcher(t, q)
	var reqs []queue.Request
	for i := range 5 {
		reqs = append(reqs, queue.Request{Job: pushJob("link-i1", i)})
	}
	for i := range 3 {
		reqs = append(reqs, queue.Request{Job: pushJob("link-i2", i)})
	}
	reqs = append(reqs, queue.Request{Job: pushJob("link-i1", 9), Options: ohx.EnqueueOptions{NoCoalesce: true}})
	res := bq.EnqueueBatch(t.Context(), reqs)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	// A second batch merges into the pending jobs: no new entry.
	for _, r := range bq.EnqueueBatch(t.Context(), []queue.Request{{Job: pushJob("link-i1", 20)}, {Job: pushJob("link-i2", 20)}}) {
		require.NoError(t, r.Err)
	}

	ids := func(link string) []string {
		jobs, err := q.LinkJobs(t.Context(), link)
		require.NoError(t, err)
		var out []string
		for _, j := range jobs {
			assert.Equal(t, link, j.Job.LinkID)
			out = append(out, j.Job.ID)
		}
		return out
	}
	assert.ElementsMatch(t, []string{res[0].ID, res[8].ID}, ids("link-i1"), "the coalesced job and the one alone")
	assert.Equal(t, []string{res[5].ID}, ids("link-i2"))
}
