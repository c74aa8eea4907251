package queue

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
)

// ErrNotDead is returned by Inspector.Replay for a job that is not a dead
// letter.
var ErrNotDead = errors.New("queue: job is not a dead letter")

// ErrDuplicateID is returned by Enqueue when the job carries an id that the
// queue already holds.
var ErrDuplicateID = errors.New("queue: job id already exists")

// State is where a job is in its life.
type State string

// States of a job.
const (
	// StatePending: ready to run as soon as a worker is free.
	StatePending State = "pending"
	// StateScheduled: waiting for its run time (a delay or a debounce).
	StateScheduled State = "scheduled"
	// StateRunning: a worker holds it.
	StateRunning State = "running"
	// StateRetry: it failed and waits for its next attempt.
	StateRetry State = "retry"
	// StateDead: it failed for good (permanent error or retries exhausted);
	// it stays in the dead letters until replayed.
	StateDead State = "dead"
	// StateDone: it finished successfully.
	StateDone State = "done"
)

// JobInfo is what an Inspector says about one job. It holds the job (ids and
// windows, never health values) and the last error's message.
type JobInfo struct {
	// Job is the job as it will run (or ran), with its id and attempt.
	Job ohx.Job `json:"job"`
	// State is where the job is.
	State State `json:"state"`
	// NextRunAt is when a pending, scheduled or retrying job may run.
	NextRunAt time.Time `json:"next_run_at,omitzero"`
	// LastError is the message of the last failure, if any.
	LastError string `json:"last_error,omitempty"`
	// FinishedAt is when a done or dead job ended.
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// PriorityStats counts the jobs of one priority by state.
type PriorityStats struct {
	// Priority is the job priority (lower runs first).
	Priority ohx.Priority `json:"priority"`
	// Pending jobs are ready to run.
	Pending int `json:"pending"`
	// Scheduled jobs wait for their run time.
	Scheduled int `json:"scheduled"`
	// Running jobs are held by a worker.
	Running int `json:"running"`
	// Retry jobs failed and wait for their next attempt.
	Retry int `json:"retry"`
	// Dead jobs are dead letters.
	Dead int `json:"dead"`
}

// Depth returns the number of jobs waiting to run: pending, scheduled and
// retrying.
func (p PriorityStats) Depth() int { return p.Pending + p.Scheduled + p.Retry }

// Stats is a snapshot of a queue, one entry per priority in ascending order.
type Stats struct {
	// Priorities holds the counts per priority.
	Priorities []PriorityStats `json:"priorities"`
}

// Depth returns the number of jobs waiting to run over all priorities.
func (s Stats) Depth() int {
	n := 0
	for _, p := range s.Priorities {
		n += p.Depth()
	}
	return n
}

// Dead returns the number of dead letters over all priorities.
func (s Stats) Dead() int {
	n := 0
	for _, p := range s.Priorities {
		n += p.Dead
	}
	return n
}

// statsFor returns the entry of priority p in s, adding it if needed.
func statsFor(s *Stats, p ohx.Priority) *PriorityStats {
	i, found := slices.BinarySearchFunc(s.Priorities, p, func(e PriorityStats, t ohx.Priority) int { return int(e.Priority - t) })
	if !found {
		s.Priorities = slices.Insert(s.Priorities, i, PriorityStats{Priority: p})
	}
	return &s.Priorities[i]
}

// Count adds one job of priority p in state st to s. Queue implementations use
// it to build their stats.
func (s *Stats) Count(p ohx.Priority, st State) {
	e := statsFor(s, p)
	switch st {
	case StatePending:
		e.Pending++
	case StateScheduled:
		e.Scheduled++
	case StateRunning:
		e.Running++
	case StateRetry:
		e.Retry++
	case StateDead:
		e.Dead++
	}
}

// Inspector is the administrative side of a queue, kept apart from ohx.Queue
// so that producers and workers need not see it. Both Memory and the Redis
// queue implement it.
type Inspector interface {
	// Stats returns the number of jobs per priority and state.
	Stats(ctx context.Context) (Stats, error)
	// DeadLetters lists the jobs that failed for good, oldest first.
	DeadLetters(ctx context.Context) ([]JobInfo, error)
	// Replay puts a dead letter back in the queue with a fresh retry budget.
	// It returns ErrNotDead for a job that is not a dead letter and
	// ohx.ErrNotFound for an unknown id.
	Replay(ctx context.Context, id string) error
	// Job returns what the queue knows about a job, or ohx.ErrNotFound (also
	// for finished jobs older than the queue's retention).
	Job(ctx context.Context, id string) (JobInfo, error)
	// LinkJobs returns the jobs of a link the queue still holds (waiting,
	// running, and finished ones within the retention), newest first, at
	// most MaxLinkJobs.
	LinkJobs(ctx context.Context, linkID string) ([]JobInfo, error)
}

// MaxLinkJobs bounds what Inspector.LinkJobs returns.
const MaxLinkJobs = 100
