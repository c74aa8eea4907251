package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// The state changes of a link, each written with its event in one
// transaction (Server.apply). Each transition is conditional on the status
// it leaves (store.Change.IfStatus), so that racing processes make it, and
// report it, once.

// applyLogged applies c and logs a failure; for bookkeeping whose loss must
// not fail the job that produced it.
func (s *Server) applyLogged(ctx context.Context, c store.Change, msg string) {
	if err := s.apply(ctx, c); err != nil {
		s.cfg.Logger.Warn(msg, zap.String("link_id", c.LinkID), zap.Error(err))
	}
}

// activate makes a pending link active after the consent flow: the link,
// its initial sync (pending until a worker runs it) and link.active.
func (s *Server) activate(ctx context.Context, link ohx.Link) error {
	c := store.Change{LinkID: link.ID, IfStatus: ohx.LinkPending, Link: &link,
		Initial: &store.InitialSync{State: store.InitialPending, Updated: s.cfg.Now()}}
	if err := s.emit(&c, events.LinkActive, link, events.Data{}); err != nil {
		return err
	}
	if err := s.apply(ctx, c); err != nil {
		return err
	}
	s.cfg.Metrics.LinkStatus(link.Provider, ohx.LinkActive)
	return nil
}

// revokeLink marks the link revoked once the provider confirmed the grant
// is gone (a revocation check, revoke.go): the link, the deletion of its
// token (a revoked link keeps its history, not its credentials) and
// link.revoked, in one transaction conditional on the status it leaves. It
// is the one path by which a link becomes revoked. A link revoked already
// (an earlier run whose answer was lost) only loses its token again; a link
// deleted meanwhile is no error.
func (s *Server) revokeLink(ctx context.Context, linkID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for range 3 {
		link, err := s.cfg.Store.Link(ctx, linkID)
		switch {
		case errors.Is(err, ohx.ErrNotFound):
			return nil
		case err != nil:
			return err
		case link.Status == ohx.LinkRevoked:
			return s.cfg.Store.DeleteToken(ctx, link.ID)
		}
		from := link.Status
		link.Status = ohx.LinkRevoked
		c := store.Change{LinkID: link.ID, IfStatus: from, Link: &link, DeleteToken: true}
		if err := s.emit(&c, events.LinkRevoked, link, events.Data{Reason: "provider"}); err != nil {
			return err
		}
		err = s.apply(ctx, c)
		if errors.Is(err, store.ErrStatusChanged) || errors.Is(err, ohx.ErrNotFound) {
			continue // changed meanwhile: look again
		}
		if err != nil {
			return err
		}
		s.cfg.Metrics.LinkStatus(link.Provider, ohx.LinkRevoked)
		s.audit(ctx, auditLinkRevoked, zap.String("link_id", link.ID), zap.String("provider", link.Provider),
			zap.String("reason", "confirmed_with_provider"))
		return nil
	}
	return fmt.Errorf("server: link %q kept changing while it was revoked", linkID)
}

// markReconsent marks an active link needs-reconsent after the provider
// refused its tokens for good (link.needs_reconsent).
func (s *Server) markReconsent(ctx context.Context, linkID string) {
	link, err := s.cfg.Store.Link(ctx, linkID)
	if err != nil || link.Status != ohx.LinkActive {
		return
	}
	link.Status = ohx.LinkNeedsReconsent
	c := store.Change{LinkID: linkID, IfStatus: ohx.LinkActive, Link: &link}
	err = s.emit(&c, events.LinkNeedsReconsent, link, events.Data{Reason: "token_revoked"})
	if err == nil {
		err = s.apply(ctx, c)
	}
	switch {
	case errors.Is(err, store.ErrStatusChanged), errors.Is(err, ohx.ErrNotFound):
		return
	case err != nil:
		s.cfg.Logger.Error("marking link needs-reconsent failed", zap.String("link_id", linkID), zap.Error(err))
		return
	}
	s.cfg.Metrics.LinkStatus(link.Provider, ohx.LinkNeedsReconsent)
	s.cfg.Logger.Warn("link needs re-consent", zap.String("link_id", linkID), zap.String("provider", link.Provider))
	s.audit(ctx, "link.needs_reconsent", zap.String("link_id", linkID), zap.String("provider", link.Provider))
}

// expireLink deletes a pending link whose consent flow nobody completed,
// with link.expired, in one transaction, unless it left pending meanwhile
// (store.ErrStatusChanged) or is gone (ohx.ErrNotFound). It is the one path
// by which a link expires: the scheduler's sweep (expirePending) calls it
// for each link pending longer than Config.PendingLinkTTL.
func (s *Server) expireLink(ctx context.Context, link ohx.Link) error {
	c := store.Change{LinkID: link.ID, IfStatus: ohx.LinkPending, Delete: true}
	if err := s.emit(&c, events.LinkExpired, link, events.Data{Reason: "consent_not_completed"}); err != nil {
		return err
	}
	if err := s.apply(ctx, c); err != nil {
		return err
	}
	s.audit(ctx, auditLinkExpired, zap.String("link_id", link.ID), zap.String("provider", link.Provider))
	return nil
}

