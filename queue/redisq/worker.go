package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

var (
	// errBlocked: an equal job runs; the follow-up waits without using an
	// attempt.
	errBlocked = errors.New("redisq: waiting for an equal job to finish")
	// errHandedBack: the worker shut down before the job finished.
	errHandedBack = errors.New("redisq: handed back at shutdown")
)

// notFailure tells asynq which errors do not use up an attempt.
func notFailure(err error) bool {
	return errors.Is(err, errBlocked) || errors.Is(err, errHandedBack)
}

type worker struct {
	q        *Queue
	h        ohx.Handler
	stopping atomic.Bool
	inflight sync.WaitGroup
}

// Run implements ohx.Queue: it runs up to Concurrency jobs at once with h until
// ctx is done, then waits up to ShutdownTimeout for the jobs in flight; those
// still running are handed back to pending (their context is cancelled, no
// attempt is used) and Run returns nil once their handlers returned. While it
// runs, it also recovers the jobs of dead workers (see Config.Lease).
func (q *Queue) Run(ctx context.Context, h ohx.Handler) error {
	if h == nil {
		return errors.New("redisq: nil handler")
	}
	w := &worker{q: q, h: h}
	queues := map[string]int{}
	for i, p := range q.cfg.Priorities {
		if q.cfg.StrictPriority {
			queues[q.queueName(p)] = len(q.cfg.Priorities) - i // asynq: higher runs first
		} else {
			queues[q.queueName(p)] = q.weight(p)
		}
	}
	srv := asynq.NewServerFromRedisClient(q.rdb, asynq.Config{
		Concurrency:              q.cfg.Concurrency,
		Queues:                   queues,
		StrictPriority:           q.cfg.StrictPriority,
		RetryDelayFunc:           w.retryDelay,
		IsFailure:                func(err error) bool { return !notFailure(err) },
		ShutdownTimeout:          q.cfg.ShutdownTimeout,
		TaskCheckInterval:        q.cfg.PollInterval,
		DelayedTaskCheckInterval: q.cfg.PollInterval,
		Logger:                   asynqLogger{q.cfg.Logger.WithOptions(zap.AddCallerSkip(1)).Sugar()},
		LogLevel:                 asynq.WarnLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(w.process)); err != nil {
		return fmt.Errorf("redisq: start worker: %w", err)
	}
	var bg sync.WaitGroup
	bg.Go(func() { q.reapLoop(ctx) })
	bg.Go(func() { q.depthLoop(ctx) })
	<-ctx.Done()
	w.stopping.Store(true)
	srv.Shutdown()
	w.inflight.Wait()
	bg.Wait()
	return nil
}

func (q *Queue) weight(p ohx.Priority) int {
	if w, ok := q.cfg.Weights[p]; ok && w > 0 {
		return w
	}
	return 1
}

func (w *worker) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if notFailure(err) {
		return w.q.cfg.PollInterval
	}
	var p payload
	_ = json.Unmarshal(t.Payload(), &p)
	return w.q.cfg.Retry.Delay(p.Base+n, err)
}

// process is the asynq handler of every job task.
func (w *worker) process(ctx context.Context, t *asynq.Task) error {
	w.inflight.Add(1)
	defer w.inflight.Done()
	q := w.q
	var p payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		return fmt.Errorf("redisq: malformed task payload: %w", asynq.SkipRetry)
	}
	rec, proceed, err := q.begin(ctx, p.ID)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		q.cfg.Logger.Warn("redisq: task without job record, dropped", zap.String("job_id", p.ID))
		return nil
	case err != nil:
		return err
	case rec.Superseded != "":
		return nil // another id took over this job
	case rec.Cancelled:
		q.end(context.WithoutCancel(ctx), p.ID, rec)
		return nil
	case !proceed:
		return errBlocked
	}
	retried, _ := asynq.GetRetryCount(ctx)
	j := cloneJob(rec.Job)
	j.ID, j.Attempt = p.ID, p.Base+retried
	bctx := context.WithoutCancel(ctx)
	if j.Attempt >= q.cfg.Retry.Attempts() {
		q.end(bctx, p.ID, rec)
		return fmt.Errorf("redisq: the job's workers died %d times: %w", j.Attempt, asynq.SkipRetry)
	}

	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	hbCtx, stopHB := context.WithCancel(bctx)
	var hb sync.WaitGroup
	hb.Go(func() { q.heartbeat(hbCtx, p.ID, stopJob) })
	hctx := queue.WithCancelled(queue.WithRetry(jobCtx, q.cfg.Retry), func() bool { return q.cancelled(bctx, p.ID) })
	err = safeHandle(hctx, w.h, j)
	stopHB()
	hb.Wait()

	if err != nil && jobCtx.Err() != nil && q.cancelled(bctx, p.ID) {
		q.end(bctx, p.ID, rec)
		q.cfg.Logger.Info("redisq: job cancelled", zap.String("job_id", p.ID))
		return nil
	}
	switch {
	case err == nil:
		q.end(bctx, p.ID, rec)
		return nil
	case w.stopping.Load() && ctx.Err() != nil:
		q.rdb.ZRem(bctx, q.hbKey(), p.ID)
		q.releaseLink(bctx, p.ID, rec.Job.LinkID)
		return fmt.Errorf("%w: %w", errHandedBack, err)
	case q.cfg.Retry.ShouldRetry(j.Attempt, err):
		q.rdb.ZRem(bctx, q.hbKey(), p.ID)
		q.releaseLink(bctx, p.ID, rec.Job.LinkID)
		q.cfg.Logger.Info("redisq: job failed, will retry", zap.String("job_id", p.ID),
			zap.Int("attempt", j.Attempt), zap.Stringer("kind", ohx.KindOf(err)))
		return err
	default:
		q.end(bctx, p.ID, rec)
		q.cfg.Logger.Warn("redisq: job failed for good", zap.String("job_id", p.ID),
			zap.Int("attempt", j.Attempt), zap.Stringer("kind", ohx.KindOf(err)))
		return fmt.Errorf("%w%s%w", err, skipSep, asynq.SkipRetry)
	}
}

