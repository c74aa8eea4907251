package queue

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Request is one job to enqueue in a batch, with its options.
type Request struct {
	// Job is the job to enqueue.
	Job ohx.Job
	// Options tune its enqueue, as for ohx.Queue.Enqueue.
	Options ohx.EnqueueOptions
}

// Result is the outcome of one Request: the id of the job that will run it
// (as ohx.Queue.Enqueue returns it), or why it was not enqueued.
type Result struct {
	// ID is the id of the job that will run the request's job.
	ID string
	// Err is nil when the job is enqueued (for a durable queue: the queue's
	// store acknowledged it).
	Err error
}

// BatchEnqueuer is implemented by queues that enqueue several jobs in one
// call, sharing their store's round trips. EnqueueBatch returns one Result
// per request, in order; each means what ohx.Queue.Enqueue would have
// returned for it, as if the requests had been enqueued one after another.
// Requests with the same coalesce key merge as they would one by one. Memory
// and redisq.Queue implement it; GroupCommit turns concurrent Enqueue calls
// into EnqueueBatch calls.
type BatchEnqueuer interface {
	// EnqueueBatch enqueues every request; ctx bounds the whole batch.
	EnqueueBatch(ctx context.Context, reqs []Request) []Result
}

// GroupCommit defaults.
const (
	// DefaultMaxBatch bounds the jobs of one batch.
	DefaultMaxBatch = 256
	// DefaultBatches bounds the batches in flight at once.
	DefaultBatches = 2
	// DefaultBatchTimeout bounds one batch.
	DefaultBatchTimeout = 5 * time.Second
)

// GroupCommitConfig tunes a GroupCommit. Its zero value is ready to use.
type GroupCommitConfig struct {
	// MaxBatch bounds the jobs of one batch; 0 means DefaultMaxBatch.
	MaxBatch int
	// Batches bounds the batches in flight at once; 0 means
	// DefaultBatches.
	Batches int
	// Linger is how long a batch waits for company before it is sent when
	// no batch is in flight; 0 means not at all (a batch forms while the
	// previous one is in flight, which under load is what fills it).
	Linger time.Duration
	// Timeout bounds one batch; 0 means DefaultBatchTimeout. A batch also
	// ends when the last of its callers' deadlines passes.
	Timeout time.Duration
}

// GroupCommit turns concurrent Enqueue calls into shared EnqueueBatch calls
// of a BatchEnqueuer (group commit): a call joins the batch being formed and
// returns once that batch was enqueued, with its own job's result. While
// Batches batches are in flight, new calls wait and form the next batch, so
// the more concurrent callers, the fewer round trips each costs; a call
// waits at most for the batches in flight (each bounded by Timeout) plus
// Linger. No lock is held while a batch is enqueued.
//
// A caller whose context ends before its batch is enqueued gets the
// context's error: its job may or may not be enqueued (it is when its batch
// already started), so the caller must treat it as not enqueued and retry
// (enqueues coalesce, so a retry costs no duplicate work). GroupCommit is
// safe for concurrent use; it starts goroutines only while batches are
// pending and needs no Close.
type GroupCommit struct {
	q   BatchEnqueuer
	cfg GroupCommitConfig

	mu       sync.Mutex
	waiting  []*call
	inflight int
}

type call struct {
	ctx  context.Context
	req  Request
	res  Result
	done chan struct{}
}

// NewGroupCommit returns a GroupCommit in front of q.
func NewGroupCommit(q BatchEnqueuer, cfg GroupCommitConfig) (*GroupCommit, error) {
	if q == nil {
		return nil, errors.New("queue: group commit needs a queue")
	}
	if cfg.MaxBatch < 0 || cfg.Batches < 0 || cfg.Linger < 0 || cfg.Timeout < 0 {
		return nil, errors.New("queue: group commit settings must not be negative")
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Batches == 0 {
		cfg.Batches = DefaultBatches
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultBatchTimeout
	}
	return &GroupCommit{q: q, cfg: cfg}, nil
}

// Enqueue enqueues j in the next batch and returns its result once the batch
// was enqueued, or the context's error when ctx ends first.
func (g *GroupCommit) Enqueue(ctx context.Context, j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c := &call{ctx: ctx, req: Request{Job: j, Options: opts}, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	start := g.inflight < g.cfg.Batches
	if start {
		g.inflight++
	}
	g.mu.Unlock()
	if start {
		go g.run()
	}
	select {
	case <-c.done:
		return c.res.ID, c.res.Err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run sends batches until none is waiting.
func (g *GroupCommit) run() {
	if g.cfg.Linger > 0 {
		time.Sleep(g.cfg.Linger)
	}
	for {
		g.mu.Lock()
		if len(g.waiting) == 0 {
			g.inflight--
			g.mu.Unlock()
			return
		}
		n := min(len(g.waiting), g.cfg.MaxBatch)
		batch := make([]*call, n)
		copy(batch, g.waiting)
		rest := copy(g.waiting, g.waiting[n:])
		clear(g.waiting[rest:])
		g.waiting = g.waiting[:rest]
		g.mu.Unlock()
		g.send(batch)
	}
}

// send enqueues one batch and hands each call its result. Calls whose
// context already ended are left out: their callers have returned.
func (g *GroupCommit) send(batch []*call) {
	live := batch[:0:0]
	reqs := make([]Request, 0, len(batch))
	for _, c := range batch {
		if c.ctx.Err() != nil {
			c.res.Err = c.ctx.Err()
			close(c.done)
			continue
		}
		live = append(live, c)
		reqs = append(reqs, c.req)
	}
	if len(live) == 0 {
		return
	}
	// The batch may take as long as its most patient caller waits, at most
	// Timeout: nobody is left to acknowledge after that.
	deadline := time.Now().Add(g.cfg.Timeout)
	latest := time.Time{}
	for _, c := range live {
		d, ok := c.ctx.Deadline()
		if !ok {
			latest = deadline
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	if latest.After(deadline) {
		latest = deadline
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(live[0].ctx), latest)
	defer cancel()
	res := g.q.EnqueueBatch(ctx, reqs)
	for i, c := range live {
		if i < len(res) {
			c.res = res[i]
		} else {
			c.res.Err = errors.New("queue: batch returned too few results")
		}
		close(c.done)
	}
}
