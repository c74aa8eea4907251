package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
)

// NewAdmin returns the Admin of a queue and breaker registries, ready for
// Config.Admin: GET /v1/jobs/{id}, GET /v1/queue and POST
// /v1/queue/dead/{id}/retry read and act on q (queue.Memory and
// queue/redisq implement queue.Inspector); GET /v1/breakers lists every
// breaker of the registries and POST /v1/breakers/{name}/close closes one by
// the name it lists. q may be nil when the queue cannot be inspected: the
// queue routes then answer 501 and the breaker routes still work.
func NewAdmin(q queue.Inspector, breakers ...*resilience.Breakers) Admin {
	a := &admin{q: q}
	for _, r := range breakers {
		if r != nil {
			a.breakers = append(a.breakers, r)
		}
	}
	return a
}

// admin adapts a queue.Inspector and breaker registries to Admin.
type admin struct {
	q        queue.Inspector
	breakers []*resilience.Breakers
}

// errNoInspector answers the queue routes of an admin without an inspector.
var errNoInspector = errors.New("server: the queue cannot be inspected")

// jobStatus turns the queue's view of a job into the API's. Job.Attempt
// counts the earlier failed runs; Attempts counts every run started, the
// one in progress or the last one included.
func jobStatus(ji queue.JobInfo) JobStatus {
	updated := ji.FinishedAt
	if updated.IsZero() {
		updated = ji.NextRunAt
	}
	runs := ji.Job.Attempt
	switch ji.State {
	case queue.StateRunning, queue.StateDone, queue.StateDead:
		runs++
	}
	return JobStatus{ID: ji.Job.ID, State: string(ji.State), Job: ji.Job, Attempts: runs,
		LastError: ji.LastError, Updated: updated}
}

// Job implements Admin.
func (a *admin) Job(ctx context.Context, id string) (JobStatus, error) {
	if a.q == nil {
		return JobStatus{}, errNoInspector
	}
	ji, err := a.q.Job(ctx, id)
	if err != nil {
		return JobStatus{}, err
	}
	return jobStatus(ji), nil
}

// QueueStats implements Admin: per priority the jobs in each of the queue's
// states, as the inspector counts them, and the dead letters.
func (a *admin) QueueStats(ctx context.Context) (QueueStats, error) {
	if a.q == nil {
		return QueueStats{}, errNoInspector
	}
	st, err := a.q.Stats(ctx)
	if err != nil {
		return QueueStats{}, err
	}
	out := QueueStats{Priorities: []PriorityCounts{}, Depth: map[string]int{}, Dead: []JobStatus{}}
	for _, p := range st.Priorities {
		c := StateCounts{Pending: p.Pending, Scheduled: p.Scheduled, Running: p.Running, Retry: p.Retry, Dead: p.Dead}
		out.Priorities = append(out.Priorities, PriorityCounts{Priority: p.Priority, StateCounts: c})
		out.Total.Pending += c.Pending
		out.Total.Scheduled += c.Scheduled
		out.Total.Running += c.Running
		out.Total.Retry += c.Retry
		out.Total.Dead += c.Dead
		out.Depth[fmt.Sprintf("priority-%d", p.Priority)] = p.Depth()
	}
	dead, err := a.q.DeadLetters(ctx)
	if err != nil {
		return QueueStats{}, err
	}
	for _, d := range dead {
		out.Dead = append(out.Dead, jobStatus(d))
	}
	return out, nil
}

// LinkJobs implements Admin.
func (a *admin) LinkJobs(ctx context.Context, linkID string) ([]JobStatus, error) {
	if a.q == nil {
		return nil, errNoInspector
	}
	jobs, err := a.q.LinkJobs(ctx, linkID)
	if err != nil {
		return nil, err
	}
	out := make([]JobStatus, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, jobStatus(j))
	}
	return out, nil
}

// RetryDead implements Admin. A job that exists but is not a dead letter
// answers ohx.ErrNotFound too: there is no dead letter of that id.
func (a *admin) RetryDead(ctx context.Context, id string) error {
	if a.q == nil {
		return errNoInspector
	}
	err := a.q.Replay(ctx, id)
	if errors.Is(err, queue.ErrNotDead) {
		return fmt.Errorf("%w: job is not a dead letter", ohx.ErrNotFound)
	}
	return err
}

// CancelJob implements JobCanceller when the queue is a queue.Canceller.
func (a *admin) CancelJob(ctx context.Context, id string) error {
	c, ok := a.q.(queue.Canceller)
	if !ok {
		return errNoInspector
	}
	return c.Cancel(ctx, id)
}

// Breakers implements Admin: every breaker of every registry, registry by
// registry in the order NewAdmin got them, each sorted by name.
func (a *admin) Breakers() []BreakerStatus {
	out := []BreakerStatus{}
	for _, r := range a.breakers {
		for _, b := range r.Status() {
			out = append(out, BreakerStatus{Name: b.Name, State: b.State.String(), Failures: b.ConsecutiveFailures,
				OpenedAt: b.OpenedAt, LastFailure: b.LastFailure})
		}
	}
	return out
}

// CloseBreaker implements Admin: it closes the breaker of that name in every
// registry that holds one, or answers ohx.ErrNotFound.
func (a *admin) CloseBreaker(name string) error {
	found := false
	for _, r := range a.breakers {
		if r.ForceClose(name) == nil {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: no breaker named %q", ohx.ErrNotFound, name)
	}
	return nil
}
