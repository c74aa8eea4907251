package redisq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

var _ queue.Canceller = (*Queue)(nil)

// linkLockKey is the key naming the job that runs for a link: one at a time.
func (q *Queue) linkLockKey(linkID string) string {
	sum := sha256.Sum256([]byte(linkID))
	return q.cfg.Namespace + ":lk:" + hex.EncodeToString(sum[:12])
}

// releaseScript deletes a key only while it still names the releasing job.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// releaseLink frees the link for its other jobs, if job id holds it.
func (q *Queue) releaseLink(ctx context.Context, id, linkID string) {
	if err := releaseScript.Run(ctx, q.rdb, []string{q.linkLockKey(linkID)}, id).Err(); err != nil && ctx.Err() == nil {
		q.cfg.Logger.Warn("redisq: could not release a link; it frees when its job is found finished")
	}
}

// cancelled reports whether job id's record says it was cancelled.
func (q *Queue) cancelled(ctx context.Context, id string) bool {
	rec, err := q.load(ctx, q.rdb, id)
	return err == nil && rec.Cancelled
}

// Cancel implements queue.Canceller. A waiting job's task is deleted; a
// running job is stopped through asynq's cancellation (and, should that
// message be lost, by its worker's next heartbeat). For an id another job
// took over from, it cancels the job that took over.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	var rec record
	for range 16 {
		var err error
		if rec, err = q.load(ctx, q.rdb, id); err != nil {
			return err
		}
		if rec.Superseded == "" {
			break
		}
		id = rec.Superseded
	}
	if rec.Queue == "" {
		return fmt.Errorf("redisq: job %q: %w", id, ohx.ErrNotFound)
	}
	if rec.Cancelled {
		return fmt.Errorf("redisq: job %q: %w", id, queue.ErrFinished)
	}
	info, err := q.ins.GetTaskInfo(rec.Queue, id)
	state := asynq.TaskStatePending
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
	case err != nil:
		return fmt.Errorf("redisq: task info: %w", err)
	default:
		state = info.State
	}
	if state == asynq.TaskStateCompleted || state == asynq.TaskStateArchived {
		return fmt.Errorf("redisq: job %q: %w", id, queue.ErrFinished)
	}
	rec.Cancelled = true
	if err := q.rdb.Set(ctx, q.jobKey(id), encode(rec), q.cfg.Retention).Err(); err != nil {
		return fmt.Errorf("redisq: cancel: %w", err)
	}
	if state == asynq.TaskStateActive {
		// The worker ends the job and releases its keys.
		if err := q.ins.CancelProcessing(id); err != nil {
			q.cfg.Logger.Info("redisq: cancellation message not sent; the job's heartbeat stops it")
		}
		return nil
	}
	if err := q.ins.DeleteTask(rec.Queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		// The task may have started meanwhile: its worker finds the flag.
		q.cfg.Logger.Info("redisq: cancelled task not deleted; its worker drops it")
	}
	if rec.Key != "" {
		// Best effort: an enqueue that still finds the cancelled job
		// pending starts a new one instead (tryEnqueue, mergeRound).
		_ = unnameScript.Run(ctx, q.rdb, []string{q.coKey(rec.Key)}, id).Err()
	}
	return nil
}

// unnameScript clears the fields "pending" and "active" of a coalesce hash
// (KEYS[1]) that still name job ARGV[1], in one step: an enqueue that named
// a new pending job meanwhile keeps it.
var unnameScript = redis.NewScript(`
for _, f in ipairs({'pending', 'active'}) do
	if redis.call('HGET', KEYS[1], f) == ARGV[1] then redis.call('HDEL', KEYS[1], f) end
end
return 0`)
