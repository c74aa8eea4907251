package redisq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// taskType is the asynq type of every ohx job task.
const taskType = "ohx:job"

// Config tunes a Queue. Its zero value is ready to use.
type Config struct {
	// Namespace prefixes the queue's Redis keys and asynq queue names, so
	// several ohx deployments (or tests) can share a Redis database; empty
	// means "ohx".
	Namespace string
	// Priorities are the job priorities that get an asynq queue each
	// ("<namespace>:p<priority>"); nil means 1, 3 and 5 (webhook,
	// incremental, reconciliation). A job of another priority goes to the
	// first listed priority at or after it, else to the last.
	Priorities []ohx.Priority
	// Concurrency is the number of jobs one Run executes at once; zero
	// means 4.
	Concurrency int
	// StrictPriority makes a lower priority number always run first; when
	// false, queues are picked at random in proportion to Weights.
	StrictPriority bool
	// Weights gives, per priority, its weight when StrictPriority is false.
	// A priority missing from the map weighs 1; nil means
	// queue.DefaultWeights().
	Weights map[ohx.Priority]int
	// Retry is the retry policy.
	Retry queue.Retry
	// Debounce is the least delay of a follow-up (see package queue); zero
	// means 10 s, negative none. Redis-side times have a resolution of one
	// second.
	Debounce time.Duration
	// Timeout bounds one run of a job; zero means 30 min.
	Timeout time.Duration
	// ShutdownTimeout is how long Run waits for in-flight jobs once its
	// context is done before handing them back; zero means 10 s.
	ShutdownTimeout time.Duration
	// Lease is how long a running job stays claimed without a heartbeat
	// from its worker (heartbeats come every Lease/3). A job whose worker
	// died (killed, partitioned) runs again on another worker within about
	// 1.5 × Lease. Zero means 30 s.
	Lease time.Duration
	// PollInterval is how often idle workers look for ready jobs and how
	// often scheduled and retrying jobs are moved to ready; zero means 1 s.
	PollInterval time.Duration
	// Retention is how long finished jobs stay visible to Job; zero means
	// 24 h.
	Retention time.Duration
	// Logger receives job failures (ids and error kinds only); nil means no
	// logging.
	Logger *zap.Logger
	// Metrics receives the queue depth per asynq queue; nil means none.
	Metrics ohx.Metrics
}

func (c Config) resolved() Config {
	if c.Namespace == "" {
		c.Namespace = "ohx"
	}
	if c.Priorities == nil {
		c.Priorities = []ohx.Priority{ohx.PriorityWebhook, ohx.PriorityIncremental, ohx.PriorityReconciliation}
	}
	c.Priorities = slices.Clone(c.Priorities)
	slices.Sort(c.Priorities)
	c.Priorities = slices.Compact(c.Priorities)
	// Reuse the memory queue's defaults for the shared fields.
	m := queue.Config{
		Concurrency: c.Concurrency, Weights: c.Weights, Debounce: c.Debounce, Timeout: c.Timeout,
		ShutdownTimeout: c.ShutdownTimeout, Logger: c.Logger, Metrics: c.Metrics,
	}.Resolved()
	c.Concurrency, c.Weights, c.Debounce, c.Timeout = m.Concurrency, m.Weights, m.Debounce, m.Timeout
	c.ShutdownTimeout, c.Logger, c.Metrics = m.ShutdownTimeout, m.Logger, m.Metrics
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	return c
}

// Queue is an ohx.Queue on Redis, built on asynq: jobs survive restarts and
// are shared by every process that uses the same Redis and Namespace. See
// the package documentation for how coalescing and orphan recovery work.
type Queue struct {
	cfg    Config
	rdb    redis.UniversalClient
	client *asynq.Client
	ins    *asynq.Inspector
}

var (
	_ ohx.Queue           = (*Queue)(nil)
	_ queue.Inspector     = (*Queue)(nil)
	_ queue.BatchEnqueuer = (*Queue)(nil)
)

