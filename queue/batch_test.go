package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// gate is a BatchEnqueuer in front of a Memory queue that records batch
// sizes and holds each batch until the test lets it through.
type gate struct {
	q       *Memory
	hold    chan struct{} // nil: never hold
	mu      sync.Mutex
	sizes   []int
	entered chan int
	short   bool // return one result too few
}

func (g *gate) EnqueueBatch(ctx context.Context, reqs []Request) []Result {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(reqs))
	g.mu.Unlock()
	if g.entered != nil {
		g.entered <- len(reqs)
	}
	if g.hold != nil {
		<-g.hold
	}
	res := g.q.EnqueueBatch(ctx, reqs)
	if g.short {
		res = res[:len(res)-1]
	}
	return res
}

func (g *gate) batchSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

func memoryQueue(t *testing.T) *Memory {
	t.Helper()
	q, err := NewMemory(Config{})
	require.NoError(t, err)
	return q
}

func pushAt(link string, i int) ohx.Job {
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: t0.Add(time.Duration(i) * time.Minute), End: t0.Add(time.Duration(i+1) * time.Minute)}
	return ohx.Job{LinkID: link, DataTypes: []ohx.DataType{ohx.Steps}, Trigger: ohx.TriggerPush, Window: &w}
}

func (g *GroupCommit) waitingLen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// Callers that arrive while a batch is in flight form the next batch
// together: 50 callers, 2 batches.
func TestGroupCommitSharesBatches(t *testing.T) {
	g := &gate{q: memoryQueue(t), hold: make(chan struct{}), entered: make(chan int, 10)}
	gc, err := NewGroupCommit(g, GroupCommitConfig{Batches: 1})
	require.NoError(t, err)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		ids[0], err = gc.Enqueue(t.Context(), pushAt("l1", 0), ohx.EnqueueOptions{})
		assert.NoError(t, err)
	})
	require.Equal(t, 1, <-g.entered, "the first caller goes alone")
	for i := 1; i < 50; i++ {
		wg.Go(func() {
			var err error
			ids[i], err = gc.Enqueue(t.Context(), pushAt(fmt.Sprintf("l%d", 1+i%2), i), ohx.EnqueueOptions{})
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return gc.waitingLen() == 49 }, 10*time.Second, time.Millisecond)
	close(g.hold)
	wg.Wait()
	assert.Equal(t, []int{1, 49}, g.batchSizes(), "the rest shared one batch")
	for i := range 50 {
		assert.Equal(t, ids[i%2], ids[i], "each caller got its own job's id (l1 or l2)")
	}
	assert.NotEqual(t, ids[0], ids[1])
}

// A caller whose context ends while it waits returns at once with the
// context's error; its job is left out of the batch it was waiting for.
func TestGroupCommitCallerGivesUp(t *testing.T) {
	g := &gate{q: memoryQueue(t), hold: make(chan struct{}), entered: make(chan int, 10)}
	gc, err := NewGroupCommit(g, GroupCommitConfig{Batches: 1})
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		_, err := gc.Enqueue(t.Context(), pushAt("l1", 0), ohx.EnqueueOptions{})
		first <- err
	}()
	<-g.entered
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := gc.Enqueue(ctx, pushAt("l2", 0), ohx.EnqueueOptions{})
		gaveUp <- err
	}()
	require.Eventually(t, func() bool { return gc.waitingLen() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-gaveUp, context.Canceled)
	close(g.hold)
	require.NoError(t, <-first)
	require.Eventually(t, func() bool { return gc.waitingLen() == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, []int{1}, g.batchSizes(), "the abandoned job was not sent")
	_, err = gc.Enqueue(ctx, pushAt("l3", 0), ohx.EnqueueOptions{})
	assert.ErrorIs(t, err, context.Canceled, "an ended context enqueues nothing")
}

// Linger lets the first batch wait for company when nothing is in flight.
func TestGroupCommitLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{q: memoryQueue(t)}
		gc, err := NewGroupCommit(g, GroupCommitConfig{Linger: time.Millisecond})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				_, err := gc.Enqueue(t.Context(), pushAt("l1", i), ohx.EnqueueOptions{})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, []int{10}, g.batchSizes())
	})
}

func TestGroupCommitFailures(t *testing.T) {
	_, err := NewGroupCommit(nil, GroupCommitConfig{})
	require.Error(t, err)
	_, err = NewGroupCommit(memoryQueue(t), GroupCommitConfig{MaxBatch: -1})
	require.Error(t, err)

	gc, err := NewGroupCommit(&gate{q: memoryQueue(t), short: true}, GroupCommitConfig{})
	require.NoError(t, err)
	_, err = gc.Enqueue(t.Context(), pushAt("l1", 0), ohx.EnqueueOptions{})
	assert.Error(t, err, "a queue that returns too few results fails the calls it left out")

	gc, err = NewGroupCommit(memoryQueue(t), GroupCommitConfig{MaxBatch: 3})
	require.NoError(t, err)
	_, err = gc.Enqueue(t.Context(), ohx.Job{Trigger: ohx.TriggerPush}, ohx.EnqueueOptions{})
	assert.Error(t, err, "a bad job fails its own call")
	id, err := gc.Enqueue(t.Context(), pushAt("l1", 0), ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, id)
}

// batchFunc is a BatchEnqueuer made of a function.
type batchFunc func(ctx context.Context, reqs []Request) []Result

func (f batchFunc) EnqueueBatch(ctx context.Context, reqs []Request) []Result { return f(ctx, reqs) }

// A batch lasts no longer than its most patient caller waits, nor longer
// than Timeout.
func TestGroupCommitBatchDeadline(t *testing.T) {
	var got time.Time
	gc, err := NewGroupCommit(batchFunc(func(ctx context.Context, reqs []Request) []Result {
		got, _ = ctx.Deadline()
		return make([]Result, len(reqs))
	}), GroupCommitConfig{Timeout: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()
	_, err = gc.Enqueue(ctx, pushAt("l1", 0), ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.Equal(t, want, got, "the caller's deadline")

	before := time.Now()
	_, err = gc.Enqueue(context.Background(), pushAt("l1", 0), ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.WithinRange(t, got, before.Add(time.Hour), time.Now().Add(time.Hour), "no caller deadline: Timeout")
}
