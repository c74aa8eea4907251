package queue

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

// Config tunes a Memory queue. Its zero value is ready to use.
type Config struct {
	// Name labels the queue in metrics; empty means "memory".
	Name string
	// Concurrency is the number of jobs one Run executes at once; zero
	// means 4.
	Concurrency int
	// StrictPriority makes a lower priority number always run first. When
	// false, a free worker picks a priority at random in proportion to
	// Weights among the priorities that have ready jobs, so low priorities
	// are never starved.
	StrictPriority bool
	// Weights gives, per priority, its weight when StrictPriority is false.
	// A priority missing from the map weighs 1; a nil map means
	// DefaultWeights().
	Weights map[ohx.Priority]int
	// Retry is the retry policy.
	Retry Retry
	// Debounce is the least delay of a follow-up: a job enqueued while an
	// equal one (same CoalesceKey) runs waits at least this long (and until
	// the running one ends), so that the rest of a burst merges into it.
	// Zero means 10 s; negative means no debounce.
	Debounce time.Duration
	// Timeout bounds one run of a job; zero means 30 min.
	Timeout time.Duration
	// ShutdownTimeout is how long Run waits for in-flight jobs once its
	// context is done; then their contexts are cancelled and unfinished jobs
	// go back to pending. Zero means 10 s.
	ShutdownTimeout time.Duration
	// Retention is the number of finished (done) jobs kept for Job lookups;
	// zero means 1000.
	Retention int
	// MaxDeadLetters bounds the dead letters kept (the oldest are dropped
	// first); zero means 10000.
	MaxDeadLetters int
	// Clock tells the time; nil means the system clock.
	Clock Clock
	// Logger receives job failures (ids and error kinds only); nil means no
	// logging.
	Logger *zap.Logger
	// Metrics receives the queue depth; nil means none.
	Metrics ohx.Metrics
}

// DefaultWeights returns the weights of the named priorities in weighted
// mode: webhook jobs get six times the share of reconciliation jobs. Each
// call returns a new map.
func DefaultWeights() map[ohx.Priority]int {
	return map[ohx.Priority]int{
		ohx.PriorityWebhook:        6,
		ohx.PriorityIncremental:    3,
		ohx.PriorityReconciliation: 1,
	}
}

