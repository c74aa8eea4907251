// Package queue holds the job queues of ohx and what they share.
//
// [Memory] is an [ohx.Queue] in process memory, the embedded default: jobs do
// not survive a restart. The Redis queue (sub-package redisq, built on asynq)
// has the same semantics with durability and several processes; importing
// this package links no Redis code.
//
// Both queues share these semantics:
//
//   - Priorities: a lower [ohx.Priority] runs first, strictly
//     ([Config.StrictPriority]) or weighted so that low priorities are never
//     starved ([Config.Weights], [DefaultWeights]).
//   - Retries: a failed job runs again after an exponential backoff with
//     jitter ([Retry]), at least as late as [ohx.RetryAfter] asks, up to
//     [Retry.MaxAttempts] runs. An error for which [ohx.Retryable] is false
//     is not retried.
//   - Dead letters: a job that failed for good is kept; [Inspector] lists and
//     replays it.
//   - Coalescing per [ohx.Job.CoalesceKey]: a job enqueued while an equal one
//     has not started yet merges into it ([ohx.Job.Merge] unions the windows,
//     the higher priority wins, the earlier run time wins) and Enqueue returns
//     that job's id. A job enqueued while an equal one runs (or waits for a
//     retry) becomes its single follow-up: it waits until the equal job ends
//     and at least [Config.Debounce] (default 10 s), gathering the rest of a
//     burst. So a burst of webhooks makes one or two runs, and no window is
//     lost. Two equal jobs never run at once.
//   - Delays: [ohx.EnqueueOptions.Delay] postpones a job.
//   - Graceful shutdown: when Run's context ends, no job starts; jobs in
//     flight get [Config.ShutdownTimeout] to finish, then their context is
//     cancelled and the unfinished ones go back to pending without using an
//     attempt.
//
// Batches: a queue that implements [BatchEnqueuer] (Memory and the Redis
// queue do) enqueues several jobs in one call with the outcome of enqueuing
// them one by one, sharing its store's round trips; [GroupCommit] turns
// concurrent Enqueue calls (webhook notifications) into such batches, so the
// more callers, the fewer round trips each costs.
//
// [Inspector] is the administrative side (stats, dead letters, replay, job
// status), apart from [ohx.Queue]. [Scheduler] enqueues jobs periodically
// ([Every], [Daily]) into any queue, and runs periodic work that is not a job
// ([Entry.Run]), on an injectable [Clock]: server.Server runs its polls,
// nightly reconciliation and subscription re-ensure on it. Jobs carry ids
// and windows only, never health values.
//
// Sub-package queuetest holds the behavioural suite every queue passes and a
// fake [Clock].
package queue