// skipSep separates a job's error from asynq's SkipRetry marker in the
// stored message; Inspector strips what follows it.
const skipSep = " · "

// begin claims job id for a run: it reads the record and, for a coalescing
// job, makes it the key's active job unless another live job of the key is
// active (proceed false). It also starts the job's lease.
func (q *Queue) begin(ctx context.Context, id string) (rec record, proceed bool, err error) {
	for range 50 {
		proceed = false
		err = q.rdb.Watch(ctx, func(tx *redis.Tx) error {
			var err error
			if rec, err = q.load(ctx, tx, id); err != nil || rec.Superseded != "" || rec.Cancelled {
				return err
			}
			// One job of a link runs at a time, across every worker.
			lk := q.linkLockKey(rec.Job.LinkID)
			if err := tx.Watch(ctx, lk).Err(); err != nil {
				return err
			}
			holder, err := tx.Get(ctx, lk).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if holder != "" && holder != id {
				alive, err := q.alive(ctx, holder)
				if err != nil || alive {
					return err
				}
			}
			var ck, pending string
			if rec.Key != "" {
				ck = q.coKey(rec.Key)
				if err := tx.Watch(ctx, ck).Err(); err != nil {
					return err
				}
				co, err := tx.HGetAll(ctx, ck).Result()
				if err != nil {
					return err
				}
				if a := co["active"]; a != "" && a != id {
					alive, err := q.alive(ctx, a)
					if err != nil || alive {
						return err
					}
					q.cfg.Logger.Info("redisq: taking over a stale coalesce key", zap.String("job_id", id))
				}
				pending = co["pending"]
			}
			_, err = tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
				if ck != "" {
					pl.HSet(ctx, ck, "active", id)
					if pending == id {
						pl.HDel(ctx, ck, "pending")
					}
					pl.Expire(ctx, ck, recordTTL)
				}
				pl.ZAdd(ctx, q.hbKey(), redis.Z{Score: q.leaseEnd(), Member: id})
				pl.Set(ctx, lk, id, recordTTL)
				return nil
			})
			proceed = err == nil
			return err
		}, q.jobKey(id))
		if !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil && !errors.Is(err, ohx.ErrNotFound) {
		err = fmt.Errorf("redisq: begin job: %w", err)
	}
	return rec, proceed, err
}

// alive reports whether job id still holds its coalesce key: its record
// exists, no other id took over, and its task has not finished.
func (q *Queue) alive(ctx context.Context, id string) (bool, error) {
	rec, err := q.load(ctx, q.rdb, id)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case rec.Superseded != "":
		return false, nil
	}
	return q.taskLive(rec)
}

// end releases the coalesce key and the lease of a job that finished (done or
// dead), and lets its record expire with the retention.
func (q *Queue) end(ctx context.Context, id string, rec record) {
	q.releaseLink(ctx, id, rec.Job.LinkID)
	var ck string
	if rec.Key != "" {
		ck = q.coKey(rec.Key)
	}
	for range 50 {
		err := q.rdb.Watch(ctx, func(tx *redis.Tx) error {
			var active string
			if ck != "" {
				a, err := tx.HGet(ctx, ck, "active").Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				active = a
			}
			_, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
				if ck != "" && active == id {
					pl.HDel(ctx, ck, "active")
				}
				pl.ZRem(ctx, q.hbKey(), id)
				pl.Expire(ctx, q.jobKey(id), q.cfg.Retention)
				return nil
			})
			return err
		}, keys(ck)...)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil {
				q.cfg.Logger.Warn("redisq: could not release a finished job", zap.String("job_id", id), zap.Error(err))
			}
			return
		}
	}
}