// New returns a Queue on rdb. The caller keeps ownership of rdb and closes it
// after the Queue is no longer used.
func New(rdb redis.UniversalClient, cfg Config) (*Queue, error) {
	if rdb == nil {
		return nil, errors.New("redisq: nil redis client")
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("redisq: negative concurrency %d", cfg.Concurrency)
	}
	for p, w := range cfg.Weights {
		if w < 0 {
			return nil, fmt.Errorf("redisq: negative weight %d for priority %d", w, p)
		}
	}
	for _, p := range cfg.Priorities {
		if p <= 0 {
			return nil, fmt.Errorf("redisq: priority %d is not positive", p)
		}
	}
	if cfg.Priorities != nil && len(cfg.Priorities) == 0 {
		return nil, errors.New("redisq: no priorities")
	}
	return &Queue{
		cfg:    cfg.resolved(),
		rdb:    rdb,
		client: asynq.NewClientFromRedisClient(rdb),
		ins:    asynq.NewInspectorFromRedisClient(rdb),
	}, nil
}

// record is what the queue keeps per job id besides asynq's task: the job as
// it will run (merges widen it here), its coalesce key, its asynq queue and
// run time, the attempts used by earlier incarnations, and a forward pointer
// when another id took over.
type record struct {
	Job        ohx.Job   `json:"job"`
	Key        string    `json:"key,omitempty"`
	Queue      string    `json:"queue"`
	RunAt      time.Time `json:"run_at"`
	Base       int       `json:"base,omitempty"`
	Superseded string    `json:"superseded,omitempty"`
	// Cancelled: Cancel was called (cancel.go); the job does not run again.
	Cancelled bool `json:"cancelled,omitempty"`
}

// payload is the asynq task payload: the job id and the attempts used by
// earlier incarnations (which never changes for an id).
type payload struct {
	ID   string `json:"id"`
	Base int    `json:"base,omitempty"`
}

// recordTTL bounds how long the record of an unfinished job lives.
const recordTTL = 30 * 24 * time.Hour

func (q *Queue) jobKey(id string) string { return q.cfg.Namespace + ":job:" + id }

func (q *Queue) coKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return q.cfg.Namespace + ":co:" + hex.EncodeToString(sum[:12])
}

func (q *Queue) hbKey() string { return q.cfg.Namespace + ":hb" }

// linkIndexKey is the sorted set of a link's job ids, scored by creation time in
// microseconds (for LinkJobs).
func (q *Queue) linkIndexKey(linkID string) string {
	sum := sha256.Sum256([]byte(linkID))
	return q.cfg.Namespace + ":lj:" + hex.EncodeToString(sum[:12])
}

// maxIndexed bounds the ids a link's index keeps (the newest).
const maxIndexed = 1000

// index adds a new job id to its link's index, in the pipeline that writes
// its record.
func (q *Queue) index(ctx context.Context, pl redis.Pipeliner, j ohx.Job) {
	k := q.linkIndexKey(j.LinkID)
	pl.ZAdd(ctx, k, redis.Z{Score: float64(time.Now().UnixMicro()), Member: j.ID})
	pl.ZRemRangeByRank(ctx, k, 0, -maxIndexed-1)
	pl.Expire(ctx, k, recordTTL)
}

// queueName returns the asynq queue of priority p.
func (q *Queue) queueName(p ohx.Priority) string {
	i, _ := slices.BinarySearch(q.cfg.Priorities, p)
	if i == len(q.cfg.Priorities) {
		i--
	}
	return fmt.Sprintf("%s:p%d", q.cfg.Namespace, q.cfg.Priorities[i])
}

func (q *Queue) queueNames() []string {
	names := make([]string, len(q.cfg.Priorities))
	for i, p := range q.cfg.Priorities {
		names[i] = q.queueName(p)
	}
	return names
}

