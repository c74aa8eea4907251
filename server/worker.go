package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// DefaultNotifyTimeout bounds Notify when its context has no deadline.
const DefaultNotifyTimeout = 5 * time.Second

// Notify is the ohx.NotifyFunc the server hands to provider webhook
// handlers: it turns a verified provider notification into work, a push job
// for the notified user's link (delayed by the debounce so bursts
// coalesce, its window clamped by Config.PushMaxAge and PushMaxAhead), a
// deletion job, or a revocation check (revoke.go). It returns nil once that
// work is durable (the queue acknowledged the job; for redisq, Redis did),
// and nil for a notification it drops on purpose: an unknown user, an
// inactive link, data types outside the link's consent, or a window wholly
// outside the push bounds. It returns an error when the link cannot be
// looked up or the work cannot be made durable, and the handler then
// answers so that the provider retries.
//
// Concurrent notifications share the queue's round trips when the queue
// implements queue.BatchEnqueuer (see Config.GroupCommit). ctx bounds the
// call; without a deadline, DefaultNotifyTimeout does.
func (s *Server) Notify(ctx context.Context, n ohx.Notification) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultNotifyTimeout)
		defer cancel()
	}
	prov, kind := zap.String("provider", n.Provider), zap.String("kind", string(n.Kind))
	link, err := s.notifiedLink(ctx, n.Provider, n.ExternalUserID)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		s.cfg.Logger.Info("notification for an unknown user dropped", prov, kind)
		return nil
	case err != nil:
		s.cfg.Logger.Error("notification lookup failed", prov, kind, zap.Error(err))
		return fmt.Errorf("server: notification: link lookup: %w", err)
	}
	linkID := zap.String("link_id", link.ID)
	if link.Status != ohx.LinkActive {
		s.cfg.Logger.Info("notification for an inactive link dropped", prov, kind, linkID, zap.String("status", string(link.Status)))
		return nil
	}
	if n.Kind == ohx.NotifyRevoked {
		// Unconfirmed: anyone who knows the webhook secret can send it.
		return s.queueRevocationCheck(ctx, link)
	}
	var types []ohx.DataType
	for _, t := range n.DataTypes {
		if link.Consents(t) && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(n.DataTypes) > 0 && len(types) == 0 {
		s.cfg.Logger.Info("notification for types outside the link's consent dropped", prov, kind, linkID)
		return nil
	}
	j := ohx.Job{LinkID: link.ID, DataTypes: types, Trigger: ohx.TriggerPush, Deletion: n.Kind == ohx.NotifyDelete}
	if !n.Window.Empty() {
		if n.Window = s.clampPush(n); n.Window.Empty() {
			s.cfg.Logger.Info("notification window outside the push bounds dropped", prov, kind, linkID)
			return nil
		}
	}
	if n.Window.Empty() {
		j.Trigger = ohx.TriggerIncremental
		j.Priority = ohx.PriorityWebhook
	} else {
		w := n.Window
		j.Window = &w
	}
	if _, err := s.intake(ctx, j, ohx.EnqueueOptions{Delay: s.cfg.Debounce}); err != nil {
		s.cfg.Logger.Error("enqueue of a notification failed; the provider is asked to retry", prov, kind, linkID, zap.Error(err))
		return fmt.Errorf("server: notification not queued: %w", err)
	}
	return nil
}

// intake enqueues a notified job: through the group commit when the queue
// batches, else directly.
func (s *Server) intake(ctx context.Context, j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	if s.group != nil {
		return s.group.Enqueue(ctx, j, opts)
	}
	return s.cfg.Queue.Enqueue(ctx, j, opts)
}

// HandleJob runs a queued job with the engine and keeps the link's state
// honest: it records each data type's outcome, the initial sync's state
// (running, then done, pending again for a retry, or failed), and the
// events sync.completed (an initial sync or a backfill that finished) and
// sync.failed (a failure the queue will not retry), each in one
// transaction with the state it reports. A revoked grant marks the link
// needs-reconsent (its jobs then fail permanently and stop retrying); a
// revocation check that the provider answers with a refused grant revokes
// it (revokeLink). A job cancelled while it ran leaves its initial sync
// failed ("cancelled"); one stopped by a shutdown leaves it pending.
func (s *Server) HandleJob(ctx context.Context, j ohx.Job) error {
	if s.cfg.Engine == nil {
		return fmt.Errorf("%w: %w", errNoEngine, ohx.ErrPermanent)
	}
	link, linkErr := s.cfg.Store.Link(ctx, j.LinkID)
	active := linkErr == nil && link.Status == ohx.LinkActive
	var initial *store.InitialSync
	if active && j.Trigger == ohx.TriggerInitial {
		initial = s.initialRunning(ctx, j)
	}
	rep, err := s.cfg.Engine.Sync(ctx, j)
	if j.Trigger == ohx.TriggerRevocationCheck {
		// A refusal the provider confirmed revokes the link (link.revoked):
		// the check succeeded.
		err = s.revocationChecked(ctx, j, err)
	}
	stopped := errors.Is(ctx.Err(), context.Canceled)
	switch {
	case stopped && queue.Cancelled(ctx):
		// Cancelled (DELETE /v1/jobs/{id}), which reported it
		// (jobCancelled); the queue does not run it again.
		s.initialStopped(ctx, j, initial, true)
	case err == nil || !stopped:
		// Finished, or ran out of its time (a failure the queue retries).
		s.recordJob(ctx, j, jobOutcome{link: link, active: active, rep: rep, err: err, initial: initial})
	default:
		// Shut down mid-run: the queue hands the job back.
		s.initialStopped(ctx, j, initial, false)
	}
	if j.Trigger != ohx.TriggerRevocationCheck && err != nil && errors.Is(err, ohx.ErrTokenRevoked) && ctx.Err() == nil {
		s.markReconsent(ctx, j.LinkID)
	}
	if s.cfg.OnSync != nil {
		s.cfg.OnSync(j, rep, err)
	}
	return err
}

// errNoEngine is the failure of HandleJob and RunWorkers on a server without
// an engine (no provider is configured).
var errNoEngine = errors.New("server: no engine: no provider is configured to sync with")

// RunWorkers consumes the queue with HandleJob until ctx is cancelled. It
// refuses to start without an engine, so a server with no provider leaves
// queued jobs for servers that have one.
func (s *Server) RunWorkers(ctx context.Context) error {
	if s.cfg.Engine == nil {
		return errNoEngine
	}
	return s.cfg.Queue.Run(ctx, s)
}
