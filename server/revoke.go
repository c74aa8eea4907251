package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

// Revocations are confirmed before they act. A provider's "the user
// unlinked" notification (Withings appli 46 unlink/delete, for one) is
// authenticated by a shared secret at best, so Notify only queues a
// revocation check (ohx.TriggerRevocationCheck). The worker asks the
// provider with the link's own token; only a refusal for good (a refresh
// answering invalid_grant, an authorised call failing as revoked) revokes
// the link and drops its token. A forged notification leaves it active.

// Audit actions of link state changes the provider caused or confirmed. The
// state changes themselves, with their events (link.revoked,
// link.expired), are written by revokeLink and expireLink (lifecycle.go).
const (
	auditRevocationQueued      = "link.revocation_check"
	auditRevocationUnconfirmed = "link.revocation_unconfirmed"
	auditLinkRevoked           = "link.revoked"
	auditLinkExpired           = "link.expired"
)

// queueRevocationCheck queues the confirmation of a revocation notification
// (through the group commit, like every notified job) and returns the
// enqueue's error: the notification is acknowledged only once its check is
// durable, else the provider is asked to send it again.
func (s *Server) queueRevocationCheck(ctx context.Context, link ohx.Link) error {
	j := ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerRevocationCheck}
	if _, err := s.intake(ctx, j, ohx.EnqueueOptions{}); err != nil {
		s.cfg.Logger.Error("enqueue of a revocation check failed; the provider is asked to retry",
			zap.String("provider", link.Provider), zap.String("link_id", link.ID), zap.Error(err))
		return fmt.Errorf("server: notification: revocation check not queued: %w", err)
	}
	s.audit(ctx, auditRevocationQueued, zap.String("link_id", link.ID), zap.String("provider", link.Provider))
	return nil
}

// revocationChecked acts on the outcome err of a revocation check job: a
// refused grant revokes the link (the job then succeeded); a grant that
// holds leaves it active; another failure is returned, so the queue retries.
func (s *Server) revocationChecked(ctx context.Context, j ohx.Job, err error) error {
	switch {
	case err == nil:
		s.cfg.Logger.Warn("revocation notification not confirmed by the provider: the link stays active",
			zap.String("link_id", j.LinkID))
		s.audit(ctx, auditRevocationUnconfirmed, zap.String("link_id", j.LinkID))
		return nil
	case errors.Is(err, ohx.ErrTokenRevoked) && ctx.Err() == nil:
		return s.revokeLink(ctx, j.LinkID)
	}
	return err
}

// clampPush bounds a notification's window: no further back than PushMaxAge
// before the notification arrived, no later than PushMaxAhead after now.
func (s *Server) clampPush(n ohx.Notification) ohx.Window {
	now := s.cfg.Now()
	received := n.Received
	if received.IsZero() || received.After(now) {
		received = now
	}
	w := n.Window
	// The bound is rounded up to a whole hour: an hourly aggregator aligns a
	// window's start down to its hour, which must not reach past the bound.
	lo := received.Add(-s.cfg.PushMaxAge)
	if t := lo.Truncate(time.Hour); t.Before(lo) {
		lo = t.Add(time.Hour)
	}
	if w.Start.Before(lo) {
		w.Start = lo
	}
	if hi := now.Add(s.cfg.PushMaxAhead); w.End.After(hi) {
		w.End = hi
	}
	return w
}
