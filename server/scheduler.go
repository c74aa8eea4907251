package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// SchedulerConfig tunes the server's scheduler. Its zero value is ready to
// use.
type SchedulerConfig struct {
	// PollEvery is how often hourly and daily links are checked for a due
	// poll (ohx.PollDue); 0 means one minute.
	PollEvery time.Duration
	// Nightly is when realtime links are reconciled, catching lost
	// webhooks; nil means every day at 02:00 UTC.
	Nightly queue.Schedule
	// Reensure is when the webhook subscriptions of active links are
	// re-ensured; nil means every 24 hours (at 00:00 UTC).
	Reensure queue.Schedule
	// Clock tells the time and waits; nil means the system clock. Tests pass
	// a queuetest.Clock.
	Clock queue.Clock
	// Entries are more entries for RunScheduler to run beside the server's
	// (an application's own periodic work, such as ohxd's renewal of Oura's
	// webhook subscriptions). SchedulerEntries leaves them out.
	Entries []queue.Entry
}

// PolledTypes is implemented by a provider whose webhooks do not announce
// every data type it offers (Oura has no heart-rate webhook). The server's
// "poll" entry polls those types of its realtime links hourly, as it polls
// an hourly link, so they do not wait for the nightly reconciliation.
type PolledTypes interface {
	// PolledTypes returns the data types no webhook announces.
	PolledTypes() []ohx.DataType
}

// linkPage is how many links one listing call of the scheduler reads.
const linkPage = 500