// load reads the record of id with c (a client or a transaction).
func (q *Queue) load(ctx context.Context, c redis.Cmdable, id string) (record, error) {
	b, err := c.Get(ctx, q.jobKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return record{}, fmt.Errorf("redisq: job %q: %w", id, ohx.ErrNotFound)
	}
	if err != nil {
		return record{}, fmt.Errorf("redisq: read job: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("redisq: decode job %q: %w", id, err)
	}
	return r, nil
}

func encode(r record) []byte {
	b, _ := json.Marshal(r) // a record always marshals
	return b
}

// submit creates the asynq task of rec unless it exists (ids never change
// queue, so this is idempotent).
func (q *Queue) submit(ctx context.Context, rec record) error {
	b, _ := json.Marshal(payload{ID: rec.Job.ID, Base: rec.Base})
	// The worker decides when a job is dead (asynq.SkipRetry); asynq's own
	// budget must never run out first, or it would archive a job that is
	// only waiting for an equal one.
	_, err := q.client.EnqueueContext(ctx, asynq.NewTask(taskType, b),
		asynq.TaskID(rec.Job.ID), asynq.Queue(rec.Queue), asynq.MaxRetry(math.MaxInt32),
		asynq.ProcessAt(rec.RunAt), asynq.Timeout(q.cfg.Timeout), asynq.Retention(q.cfg.Retention))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redisq: enqueue task: %w", err)
	}
	return nil
}

// taskLive reports whether the asynq task of rec exists and has not
// finished.
func (q *Queue) taskLive(rec record) (bool, error) {
	info, err := q.ins.GetTaskInfo(rec.Queue, rec.Job.ID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisq: task info: %w", err)
	}
	return info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted, nil
}

// Enqueue implements ohx.Queue with the coalescing of package queue. When a
// merge raises a pending job's priority or pulls its run time forward by
// more than a second, a new job (new id, right asynq queue and time) takes
// over from the pending one; Job on the old id then reports the new one.
func (q *Queue) Enqueue(ctx context.Context, j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	if opts.Delay < 0 {
		return "", fmt.Errorf("redisq: negative delay %s", opts.Delay)
	}
	j = cloneJob(j)
	j.Attempt = 0
	if j.EnqueuedAt.IsZero() {
		j.EnqueuedAt = time.Now().UTC()
	}
	if err := q.claimID(ctx, &j); err != nil {
		return "", err
	}
	if opts.NoCoalesce {
		return q.enqueueAlone(ctx, j, opts.Delay)
	}
	return q.enqueueCoalesced(ctx, j, opts.Delay)
}

// enqueueCoalesced enqueues a checked job (a copy the queue owns) with
// coalescing, in WATCH/MULTI transactions retried while other enqueues or
// workers change its key.
func (q *Queue) enqueueCoalesced(ctx context.Context, j ohx.Job, delay time.Duration) (string, error) {
	for range 100 {
		id, err := q.tryEnqueue(ctx, j, delay)
		if errors.Is(err, redis.TxFailedErr) {
			continue // another enqueue or a worker changed the key: look again
		}
		return id, err
	}
	return "", errors.New("redisq: enqueue: too much contention on one coalesce key")
}

// claimID checks that a caller-chosen id is free and reserves it for a
// minute; a job without id keeps none (each attempt picks a fresh one).
func (q *Queue) claimID(ctx context.Context, j *ohx.Job) error {
	if j.ID == "" {
		return nil
	}
	ok, err := q.rdb.SetNX(ctx, q.jobKey(j.ID), "{}", time.Minute).Result()
	if err != nil {
		return fmt.Errorf("redisq: claim id: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: %q", queue.ErrDuplicateID, j.ID)
	}
	return nil
}

func (q *Queue) enqueueAlone(ctx context.Context, j ohx.Job, delay time.Duration) (string, error) {
	if j.ID == "" {
		j.ID = uuid.NewString()
	}
	rec := record{Job: j, Queue: q.queueName(j.EffectivePriority()), RunAt: time.Now().Add(delay)}
	if _, err := q.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, q.jobKey(j.ID), encode(rec), recordTTL)
		q.index(ctx, pl, j)
		return nil
	}); err != nil {
		return "", fmt.Errorf("redisq: write job: %w", err)
	}
	if err := q.submit(ctx, rec); err != nil {
		q.rdb.Del(context.WithoutCancel(ctx), q.jobKey(j.ID))
		return "", err
	}
	q.cfg.Logger.Debug("redisq: enqueued", zap.String("job_id", j.ID), zap.String("queue", rec.Queue))
	return j.ID, nil
}

