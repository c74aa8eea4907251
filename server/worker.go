package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// Notify turns a verified provider notification into work: a push job for
// the notified user's link (debounced so bursts coalesce, its window
// clamped by Config.PushMaxAge and PushMaxAhead), a deletion job, or a
// revocation check (revoke.go). Notifications for unknown or inactive users are dropped. It
// is the callback handed to provider webhook handlers and returns quickly.
func (s *Server) Notify(ctx context.Context, n ohx.Notification) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 1500*time.Millisecond)
	defer cancel()
	log := s.cfg.Logger.With(zap.String("provider", n.Provider), zap.String("kind", string(n.Kind)))
	link, err := s.cfg.Store.LinkByExternalUser(ctx, n.Provider, n.ExternalUserID)
	if err != nil {
		if errors.Is(err, ohx.ErrNotFound) {
			log.Info("notification for an unknown user dropped")
		} else {
			log.Error("notification lookup failed", zap.Error(err))
		}
		return
	}
	log = log.With(zap.String("link_id", link.ID))
	if link.Status != ohx.LinkActive {
		log.Info("notification for an inactive link dropped", zap.String("status", string(link.Status)))
		return
	}
	if n.Kind == ohx.NotifyRevoked {
		// Unconfirmed: anyone who knows the webhook secret can send it.
		s.queueRevocationCheck(ctx, link, log)
		return
	}
	var types []ohx.DataType
	for _, t := range n.DataTypes {
		if link.Consents(t) && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(n.DataTypes) > 0 && len(types) == 0 {
		log.Info("notification for types outside the link's consent dropped")
		return
	}
	j := ohx.Job{LinkID: link.ID, DataTypes: types, Trigger: ohx.TriggerPush, Deletion: n.Kind == ohx.NotifyDelete}
	if !n.Window.Empty() {
		if n.Window = s.clampPush(n); n.Window.Empty() {
			log.Info("notification window outside the push bounds dropped")
			return
		}
	}
	if n.Window.Empty() {
		j.Trigger = ohx.TriggerIncremental
		j.Priority = ohx.PriorityWebhook
	} else {
		w := n.Window
		j.Window = &w
	}
	s.enqueueNotified(ctx, j, log)
}

// intake serializes the enqueues of one coalescing key in this process and
// remembers the last window it enqueued, so a burst of identical webhooks
// costs one queue round trip instead of racing on the queue's optimistic
// locks.
type intake struct {
	mu     sync.Mutex
	window ohx.Window
	at     time.Time
}

// enqueueNotified enqueues a push job with the debounce delay. A notification
// whose window lies inside the window this process enqueued for the same key
// less than half a debounce ago is already covered: that job is still
// pending (it waits the whole debounce), so skipping it loses nothing.
func (s *Server) enqueueNotified(ctx context.Context, j ohx.Job, log *zap.Logger) {
	v, _ := s.intakes.LoadOrStore(j.CoalesceKey(), &intake{})
	in := v.(*intake)
	in.mu.Lock()
	defer in.mu.Unlock()
	now := s.cfg.Now()
	if j.Window != nil && s.cfg.Debounce > 0 && !in.at.IsZero() && now.Sub(in.at) < s.cfg.Debounce/2 &&
		!j.Window.Start.Before(in.window.Start) && !j.Window.End.After(in.window.End) {
		return
	}
	if _, err := s.cfg.Queue.Enqueue(ctx, j, ohx.EnqueueOptions{Delay: s.cfg.Debounce}); err != nil {
		// The provider's retries and the nightly reconciliation recover it.
		log.Error("enqueue of a notification failed", zap.Error(err))
		return
	}
	if j.Window != nil {
		in.window, in.at = *j.Window, now
	} else {
		in.at = time.Time{}
	}
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
