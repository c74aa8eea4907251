package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

// Schedule says when a periodic entry fires next.
type Schedule interface {
	// Next returns the first firing time strictly after t.
	Next(t time.Time) time.Time
}

type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}

// Every returns a Schedule that fires at every multiple of d since the zero
// time (so all replicas fire together, and coalescing merges their jobs). d
// must be positive.
func Every(d time.Duration) (Schedule, error) {
	if d <= 0 {
		return nil, fmt.Errorf("queue: interval must be positive, got %s", d)
	}
	return every(d), nil
}

type daily struct {
	hour, min int
	loc       *time.Location
}

func (d daily) Next(t time.Time) time.Time {
	lt := t.In(d.loc)
	n := time.Date(lt.Year(), lt.Month(), lt.Day(), d.hour, d.min, 0, 0, d.loc)
	for !n.After(t) {
		lt = lt.AddDate(0, 0, 1)
		n = time.Date(lt.Year(), lt.Month(), lt.Day(), d.hour, d.min, 0, 0, d.loc)
	}
	return n
}

// Daily returns a Schedule that fires every day at hour:minute in loc (nil
// means UTC), e.g. the nightly reconciliation.
func Daily(hour, minute int, loc *time.Location) (Schedule, error) {
	if hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return nil, fmt.Errorf("queue: invalid daily time %02d:%02d", hour, minute)
	}
	if loc == nil {
		loc = time.UTC
	}
	return daily{hour: hour, min: minute, loc: loc}, nil
}

// ParseDaily parses "HH:MM" into a Daily schedule in loc.
func ParseDaily(s string, loc *time.Location) (Schedule, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return nil, fmt.Errorf("queue: daily time %q is not HH:MM", s)
	}
	return Daily(t.Hour(), t.Minute(), loc)
}

// Entry is one periodic task of a Scheduler: either jobs to enqueue (Jobs)
// or work that is not a job (Run), never both.
type Entry struct {
	// Name names the entry in logs.
	Name string
	// Schedule says when it fires.
	Schedule Schedule
	// Jobs returns the jobs to enqueue for the firing at at (e.g. one
	// reconciliation job per active link).
	Jobs func(ctx context.Context, at time.Time) ([]ohx.Job, error)
	// Options are used for every enqueue of the entry.
	Options ohx.EnqueueOptions
	// Run, set instead of Jobs, does the entry's work itself at each firing
	// (e.g. re-ensuring webhook subscriptions). Its error is logged; the
	// entry fires again at its next time.
	Run func(ctx context.Context, at time.Time) error
}

// SchedulerConfig tunes a Scheduler. Its zero value is ready to use.
type SchedulerConfig struct {
	// Clock tells the time; nil means the system clock.
	Clock Clock
	// Logger receives failures to build or enqueue jobs; nil means none.
	Logger *zap.Logger
}

// Scheduler enqueues jobs on a schedule into any ohx.Queue (the nightly
// reconciliation, polled syncs) and runs periodic work that is not a job
// (the re-ensure of webhook subscriptions). Several replicas may run one
// each: their jobs coalesce in a shared queue. server.Server builds its
// scheduler from it.
type Scheduler struct {
	q       ohx.Queue
	entries []Entry
	clock   Clock
	log     *zap.Logger
}

// NewScheduler returns a Scheduler of entries that enqueues into q.
func NewScheduler(q ohx.Queue, entries []Entry, cfg SchedulerConfig) (*Scheduler, error) {
	if q == nil {
		return nil, errors.New("queue: scheduler needs a queue")
	}
	for i, e := range entries {
		if e.Schedule == nil || (e.Jobs == nil) == (e.Run == nil) {
			return nil, fmt.Errorf("queue: scheduler entry %d (%q) needs a schedule and either a jobs or a run function", i, e.Name)
		}
	}
	s := &Scheduler{q: q, entries: entries, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = SystemClock()
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// Run fires the entries until ctx is done and returns nil then. A firing
// missed because the process was busy or the clock jumped runs once, late;
// the next is planned from the current time.
func (s *Scheduler) Run(ctx context.Context) error {
	if len(s.entries) == 0 {
		<-ctx.Done()
		return nil
	}
	now := s.clock.Now()
	next := make([]time.Time, len(s.entries))
	for i, e := range s.entries {
		next[i] = e.Schedule.Next(now)
	}
	for {
		first := 0
		for i := range next {
			if next[i].Before(next[first]) {
				first = i
			}
		}
		if d := next[first].Sub(s.clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.clock.After(d):
			}
			continue // re-check: the clock may be a fake that fired early
		}
		at := next[first]
		s.fire(ctx, s.entries[first], at)
		next[first] = s.entries[first].Schedule.Next(later(at, s.clock.Now()))
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (s *Scheduler) fire(ctx context.Context, e Entry, at time.Time) {
	if e.Run != nil {
		if err := e.Run(ctx, at); err != nil && ctx.Err() == nil {
			s.log.Warn("queue: scheduler entry failed", zap.String("entry", e.Name), zap.Error(err))
		}
		return
	}
	jobs, err := e.Jobs(ctx, at)
	if err != nil {
		s.log.Warn("queue: scheduler entry failed to list its jobs", zap.String("entry", e.Name), zap.Error(err))
		return
	}
	failed := 0
	for _, j := range jobs {
		if _, err := s.q.Enqueue(ctx, j, e.Options); err != nil {
			failed++
			s.log.Warn("queue: scheduler could not enqueue a job", zap.String("entry", e.Name), zap.Error(err))
		}
	}
	s.log.Debug("queue: scheduler fired", zap.String("entry", e.Name), zap.Int("jobs", len(jobs)), zap.Int("failed", failed))
}