// SchedulerEntries returns the server's periodic work as entries of a
// queue.Scheduler, for an application that runs one scheduler of its own
// entries and these (RunScheduler runs them alone):
//
//   - "poll", every PollEvery: an incremental sync of each active hourly or
//     daily link that ohx.PollDue says is due, and of the PolledTypes of
//     each active realtime link whose provider has some (consented types
//     only, due as an hourly link is, from the first new UTC hour after the
//     scheduler first saw the link). The time of the last poll of each link
//     is kept in memory, so after a restart every hourly and daily link is
//     due once.
//   - "nightly", on Nightly: a reconciliation sync of each active realtime
//     link (re-reading the last days catches lost webhooks).
//   - "expire", every 5 minutes: delete the links pending for longer than
//     Config.PendingLinkTTL (audited "link.expired") and the connect flows
//     that can no longer be used;
//   - "re-ensure", on Reensure: Subscribe again for each active link whose
//     provider is an ohx.Subscriber; failures are logged per link.
//
// Several replicas may each run them: their jobs coalesce in a shared queue,
// and subscribing is idempotent at the providers.
func (s *Server) SchedulerEntries(cfg SchedulerConfig) ([]queue.Entry, error) {
	if cfg.PollEvery < 0 {
		return nil, errors.New("server: the poll interval must not be negative")
	}
	if cfg.PollEvery == 0 {
		cfg.PollEvery = time.Minute
	}
	poll, err := queue.Every(cfg.PollEvery)
	if err != nil {
		return nil, err
	}
	if cfg.Nightly == nil {
		if cfg.Nightly, err = queue.Daily(2, 0, time.UTC); err != nil {
			return nil, err
		}
	}
	if cfg.Reensure == nil {
		if cfg.Reensure, err = queue.Every(24 * time.Hour); err != nil {
			return nil, err
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = queue.SystemClock()
	}
	p := &poller{s: s, now: cfg.Clock.Now, last: map[string]time.Time{}}
	expire, err := queue.Every(expireEvery)
	if err != nil {
		return nil, err
	}
	return []queue.Entry{
		{Name: "poll", Schedule: poll, Jobs: p.due},
		{Name: "expire", Schedule: expire, Run: s.expirePending},
		{Name: "nightly", Schedule: cfg.Nightly, Jobs: s.reconciliations},
		{Name: "re-ensure", Schedule: cfg.Reensure, Run: s.reensure},
	}, nil
}

// RunScheduler runs the entries of SchedulerEntries in a queue.Scheduler that
// enqueues into the server's queue, until ctx is cancelled; it returns nil
// then.
func (s *Server) RunScheduler(ctx context.Context, cfg SchedulerConfig) error {
	entries, err := s.SchedulerEntries(cfg)
	if err != nil {
		return err
	}
	entries = append(entries, cfg.Entries...)
	sched, err := queue.NewScheduler(s.cfg.Queue, entries, queue.SchedulerConfig{Clock: cfg.Clock, Logger: s.cfg.Logger})
	if err != nil {
		return err
	}
	return sched.Run(ctx)
}

// poller remembers when each polled link was last polled.
type poller struct {
	s    *Server
	now  func() time.Time
	mu   sync.Mutex
	last map[string]time.Time // link id → time of its last poll
}

// due returns an incremental job for every active link whose poll is due
// now; a firing that runs late (after a pause of the process) asks at the
// time it runs, not at the time it was planned for. It forgets the links
// that are no longer active or polled.
func (p *poller) due(ctx context.Context, _ time.Time) ([]ohx.Job, error) {
	links, err := p.s.activeLinks(ctx)
	if err != nil {
		return nil, err
	}
	at := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	last := make(map[string]time.Time, len(p.last))
	var jobs []ohx.Job
	for _, l := range links {
		var types []ohx.DataType // all of the link's
		if l.Frequency.PollInterval() == 0 {
			if types = p.s.polledTypes(l); len(types) == 0 {
				continue
			}
			if _, seen := p.last[l.ID]; !seen {
				// A realtime link had these types read by its initial
				// sync or its nightly reconciliation: polling starts with
				// the next hour, so a restart does not poll every
				// realtime link at once.
				last[l.ID] = at
				continue
			}
			l.Frequency = ohx.SyncHourly
		}
		last[l.ID] = p.last[l.ID]
		if ohx.PollDue(l, p.last[l.ID], at) {
			last[l.ID] = at
			jobs = append(jobs, ohx.Job{LinkID: l.ID, Trigger: ohx.TriggerIncremental, DataTypes: types})
		}
	}
	p.last = last
	return jobs, nil
}

// polledTypes returns the types of realtime link l that its provider's
// webhooks never announce (PolledTypes) and the link consents to.
func (s *Server) polledTypes(l ohx.Link) []ohx.DataType {
	pt, ok := s.providers[l.Provider].(PolledTypes)
	if !ok {
		return nil
	}
	var out []ohx.DataType
	for _, t := range pt.PolledTypes() {
		if l.Consents(t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// reconciliations returns a reconciliation job for every active realtime
// link.
func (s *Server) reconciliations(ctx context.Context, _ time.Time) ([]ohx.Job, error) {
	links, err := s.activeLinks(ctx)
	if err != nil {
		return nil, err
	}
	var jobs []ohx.Job
	for _, l := range links {
		if l.Frequency == "" || l.Frequency == ohx.SyncRealtime {
			jobs = append(jobs, ohx.Job{LinkID: l.ID, Trigger: ohx.TriggerReconciliation})
		}
	}
	return jobs, nil
}

// reensure subscribes every active link of a Subscriber provider again.
func (s *Server) reensure(ctx context.Context, _ time.Time) error {
	links, err := s.activeLinks(ctx)
	if err != nil {
		return err
	}
	for _, l := range links {
		sub, ok := s.providers[l.Provider].(ohx.Subscriber)
		if !ok {
			continue
		}
		if err := sub.Subscribe(ctx, l); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.cfg.Logger.Warn("webhook re-ensure failed", zap.String("link_id", l.ID), zap.String("provider", l.Provider),
				zap.String("error_kind", ohx.KindOf(err).String()), zap.Error(err))
		}
	}
	return nil
}

// activeLinks lists the active links page by page.
func (s *Server) activeLinks(ctx context.Context) ([]ohx.Link, error) {
	var out []ohx.Link
	q := store.LinkQuery{Status: ohx.LinkActive, Limit: linkPage}
	for {
		page, err := s.cfg.Store.Links(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < linkPage || page[len(page)-1].ID <= q.AfterID {
			// A short page is the last; a page that does not move forward
			// (a store that ignores AfterID) ends the listing too.
			return out, nil
		}
		q.AfterID = page[len(page)-1].ID
	}
}