// jobCancelled reports a queued job cancelled before it ran to its end
// (job.cancelled); a cancelled initial sync that had not finished is
// failed with the kind "cancelled". It is the hook of the job cancel
// endpoint (DELETE /v1/jobs/{id}), called once the queue dropped the job
// or told its worker to stop.
func (s *Server) jobCancelled(ctx context.Context, j ohx.Job) error {
	link, err := s.cfg.Store.Link(ctx, j.LinkID)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		link = ohx.Link{ID: j.LinkID}
	case err != nil:
		return err
	}
	c := store.Change{LinkID: j.LinkID}
	if is, ok := s.cfg.Store.(store.InitialSyncStore); ok && j.Trigger == ohx.TriggerInitial && err == nil {
		in, ierr := is.InitialSync(ctx, j.LinkID)
		if ierr == nil && (in.State == store.InitialPending || in.State == store.InitialRunning) {
			c.Initial = s.initialCancelled(in)
		}
	}
	if err := s.emit(&c, events.JobCancelled, link, events.Data{JobID: j.ID, Trigger: j.Trigger, Window: j.Window}); err != nil {
		return err
	}
	return s.apply(ctx, c)
}

// initialCancelled returns in failed for good with the kind "cancelled".
func (s *Server) initialCancelled(in store.InitialSync) *store.InitialSync {
	now := s.cfg.Now()
	in.State, in.ErrorKind, in.Finished, in.Updated = store.InitialFailed, "cancelled", now, now
	return &in
}

// initialStopped records the initial sync (initial, the state its run
// wrote; nil when none is tracked) of a job stopped mid-run: failed
// ("cancelled") when the job was cancelled, which jobCancelled reported
// (written again here in case this worker marked it running after that),
// else pending again, as the queue hands the job back after a shutdown.
func (s *Server) initialStopped(ctx context.Context, j ohx.Job, initial *store.InitialSync, cancelled bool) {
	if initial == nil {
		return
	}
	in := *initial
	if cancelled {
		in = *s.initialCancelled(in)
	} else {
		in.State, in.Updated = store.InitialPending, s.cfg.Now()
	}
	s.applyLogged(context.WithoutCancel(ctx), store.Change{LinkID: j.LinkID, Initial: &in}, "recording the initial sync failed")
}

// initialRunning records that a worker starts the link's initial sync and
// returns the state it wrote; nil when the store keeps no initial state.
func (s *Server) initialRunning(ctx context.Context, j ohx.Job) *store.InitialSync {
	is, ok := s.cfg.Store.(store.InitialSyncStore)
	if !ok {
		return nil
	}
	in, err := is.InitialSync(ctx, j.LinkID)
	if err != nil && !errors.Is(err, ohx.ErrNotFound) {
		s.cfg.Logger.Warn("reading the initial sync failed", zap.String("link_id", j.LinkID), zap.Error(err))
		return nil
	}
	now := s.cfg.Now()
	in.State, in.JobID, in.Finished, in.Updated = store.InitialRunning, j.ID, time.Time{}, now
	in.Attempts++
	if in.Started.IsZero() {
		in.Started = now
	}
	s.applyLogged(ctx, store.Change{LinkID: j.LinkID, Initial: &in}, "recording the initial sync failed")
	return &in
}

// jobOutcome is what HandleJob learnt from one run.
type jobOutcome struct {
	link    ohx.Link
	active  bool // the link was active when the job started
	rep     *ohx.Report
	err     error
	initial *store.InitialSync // the initial sync's state while it ran, if tracked
}

// recordJob writes, in one transaction, the outcome of each data type, the
// initial sync's new state and the events of the run: sync.completed for a
// finished initial sync or backfill, sync.failed for a failure the queue
// will not retry (of a link that was active: jobs of inactive links fail
// by design).
func (s *Server) recordJob(ctx context.Context, j ohx.Job, o jobOutcome) {
	c := store.Change{LinkID: j.LinkID}
	var counts map[ohx.DataType]events.Counts
	if o.rep != nil {
		counts = map[ohx.DataType]events.Counts{}
		for _, t := range slices.SortedFunc(maps.Keys(o.rep.Types), cmp.Compare) {
			tr := o.rep.Types[t]
			c.Syncs = append(c.Syncs, store.TypeSync{Type: t,
				Result: store.SyncResult{Err: o.err, Count: tr.ResourcesWritten, Samples: tr.SamplesRead}})
			counts[t] = events.Counts{SamplesRead: tr.SamplesRead, ResourcesWritten: tr.ResourcesWritten}
		}
	}
	final := o.err != nil && queue.Final(ctx, j, o.err)
	kind, _ := store.SyncErrorMessage(o.err)
	if o.initial != nil {
		in := *o.initial
		now := s.cfg.Now()
		in.Updated = now
		switch {
		case o.err == nil:
			in.State, in.ErrorKind, in.Finished = store.InitialDone, "", now
		case final:
			in.State, in.ErrorKind, in.Finished = store.InitialFailed, kind, now
		default:
			in.State, in.ErrorKind = store.InitialPending, kind
		}
		c.Initial = &in
	}
	var err error
	d := events.Data{JobID: j.ID, Trigger: j.Trigger, Window: j.Window}
	switch {
	case !o.active:
	case o.err == nil && (j.Trigger == ohx.TriggerInitial || j.Trigger == ohx.TriggerBackfill):
		d.Types = counts
		err = s.emit(&c, events.SyncCompleted, o.link, d)
	case final:
		d.ErrorKind, d.Attempts = kind, j.Attempt+1
		err = s.emit(&c, events.SyncFailed, o.link, d)
	}
	if err != nil {
		s.cfg.Logger.Warn("building an event failed", zap.String("link_id", j.LinkID), zap.Error(err))
	}
	if c.Initial == nil && len(c.Syncs) == 0 && len(c.Events) == 0 {
		return
	}
	s.applyLogged(context.WithoutCancel(ctx), c, "recording the sync failed")
}
