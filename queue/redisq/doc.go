// Package redisq is the Redis queue of ohx: an ohx.Queue and a
// queue.Inspector built on github.com/hibiken/asynq, with the semantics of
// package queue (priorities, retries with backoff, dead letters, coalescing,
// delays, graceful shutdown) made durable and shared by every process that
// uses the same Redis and Config.Namespace.
//
// Mapping onto asynq:
//
//   - Each configured priority is an asynq queue "<namespace>:p<priority>",
//     served strictly or by weight (Config.StrictPriority, Config.Weights).
//   - A job is an asynq task whose id is the job id and whose payload is only
//     that id; the job itself (ids, data types, window, trigger: never health
//     values) lives in a record "<namespace>:job:<id>" that merges widen.
//   - Retries are asynq retries with the delays of queue.Retry; an error for
//     which ohx.Retryable is false is wrapped in asynq.SkipRetry. Dead letters
//     are asynq's archived tasks; Replay re-creates one under the same id.
//   - Completed jobs stay visible to Job for Config.Retention.
//   - Each link's job ids are indexed, by enqueue time, in a sorted set
//     "<namespace>:lj:<hash>" (the newest 1000), for LinkJobs.
//   - One job of a link runs at a time: a starting job takes the link's lock
//     "<namespace>:lk:<hash>" (holding its id), released when it ends, is
//     retried or handed back; a lock whose holder's lease expired is taken
//     over. Cancel sets a flag in the job's record (Queue.Cancel).
//
// Coalescing keeps, per coalesce key, a small hash "<namespace>:co:<hash>"
// with the id of the pending job (not started yet) and of the active one
// (running or waiting for a retry), changed only in WATCH/MULTI transactions.
// Enqueue merges into the pending job's record; it creates a new pending job
// (the follow-up, delayed by Config.Debounce) only when none is pending. A
// worker starting a job makes it the active one in the same kind of
// transaction, so a merge either lands before the start (and runs) or creates
// the follow-up; none is lost. A follow-up that comes up while the active job
// still runs goes back to waiting without using an attempt. A merge that
// raises the priority or brings the run time forward by more than a second
// moves the job to a new id in the right asynq queue; Job on the old id
// reports the new one.
//
// Orphans: asynq itself recovers the task of a dead worker only after its
// fixed 30 s lease, a 30 s grace and a recoverer that runs once a minute
// (up to about two minutes). redisq therefore keeps its own lease: a running
// job's worker heartbeats every Config.Lease/3 into "<namespace>:hb", and
// every Run looks every Config.Lease/2 for expired leases and hands such a
// job to a new id that runs at once, counting the lost run as an attempt.
// When asynq later recovers the old task, it finds itself superseded and does
// nothing. A job therefore runs again about 1–1.5 × Config.Lease after its
// worker died. A worker that only stalled (longer than the lease) may run a
// job twice; ohx's writes are idempotent.
//
// Batches (queue.BatchEnqueuer): EnqueueBatch merges a batch's requests per
// coalesce key, then merges them into the keys' pending records in two
// pipelined round trips for the whole batch (a read script, then a
// compare-and-set script per key); keys that need more (a first job, a
// take-over, a lost task to re-create) take the WATCH/MULTI path above.
//
// Redis-side times (delays, retries, debounce) have a resolution of one
// second, and idle workers look for work every Config.PollInterval.
package redisq
