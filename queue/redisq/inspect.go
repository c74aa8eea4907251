package redisq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// Stats implements queue.Inspector: one entry per configured priority, from
// asynq's queue counters. A follow-up waiting for an equal running job counts
// as retrying. It also reports the depth of each asynq queue to Metrics.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	if err := ctx.Err(); err != nil {
		return queue.Stats{}, err
	}
	known, err := q.ins.Queues()
	if err != nil {
		return queue.Stats{}, fmt.Errorf("redisq: list queues: %w", err)
	}
	var s queue.Stats
	for _, p := range q.cfg.Priorities {
		name := q.queueName(p)
		ps := queue.PriorityStats{Priority: p}
		if slices.Contains(known, name) {
			info, err := q.ins.GetQueueInfo(name)
			if err != nil {
				return queue.Stats{}, fmt.Errorf("redisq: queue info: %w", err)
			}
			ps.Pending, ps.Scheduled, ps.Running = info.Pending, info.Scheduled, info.Active
			ps.Retry, ps.Dead = info.Retry, info.Archived
		}
		q.cfg.Metrics.QueueDepth(name, ps.Depth())
		s.Priorities = append(s.Priorities, ps)
	}
	return s, nil
}

// DeadLetters implements queue.Inspector: asynq's archived tasks.
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.JobInfo, error) {
	var out []queue.JobInfo
	const size = 500
	for _, name := range q.queueNames() {
		for page := 1; ; page++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tasks, err := q.ins.ListArchivedTasks(name, asynq.PageSize(size), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("redisq: list dead letters: %w", err)
			}
			for _, t := range tasks {
				rec, err := q.load(ctx, q.rdb, t.ID)
				if errors.Is(err, ohx.ErrNotFound) {
					rec = record{Job: ohx.Job{ID: t.ID}, Queue: name}
				} else if err != nil {
					return nil, err
				}
				out = append(out, q.info(rec, t))
			}
			if len(tasks) < size {
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b queue.JobInfo) int { return a.FinishedAt.Compare(b.FinishedAt) })
	return out, nil
}

// Replay implements queue.Inspector: the archived task is re-created under the
// same id with a fresh retry budget.
func (q *Queue) Replay(ctx context.Context, id string) error {
	rec, err := q.load(ctx, q.rdb, id)
	if err != nil {
		return err
	}
	info, err := q.ins.GetTaskInfo(rec.Queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return fmt.Errorf("redisq: job %q: %w", id, ohx.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("redisq: task info: %w", err)
	}
	if info.State != asynq.TaskStateArchived {
		return fmt.Errorf("redisq: job %q: %w", id, queue.ErrNotDead)
	}
	if err := q.ins.DeleteTask(rec.Queue, id); err != nil {
		return fmt.Errorf("redisq: replay: %w", err)
	}
	rec.Base, rec.RunAt, rec.Superseded = 0, time.Now(), ""
	rec.Job.Attempt = 0
	if err := q.rdb.Set(ctx, q.jobKey(id), encode(rec), recordTTL).Err(); err != nil {
		return fmt.Errorf("redisq: replay: %w", err)
	}
	if rec.Key != "" {
		// Let equal jobs merge into the replayed one if none is pending.
		q.rdb.HSetNX(ctx, q.coKey(rec.Key), "pending", id)
	}
	return q.submit(context.WithoutCancel(ctx), rec)
}

// Job implements queue.Inspector. For an id another job took over from (a
// merge that changed priority or time, or a recovered orphan), it reports
// the job that took over.
func (q *Queue) Job(ctx context.Context, id string) (queue.JobInfo, error) {
	var rec record
	for range 16 {
		var err error
		if rec, err = q.load(ctx, q.rdb, id); err != nil {
			return queue.JobInfo{}, err
		}
		if rec.Superseded == "" {
			break
		}
		id = rec.Superseded
	}
	if rec.Queue == "" { // an id reserved by an enqueue that merged elsewhere
		return queue.JobInfo{}, fmt.Errorf("redisq: job %q: %w", id, ohx.ErrNotFound)
	}
	return q.recordInfo(rec, id)
}

// recordInfo combines the record of job id with its asynq task.
func (q *Queue) recordInfo(rec record, id string) (queue.JobInfo, error) {
	if rec.Cancelled {
		return queue.JobInfo{Job: cloneJob(rec.Job), State: queue.StateCancelled}, nil
	}
	info, err := q.ins.GetTaskInfo(rec.Queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		// Recorded, task about to be created.
		return queue.JobInfo{Job: cloneJob(rec.Job), State: stateAt(rec.RunAt), NextRunAt: rec.RunAt}, nil
	case err != nil:
		return queue.JobInfo{}, fmt.Errorf("redisq: task info: %w", err)
	}
	return q.info(rec, info), nil
}

// LinkJobs implements queue.Inspector from the link's index of job ids:
// ids whose record expired are dropped from it, and ids another job took
// over from are left out (the job that took over is listed).
func (q *Queue) LinkJobs(ctx context.Context, linkID string) ([]queue.JobInfo, error) {
	k := q.linkIndexKey(linkID)
	ids, err := q.rdb.ZRevRange(ctx, k, 0, 2*queue.MaxLinkJobs-1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: link jobs: %w", err)
	}
	out := []queue.JobInfo{}
	var gone []any
	for _, id := range ids {
		if len(out) >= queue.MaxLinkJobs {
			break
		}
		rec, err := q.load(ctx, q.rdb, id)
		switch {
		case errors.Is(err, ohx.ErrNotFound):
			gone = append(gone, id)
			continue
		case err != nil:
			return nil, err
		case rec.Superseded != "" || rec.Queue == "" || rec.Job.LinkID != linkID:
			continue
		}
		ji, err := q.recordInfo(rec, id)
		if err != nil {
			return nil, err
		}
		out = append(out, ji)
	}
	if len(gone) > 0 {
		q.rdb.ZRem(ctx, k, gone...)
	}
	return out, nil
}

func stateAt(t time.Time) queue.State {
	if t.After(time.Now()) {
		return queue.StateScheduled
	}
	return queue.StatePending
}

func (q *Queue) info(rec record, t *asynq.TaskInfo) queue.JobInfo {
	ji := queue.JobInfo{Job: cloneJob(rec.Job), LastError: t.LastErr}
	ji.Job.ID = t.ID
	ji.Job.Attempt = rec.Base + t.Retried
	if i := strings.LastIndex(ji.LastError, skipSep); i >= 0 {
		ji.LastError = ji.LastError[:i]
	}
	switch t.State {
	case asynq.TaskStateActive:
		ji.State = queue.StateRunning
	case asynq.TaskStateScheduled:
		ji.State, ji.NextRunAt = queue.StateScheduled, t.NextProcessAt
	case asynq.TaskStateRetry:
		ji.State, ji.NextRunAt = queue.StateRetry, t.NextProcessAt
		if strings.Contains(t.LastErr, errBlocked.Error()) || strings.Contains(t.LastErr, errHandedBack.Error()) {
			ji.State, ji.LastError = queue.StateScheduled, ""
		}
	case asynq.TaskStateArchived:
		ji.State, ji.FinishedAt = queue.StateDead, t.LastFailedAt
	case asynq.TaskStateCompleted:
		ji.State, ji.FinishedAt = queue.StateDone, t.CompletedAt
	default: // pending, aggregating
		ji.State, ji.NextRunAt = queue.StatePending, t.NextProcessAt
	}
	return ji
}