func (q *Queue) tryEnqueue(ctx context.Context, j ohx.Job, delay time.Duration) (string, error) {
	key := j.CoalesceKey()
	ck := q.coKey(key)
	var (
		id     string
		submit *record // task to create after the transaction committed
		drop   *record // superseded task to delete after it
	)
	err := q.rdb.Watch(ctx, func(tx *redis.Tx) error {
		co, err := tx.HGetAll(ctx, ck).Result()
		if err != nil {
			return err
		}
		now := time.Now()
		runAt := now.Add(delay)
		if co["active"] != "" {
			runAt = later(runAt, now.Add(q.cfg.Debounce))
		}
		if p := co["pending"]; p != "" {
			if err := tx.Watch(ctx, q.jobKey(p)).Err(); err != nil {
				return err
			}
			rec, err := q.load(ctx, tx, p)
			switch {
			case errors.Is(err, ohx.ErrNotFound):
				// The pending job is gone (expired): start afresh below.
			case err != nil:
				return err
			case rec.Cancelled:
				// Cancelled, its pending field not cleared yet (Cancel):
				// it takes no more work; start afresh below.
			case rec.Superseded == "":
				merged := rec
				merged.Job = cloneJob(rec.Job)
				merged.Job.Merge(j)
				mq := q.queueName(merged.Job.EffectivePriority())
				if mq == rec.Queue && !runAt.Before(rec.RunAt.Add(-time.Second)) {
					live, err := q.taskLive(rec)
					if err != nil {
						return err
					}
					if _, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
						pl.Set(ctx, q.jobKey(p), encode(merged), recordTTL)
						return nil
					}); err != nil {
						return err
					}
					if !live {
						submit = &merged // repair a task lost after its record was written
					}
					id = p
					return nil
				}
				// Take over with a new id in the right queue and time.
				nid := uuid.NewString()
				next := merged
				next.Job.ID, next.Queue, next.RunAt = nid, mq, earlier(rec.RunAt, runAt)
				old := rec
				old.Superseded = nid
				if _, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
					pl.Set(ctx, q.jobKey(nid), encode(next), recordTTL)
					q.index(ctx, pl, next.Job)
					pl.Set(ctx, q.jobKey(p), encode(old), q.cfg.Retention)
					pl.HSet(ctx, ck, "pending", nid)
					pl.Expire(ctx, ck, recordTTL)
					return nil
				}); err != nil {
					return err
				}
				submit, drop, id = &next, &rec, nid
				return nil
			}
		}
		nj := j
		if nj.ID == "" {
			nj.ID = uuid.NewString()
		}
		rec := record{Job: nj, Key: key, Queue: q.queueName(nj.EffectivePriority()), RunAt: runAt}
		if _, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			pl.Set(ctx, q.jobKey(nj.ID), encode(rec), recordTTL)
			q.index(ctx, pl, nj)
			pl.HSet(ctx, ck, "pending", nj.ID)
			pl.Expire(ctx, ck, recordTTL)
			return nil
		}); err != nil {
			return err
		}
		submit, id = &rec, nj.ID
		return nil
	}, ck)
	if err != nil {
		if errors.Is(err, redis.TxFailedErr) || errors.Is(err, queue.ErrDuplicateID) {
			return "", err
		}
		return "", fmt.Errorf("redisq: enqueue: %w", err)
	}
	if drop != nil {
		// Best effort: a superseded task that still runs does nothing.
		_ = q.ins.DeleteTask(drop.Queue, drop.Job.ID)
	}
	if submit != nil {
		if err := q.submit(ctx, *submit); err != nil {
			// The record stays pending; the next equal enqueue re-creates
			// the task. Report the failure so the caller may retry.
			return "", err
		}
	}
	return id, nil
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

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
