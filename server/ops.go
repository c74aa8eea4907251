package server

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// JobStatus is a queued job's state as the API shows it. Attempts is the
// number of runs started (0 for a job that never ran).
type JobStatus struct {
	ID        string    `json:"id"`
	State     string    `json:"state"` // pending, scheduled, running, retry, done, dead, cancelled
	Job       ohx.Job   `json:"job"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
}

// QueueStats is the queue's state as the API shows it: per priority, the
// jobs in each of the queue's states (queue.State), and the dead letters.
type QueueStats struct {
	// Priorities holds one entry per priority, lowest number (first to
	// run) first.
	Priorities []PriorityCounts `json:"priorities"`
	// Total sums the priorities.
	Total StateCounts `json:"total"`
	// Depth is the number of waiting jobs (pending, scheduled and retry) per
	// priority ("priority-1", ...).
	//
	// Deprecated: it leaves running jobs out; read Priorities. It goes away
	// in a later release.
	Depth map[string]int `json:"depth"`
	// Dead lists the dead letters, oldest first.
	Dead []JobStatus `json:"dead"`
}

// StateCounts counts jobs by the queue's state names.
type StateCounts struct {
	Pending   int `json:"pending"`
	Scheduled int `json:"scheduled"`
	Running   int `json:"running"`
	Retry     int `json:"retry"`
	Dead      int `json:"dead"`
}

// PriorityCounts counts the jobs of one priority by state.
type PriorityCounts struct {
	Priority ohx.Priority `json:"priority"`
	StateCounts
}

// BreakerStatus is one circuit breaker as the API shows it.
type BreakerStatus struct {
	Name     string    `json:"name"`
	State    string    `json:"state"`
	Failures uint32    `json:"consecutive_failures"`
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// LastFailure describes the last failure of the current run (scrubbed:
	// no URL query, token or body), so an operator sees why it opened.
	LastFailure string `json:"last_failure,omitempty"`
}

// Admin exposes operator actions over the queue and the breakers. NewAdmin
// builds one from a queue.Inspector and breaker registries; an application
// with its own job system may implement it.
type Admin interface {
	// Job returns a job's status, or ohx.ErrNotFound.
	Job(ctx context.Context, id string) (JobStatus, error)
	// QueueStats returns depths and dead letters.
	QueueStats(ctx context.Context) (QueueStats, error)
	// RetryDead replays a dead-lettered job, or returns ohx.ErrNotFound.
	RetryDead(ctx context.Context, id string) error
	// LinkJobs lists the jobs of a link the queue still holds, newest
	// first.
	LinkJobs(ctx context.Context, linkID string) ([]JobStatus, error)
	// Breakers lists every breaker.
	Breakers() []BreakerStatus
	// CloseBreaker forces a breaker closed, or returns ohx.ErrNotFound.
	CloseBreaker(name string) error
}

func (s *Server) admin(w http.ResponseWriter) (Admin, bool) {
	if s.cfg.Admin == nil {
		writeError(w, http.StatusNotImplemented, "not_available", "operations are not configured")
		return nil, false
	}
	return s.cfg.Admin, true
}

// adminError answers an Admin's error: 404 for ohx.ErrNotFound, 501 when
// the Admin of NewAdmin has no queue inspector, else 500.
func (s *Server) adminError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, errNoInspector):
		writeError(w, http.StatusNotImplemented, "not_available", "the queue cannot be inspected")
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	st, err := a.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// JobCanceller is implemented by an Admin that can cancel jobs (the Admin of
// NewAdmin, over a queue that is a queue.Canceller): DELETE /v1/jobs/{id}.
type JobCanceller interface {
	// CancelJob cancels a pending job, or stops a running one at its next
	// batch. It returns ohx.ErrNotFound for an unknown job and an error
	// wrapping queue.ErrFinished for one that already ended.
	CancelJob(ctx context.Context, id string) error
}

// cancelJob cancels a job and reports it (job.cancelled, and a cancelled
// initial sync fails with the kind "cancelled": jobCancelled).
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	c, ok := a.(JobCanceller)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_available", "jobs cannot be cancelled")
		return
	}
	// The job as the queue holds it (for an id another job took over
	// from, the one that took over, which CancelJob cancels too).
	st, err := a.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	err = c.CancelJob(r.Context(), st.ID)
	switch {
	case errors.Is(err, queue.ErrFinished):
		writeError(w, http.StatusConflict, "job_finished", "the job has already finished")
		return
	case err != nil:
		s.adminError(w, r, err)
		return
	}
	s.audit(r.Context(), "job.cancel", zap.String("job_id", st.ID), zap.String("link_id", st.Job.LinkID))
	j := st.Job
	j.ID = st.ID
	if err := s.jobCancelled(context.WithoutCancel(r.Context()), j); err != nil {
		// The queue dropped the job; only its report is missing.
		s.cfg.Logger.Error("recording a cancelled job failed", zap.String("job_id", st.ID),
			zap.String("link_id", j.LinkID), zap.Error(err))
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"job_id": st.ID, "cancelled": true})
}

// linkJobs answers the jobs of an existing link.
func (s *Server) linkJobs(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	jobs, err := a.LinkJobs(r.Context(), l.ID)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

func (s *Server) queueStats(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	st, err := a.QueueStats(r.Context())
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) retryDead(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := a.RetryDead(r.Context(), id); err != nil {
		s.adminError(w, r, err)
		return
	}
	s.audit(r.Context(), "queue.dead.retry", zap.String("job_id", id))
	writeJSON(w, http.StatusAccepted, map[string]string{"job_id": id})
}

func (s *Server) listBreakers(w http.ResponseWriter, _ *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"breakers": a.Breakers()})
}

func (s *Server) closeBreaker(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := a.CloseBreaker(name); err != nil {
		s.adminError(w, r, err)
		return
	}
	s.audit(r.Context(), "breaker.close", zap.String("breaker", name))
	writeJSON(w, http.StatusOK, map[string]string{"breaker": name, "state": "closed"})
}

// checkResult is one dependency in /healthz.
type checkResult struct {
	Name     string  `json:"name"`
	OK       bool    `json:"ok"`
	Optional bool    `json:"optional,omitempty"`
	Millis   float64 `json:"response_ms"`
	Error    string  `json:"error,omitempty"`
}

func (s *Server) runChecks(ctx context.Context) ([]checkResult, bool) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out := make([]checkResult, len(s.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range s.cfg.Checks {
		wg.Go(func() {
			start := time.Now()
			err := c.Probe(ctx)
			out[i] = checkResult{Name: c.Name, OK: err == nil, Optional: c.Optional,
				Millis: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				out[i].Error = ohx.KindOf(err).String()
				if errors.Is(err, context.DeadlineExceeded) {
					out[i].Error = "timeout"
				}
			}
		})
	}
	wg.Wait()
	ready := true
	for _, r := range out {
		if !r.OK && !r.Optional {
			ready = false
		}
	}
	return out, ready
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	res, ready := s.runChecks(r.Context())
	status := http.StatusOK
	word := "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "unready"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": res})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	res, ready := s.runChecks(r.Context())
	status := http.StatusOK
	word := "ok"
	if !ready {
		status, word = http.StatusServiceUnavailable, "failing"
	} else {
		for _, c := range res {
			if !c.OK {
				word = "degraded"
			}
		}
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": res})
}

//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