// Resolved returns c with every zero field replaced by its default. Queue
// implementations share it.
func (c Config) Resolved() Config {
	if c.Name == "" {
		c.Name = "memory"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Weights == nil {
		c.Weights = DefaultWeights()
	}
	switch {
	case c.Debounce == 0:
		c.Debounce = 10 * time.Second
	case c.Debounce < 0:
		c.Debounce = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 1000
	}
	if c.MaxDeadLetters <= 0 {
		c.MaxDeadLetters = 10000
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Metrics == nil {
		c.Metrics = ohx.NopMetrics{}
	}
	return c
}

// Weight returns the weight of priority p in weighted mode.
func (c Config) Weight(p ohx.Priority) int {
	if w, ok := c.Weights[p]; ok && w > 0 {
		return w
	}
	return 1
}

// Memory is an ohx.Queue in process memory: priorities, retries with backoff,
// dead letters, coalescing, delayed jobs. Jobs do not survive the process.
// It is safe for concurrent use; several Run calls may consume it at once.
type Memory struct {
	cfg Config

	mu      sync.Mutex
	jobs    map[string]*entry // every job the queue knows, by id
	pending map[string]*entry // coalesce key → job that has not started yet
	active  map[string]*entry // coalesce key → job running or waiting for a retry
	// Waiting jobs are in exactly one of: the heap of their priority (by run
	// time), or blocked behind the active job of their key.
	heaps   map[ohx.Priority]*jobHeap
	prios   []ohx.Priority // keys of heaps, ascending
	blocked map[string][]*entry
	// Jobs of one link run one at a time: busy holds the running job of
	// each link, linkWait the jobs that came up while it ran.
	busy     map[string]*entry
	linkWait map[string][]*entry
	waiting  int
	done     []string // ids of finished jobs, oldest first (retention)
	dead     []string // ids of dead letters, oldest first
	seq      uint64
	wake     chan struct{}
}

type entry struct {
	job      ohx.Job
	key      string // coalesce key; "" for a job enqueued with NoCoalesce
	seq      uint64 // FIFO order among equals
	running  bool
	retrying bool
	state    State // StateDone or StateDead once finished; "" before
	runAt    time.Time
	lastErr  string
	finished time.Time
	prio     ohx.Priority // heap the entry is in (when idx >= 0)
	idx      int          // index in that heap, -1 when in none
	stop     context.CancelFunc
	cancel   bool // Cancel asked a running job to stop
}

// jobHeap orders waiting jobs of one priority by run time, then FIFO.
type jobHeap []*entry

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if !h[i].runAt.Equal(h[j].runAt) {
		return h[i].runAt.Before(h[j].runAt)
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *jobHeap) Push(x any)   { e := x.(*entry); e.idx = len(*h); *h = append(*h, e) }
func (h *jobHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}

var (
	_ ohx.Queue     = (*Memory)(nil)
	_ Inspector     = (*Memory)(nil)
	_ Canceller     = (*Memory)(nil)
	_ BatchEnqueuer = (*Memory)(nil)
)

// NewMemory returns an empty in-memory queue.
func NewMemory(cfg Config) (*Memory, error) {
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("queue: negative concurrency %d", cfg.Concurrency)
	}
	for p, w := range cfg.Weights {
		if w < 0 {
			return nil, fmt.Errorf("queue: negative weight %d for priority %d", w, p)
		}
	}
	m := &Memory{
		cfg:      cfg.Resolved(),
		jobs:     map[string]*entry{},
		pending:  map[string]*entry{},
		active:   map[string]*entry{},
		heaps:    map[ohx.Priority]*jobHeap{},
		blocked:  map[string][]*entry{},
		busy:     map[string]*entry{},
		linkWait: map[string][]*entry{},
		wake:     make(chan struct{}, 1),
	}
	m.cfg.Metrics.QueueDepth(m.cfg.Name, 0) // the depth is known, and zero, from the start
	return m, nil
}

// Enqueue implements ohx.Queue. A job equal (same CoalesceKey) to one that
// has not started yet is merged into it (ohx.Job.Merge) and that job's id is
// returned; one equal to a job that is running or waiting for a retry becomes
// its single follow-up, which waits for it to end and at least the debounce.
func (m *Memory) Enqueue(_ context.Context, j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	j, err := m.prepare(j, opts)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enqueueLocked(j, opts)
}

// EnqueueBatch implements BatchEnqueuer: the requests are enqueued in order
// under one lock.
func (m *Memory) EnqueueBatch(_ context.Context, reqs []Request) []Result {
	out := make([]Result, len(reqs))
	jobs := make([]ohx.Job, len(reqs))
	for i, r := range reqs {
		jobs[i], out[i].Err = m.prepare(r.Job, r.Options)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range reqs {
		if out[i].Err == nil {
			out[i].ID, out[i].Err = m.enqueueLocked(jobs[i], r.Options)
		}
	}
	return out
}

// prepare checks a job and its options and returns the copy to enqueue.
func (m *Memory) prepare(j ohx.Job, opts ohx.EnqueueOptions) (ohx.Job, error) {
	if err := j.Validate(); err != nil {
		return ohx.Job{}, err
	}
	if opts.Delay < 0 {
		return ohx.Job{}, fmt.Errorf("queue: negative delay %s", opts.Delay)
	}
	j = cloneJob(j)
	j.Attempt = 0
	if j.EnqueuedAt.IsZero() {
		j.EnqueuedAt = m.cfg.Clock.Now()
	}
	return j, nil
}

func (m *Memory) enqueueLocked(j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	now := m.cfg.Clock.Now()
	key := ""
	if !opts.NoCoalesce {
		key = j.CoalesceKey()
	}
	runAt := now.Add(opts.Delay)
	if key != "" && m.active[key] != nil {
		runAt = later(runAt, now.Add(m.cfg.Debounce))
	}
	if p := m.pending[key]; key != "" && p != nil {
		p.job.Merge(j)
		if runAt.Before(p.runAt) {
			p.runAt = runAt
		}
		m.reposition(p)
		m.changed()
		return p.job.ID, nil
	}
	if j.ID == "" {
		j.ID = uuid.NewString()
	} else if _, ok := m.jobs[j.ID]; ok {
		return "", fmt.Errorf("%w: %q", ErrDuplicateID, j.ID)
	}
	m.seq++
	e := &entry{job: j, key: key, seq: m.seq, runAt: runAt, idx: -1}
	m.jobs[j.ID] = e
	if key != "" {
		m.pending[key] = e
	}
	m.wait(e)
	m.changed()
	return j.ID, nil
}

// Run implements ohx.Queue: it runs up to Concurrency jobs at once with h until
// ctx is done, then waits up to ShutdownTimeout for the jobs in flight.
// Those still running then have their context cancelled and go back to
// pending without counting an attempt. Run returns nil after a shutdown.
func (m *Memory) Run(ctx context.Context, h ohx.Handler) error {
	if h == nil {
		return errors.New("queue: nil handler")
	}
	// Jobs keep running through the shutdown grace period: their context is
	// detached from ctx and cancelled only when the grace period ends.
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	slots := make(chan struct{}, m.cfg.Concurrency)
	var wg sync.WaitGroup
loop:
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		e, wait := m.next()
		if e == nil {
			<-slots
			var timer <-chan time.Time
			if wait > 0 {
				timer = m.cfg.Clock.After(wait)
			}
			select {
			case <-ctx.Done():
				break loop
			case <-m.wake:
			case <-timer:
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-slots; m.signal() }()
			m.execute(jobCtx, h, e)
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-m.cfg.Clock.After(m.cfg.ShutdownTimeout):
		stopJobs()
		<-finished
	}
	return nil
}

// next takes the job to run now, or says how long until one may be ready (0:
// nothing is waiting).
func (m *Memory) next() (*entry, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Clock.Now()
	var ready []ohx.Priority
	var soonest time.Time
	for _, p := range m.prios {
		h := m.heaps[p]
		for h.Len() > 0 {
			top := (*h)[0]
			if a := m.active[top.key]; top.key != "" && a != nil && a != top {
				// An equal job became active since top was queued: follow it.
				heap.Pop(h)
				m.blocked[top.key] = append(m.blocked[top.key], top)
				continue
			}
			if b := m.busy[top.job.LinkID]; b != nil && b != top {
				// Another job of the link runs: wait for it.
				heap.Pop(h)
				m.linkWait[top.job.LinkID] = append(m.linkWait[top.job.LinkID], top)
				continue
			}
			if top.runAt.After(now) {
				if soonest.IsZero() || top.runAt.Before(soonest) {
					soonest = top.runAt
				}
			} else {
				ready = append(ready, p)
			}
			break
		}
	}
	if len(ready) == 0 {
		if soonest.IsZero() {
			return nil, 0
		}
		return nil, soonest.Sub(now)
	}
	pick := ready[0]
	if !m.cfg.StrictPriority && len(ready) > 1 {
		total := 0
		for _, p := range ready {
			total += m.cfg.Weight(p)
		}
		r := rand.N(total) //nolint:gosec // scheduling needs no cryptographic randomness
		for _, p := range ready {
			if r -= m.cfg.Weight(p); r < 0 {
				pick = p
				break
			}
		}
	}
	e := heap.Pop(m.heaps[pick]).(*entry)
	m.waiting--
	e.running = true
	m.busy[e.job.LinkID] = e
	if e.key != "" {
		if m.pending[e.key] == e {
			delete(m.pending, e.key)
		}
		m.active[e.key] = e
	}
	m.changed()
	return e, 0
}

// wait files a waiting entry: in its priority's heap, or blocked behind the
// active job of its key. m.mu is held.
func (m *Memory) wait(e *entry) {
	m.waiting++
	if a := m.active[e.key]; e.key != "" && a != nil && a != e {
		m.blocked[e.key] = append(m.blocked[e.key], e)
		return
	}
	m.push(e)
}

func (m *Memory) push(e *entry) {
	p := e.job.EffectivePriority()
	h, ok := m.heaps[p]
	if !ok {
		h = &jobHeap{}
		m.heaps[p] = h
		i, _ := slices.BinarySearch(m.prios, p)
		m.prios = slices.Insert(m.prios, i, p)
	}
	e.prio = p
	heap.Push(h, e)
}

// reposition restores the heap order after a merge changed e's run time or
// priority. m.mu is held.
func (m *Memory) reposition(e *entry) {
	if e.idx < 0 {
		return // blocked: filed by priority when released
	}
	if p := e.job.EffectivePriority(); p != e.prio {
		heap.Remove(m.heaps[e.prio], e.idx)
		m.push(e)
		return
	}
	heap.Fix(m.heaps[e.prio], e.idx)
}

// release ends e's hold on its key and lets the jobs blocked behind it wait
// in their heaps. m.mu is held.
func (m *Memory) release(e *entry) {
	if e.key == "" || m.active[e.key] != e {
		return
	}
	delete(m.active, e.key)
	for _, b := range m.blocked[e.key] {
		m.push(b)
	}
	delete(m.blocked, e.key)
}

// execute runs e with h and files the outcome.
func (m *Memory) execute(ctx context.Context, h ohx.Handler, e *entry) {
	runCtx, cancel := context.WithTimeout(WithRetry(ctx, m.cfg.Retry), m.cfg.Timeout)
	runCtx = WithCancelled(runCtx, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return e.cancel
	})
	m.mu.Lock()
	j := cloneJob(e.job)
	e.stop = cancel
	m.mu.Unlock()

	err := safeHandle(runCtx, h, j)
	cancel()

	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.changed()
	e.running, e.stop = false, nil
	m.releaseLink(e)
	now := m.cfg.Clock.Now()
	switch {
	case e.cancel:
		m.finish(e, StateCancelled, now)
	case err == nil:
		m.finish(e, StateDone, now)
	case ctx.Err() != nil:
		// Shut down before the job finished: hand it back untouched.
		e.runAt = now
		m.wait(e)
	case m.cfg.Retry.ShouldRetry(e.job.Attempt, err):
		e.lastErr = err.Error()
		e.runAt = now.Add(m.cfg.Retry.Delay(e.job.Attempt, err))
		e.job.Attempt++
		e.retrying = true
		m.wait(e)
		m.cfg.Logger.Info("queue: job failed, will retry",
			zap.String("job_id", e.job.ID), zap.Int("attempt", e.job.Attempt),
			zap.Stringer("kind", ohx.KindOf(err)), zap.Time("retry_at", e.runAt))
	default:
		e.lastErr = err.Error()
		m.finish(e, StateDead, now)
		m.cfg.Logger.Warn("queue: job failed for good",
			zap.String("job_id", e.job.ID), zap.Int("attempt", e.job.Attempt),
			zap.Stringer("kind", ohx.KindOf(err)))
	}
}

// releaseLink lets the jobs of e's link that waited for it go back to their
// heaps. m.mu is held.
func (m *Memory) releaseLink(e *entry) {
	link := e.job.LinkID
	if m.busy[link] != e {
		return
	}
	delete(m.busy, link)
	for _, w := range m.linkWait[link] {
		m.push(w)
	}
	delete(m.linkWait, link)
}

// Cancel implements Canceller.
func (m *Memory) Cancel(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.jobs[id]
	switch {
	case !ok:
		return fmt.Errorf("queue: job %q: %w", id, ohx.ErrNotFound)
	case e.state != "":
		return fmt.Errorf("queue: job %q: %w", id, ErrFinished)
	case e.running:
		e.cancel = true
		if e.stop != nil {
			e.stop()
		}
		return nil
	}
	// Waiting: in its heap, or blocked behind its key or its link.
	if e.idx >= 0 {
		heap.Remove(m.heaps[e.prio], e.idx)
	}
	drop := func(list []*entry) []*entry { return slices.DeleteFunc(list, func(x *entry) bool { return x == e }) }
	if e.key != "" {
		if m.blocked[e.key] = drop(m.blocked[e.key]); len(m.blocked[e.key]) == 0 {
			delete(m.blocked, e.key)
		}
		if m.pending[e.key] == e {
			delete(m.pending, e.key)
		}
	}
	if m.linkWait[e.job.LinkID] = drop(m.linkWait[e.job.LinkID]); len(m.linkWait[e.job.LinkID]) == 0 {
		delete(m.linkWait, e.job.LinkID)
	}
	m.waiting--
	m.finish(e, StateCancelled, m.cfg.Clock.Now())
	m.changed()
	return nil
}

// finish files e as done, dead or cancelled. m.mu is held.
func (m *Memory) finish(e *entry, st State, now time.Time) {
	e.state, e.finished, e.retrying = st, now, false
	m.release(e)
	if st == StateDead {
		m.dead = append(m.dead, e.job.ID)
		if len(m.dead) > m.cfg.MaxDeadLetters {
			delete(m.jobs, m.dead[0])
			m.dead = m.dead[1:]
		}
		return
	}
	m.done = append(m.done, e.job.ID)
	if len(m.done) > m.cfg.Retention {
		delete(m.jobs, m.done[0])
		m.done = m.done[1:]
	}
}

// safeHandle calls h, turning a panic into an error.
func safeHandle(ctx context.Context, h ohx.Handler, j ohx.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("queue: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h.HandleJob(ctx, j)
}

// changed wakes the dispatchers and reports the depth. m.mu is held.
func (m *Memory) changed() {
	m.cfg.Metrics.QueueDepth(m.cfg.Name, m.waiting)
	m.signal()
}

func (m *Memory) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Stats implements Inspector.
func (m *Memory) Stats(context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Clock.Now()
	var s Stats
	for _, e := range m.jobs {
		if st := m.stateOf(e, now); st != StateDone {
			s.Count(e.job.EffectivePriority(), st)
		}
	}
	return s, nil
}

// DeadLetters implements Inspector.
func (m *Memory) DeadLetters(context.Context) ([]JobInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Clock.Now()
	out := make([]JobInfo, 0, len(m.dead))
	for _, id := range m.dead {
		out = append(out, m.info(m.jobs[id], now))
	}
	return out, nil
}

// Replay implements Inspector: the dead letter becomes pending again, keeps its
// id and gets a fresh retry budget.
func (m *Memory) Replay(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.jobs[id]
	if !ok {
		return fmt.Errorf("queue: job %q: %w", id, ohx.ErrNotFound)
	}
	if e.state != StateDead {
		return fmt.Errorf("queue: job %q: %w", id, ErrNotDead)
	}
	m.dead = slices.DeleteFunc(m.dead, func(d string) bool { return d == id })
	e.state, e.finished, e.retrying = "", time.Time{}, false
	e.job.Attempt = 0
	e.runAt = m.cfg.Clock.Now()
	if e.key != "" && m.pending[e.key] == nil {
		m.pending[e.key] = e
	}
	m.wait(e)
	m.changed()
	return nil
}

// Job implements Inspector.
func (m *Memory) Job(_ context.Context, id string) (JobInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.jobs[id]
	if !ok {
		return JobInfo{}, fmt.Errorf("queue: job %q: %w", id, ohx.ErrNotFound)
	}
	return m.info(e, m.cfg.Clock.Now()), nil
}

// LinkJobs implements Inspector.
func (m *Memory) LinkJobs(_ context.Context, linkID string) ([]JobInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var es []*entry
	for _, e := range m.jobs {
		if e.job.LinkID == linkID {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(b.seq, a.seq) })
	now := m.cfg.Clock.Now()
	out := make([]JobInfo, 0, min(len(es), MaxLinkJobs))
	for _, e := range es[:min(len(es), MaxLinkJobs)] {
		out = append(out, m.info(e, now))
	}
	return out, nil
}

func (m *Memory) info(e *entry, now time.Time) JobInfo {
	st := m.stateOf(e, now)
	ji := JobInfo{Job: cloneJob(e.job), State: st, LastError: e.lastErr, FinishedAt: e.finished}
	switch st {
	case StatePending, StateScheduled, StateRetry:
		ji.NextRunAt = e.runAt
	}
	return ji
}

func (m *Memory) stateOf(e *entry, now time.Time) State {
	switch {
	case e.state != "":
		return e.state
	case e.running:
		return StateRunning
	case e.retrying:
		return StateRetry
	case e.runAt.After(now):
		return StateScheduled
	}
	return StatePending
}

// cloneJob returns a copy of j that shares no memory with it.
func cloneJob(j ohx.Job) ohx.Job {
	j.DataTypes = slices.Clone(j.DataTypes)
	if j.Window != nil {
		w := *j.Window
		j.Window = &w
	}
	return j
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