func keys(ks ...string) []string {
	var out []string
	for _, k := range ks {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

func (q *Queue) leaseEnd() float64 {
	return float64(time.Now().Add(q.cfg.Lease).UnixMilli())
}

// heartbeat extends the lease of a running job until ctx ends. XX: a job
// another worker took over stays taken over.
// It also stops the job (stop) when its record says it was cancelled, in
// case the cancellation message of asynq did not reach this worker.
func (q *Queue) heartbeat(ctx context.Context, id string, stop context.CancelFunc) {
	t := time.NewTicker(q.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.rdb.ZAddXX(ctx, q.hbKey(), redis.Z{Score: q.leaseEnd(), Member: id})
			if q.cancelled(ctx, id) {
				stop()
			}
		}
	}
}

// reapLoop recovers the jobs whose lease expired, until ctx ends.
func (q *Queue) reapLoop(ctx context.Context) {
	t := time.NewTicker(q.cfg.Lease / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.reap(ctx)
		}
	}
}

func (q *Queue) reap(ctx context.Context) {
	ids, err := q.rdb.ZRangeByScore(ctx, q.hbKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(time.Now().UnixMilli(), 10), Count: 100,
	}).Result()
	if err != nil {
		if ctx.Err() == nil {
			q.cfg.Logger.Warn("redisq: could not list expired leases", zap.Error(err))
		}
		return
	}
	for _, id := range ids {
		if err := q.recoverOrphan(ctx, id); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("redisq: could not recover an orphaned job", zap.String("job_id", id), zap.Error(err))
		}
	}
}

// recoverOrphan hands the job of a dead worker to a new id that runs at once
// (counting the lost run as an attempt). asynq would recover the task itself,
// but only a minute or two later; when it does, the old id finds itself
// superseded and does nothing.
func (q *Queue) recoverOrphan(ctx context.Context, id string) error {
	var submit *record
	err := q.rdb.Watch(ctx, func(tx *redis.Tx) error {
		score, err := tx.ZScore(ctx, q.hbKey(), id).Result()
		if errors.Is(err, redis.Nil) || (err == nil && score > float64(time.Now().UnixMilli())) {
			return nil // released or extended meanwhile
		}
		if err != nil {
			return err
		}
		forget := func() error {
			_, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error { pl.ZRem(ctx, q.hbKey(), id); return nil })
			return err
		}
		rec, err := q.load(ctx, tx, id)
		switch {
		case errors.Is(err, ohx.ErrNotFound):
			return forget()
		case err != nil:
			return err
		case rec.Superseded != "":
			return forget()
		}
		info, err := q.ins.GetTaskInfo(rec.Queue, id)
		if err != nil || info.State != asynq.TaskStateActive {
			return forget() // finished, or handed back and pending again
		}
		var ck, active string
		if rec.Key != "" {
			ck = q.coKey(rec.Key)
			if err := tx.Watch(ctx, ck).Err(); err != nil {
				return err
			}
			if active, err = tx.HGet(ctx, ck, "active").Result(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		next := rec
		next.Job = cloneJob(rec.Job)
		next.Job.ID = uuid.NewString()
		next.Base = rec.Base + info.Retried + 1
		next.RunAt = time.Now()
		old := rec
		old.Superseded = next.Job.ID
		if _, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			pl.ZRem(ctx, q.hbKey(), id)
			pl.Set(ctx, q.jobKey(next.Job.ID), encode(next), recordTTL)
			q.index(ctx, pl, next.Job)
			pl.Set(ctx, q.jobKey(id), encode(old), q.cfg.Retention)
			if ck != "" && active == id {
				pl.HSet(ctx, ck, "active", next.Job.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		submit = &next
		return nil
	}, q.hbKey(), q.jobKey(id))
	if err != nil || submit == nil {
		return err
	}
	q.cfg.Logger.Warn("redisq: recovered a job whose worker stopped heartbeating",
		zap.String("job_id", id), zap.String("new_job_id", submit.Job.ID))
	return q.submit(context.WithoutCancel(ctx), *submit)
}

// depthLoop reports the queue depth every ten poll intervals.
func (q *Queue) depthLoop(ctx context.Context) {
	t := time.NewTicker(10 * q.cfg.PollInterval)
	defer t.Stop()
	for {
		_, _ = q.Stats(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// safeHandle calls h, turning a panic into an error.
func safeHandle(ctx context.Context, h ohx.Handler, j ohx.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("redisq: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h.HandleJob(ctx, j)
}

// asynqLogger adapts zap to asynq's logger. Fatal does not exit: a library
// must not end its host process.
type asynqLogger struct{ s *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.s.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.s.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.s.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.s.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.s.Error(args...) }
