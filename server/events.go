package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// EventDelivery tunes how RunEvents delivers the outbox's events. Its zero
// value is ready to use.
type EventDelivery struct {
	// Retry spaces the attempts of one event: MaxAttempts runs (0 means
	// 15), then the event is a dead letter; delays from Base (0 means 5 s)
	// doubling up to Max (0 means 1 h), with jitter, and at least what the
	// receiver asks for with Retry-After. The defaults retry for about four
	// to six hours.
	Retry queue.Retry
	// Poll is how often the outbox is read when no event of this process
	// woke the deliverer (events written by other replicas, retries that
	// came due); 0 means 1 s.
	Poll time.Duration
	// Batch is the number of events claimed at once (0 means 16), and
	// Concurrency the number delivered at once (0 means 4).
	Batch, Concurrency int
	// Lease is how long claimed events stay reserved to this deliverer; if
	// it dies meanwhile, another one takes them when the lease ends. 0
	// means 5 min. It must exceed a batch's delivery time.
	Lease time.Duration
	// Keep is how long delivered events stay in the outbox (0 means 7
	// days), KeepDead how long dead letters stay for a replay (0 means 30
	// days).
	Keep, KeepDead time.Duration
	// Now schedules attempts; nil means time.Now. It is the real clock in
	// production, whatever Config.Now says.
	Now func() time.Time
}

func (d EventDelivery) withDefaults() EventDelivery {
	if d.Retry.MaxAttempts <= 0 {
		d.Retry.MaxAttempts = 15
	}
	if d.Retry.Base <= 0 {
		d.Retry.Base = 5 * time.Second
	}
	if d.Retry.Max <= 0 {
		d.Retry.Max = time.Hour
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Batch <= 0 {
		d.Batch = 16
	}
	if d.Concurrency <= 0 {
		d.Concurrency = 4
	}
	if d.Lease <= 0 {
		d.Lease = 5 * time.Minute
	}
	if d.Keep <= 0 {
		d.Keep = 7 * 24 * time.Hour
	}
	if d.KeepDead <= 0 {
		d.KeepDead = 30 * 24 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// errNoEvents is the failure of RunEvents on a server without Config.Events.
var errNoEvents = errors.New("server: no event sink is configured")

// eventStore is what events need of the store: atomic changes and the
// outbox.
type eventStore interface {
	store.Changer
	store.Outbox
}

// emit adds an event of type t about l to c, when events are configured.
func (s *Server) emit(c *store.Change, t events.Type, l ohx.Link, d events.Data) error {
	if s.cfg.Events == nil {
		return nil
	}
	e, err := events.New(t, l, s.cfg.Now(), d)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("server: encode event: %w", err)
	}
	c.Events = append(c.Events, store.OutboxEvent{ID: e.ID, Type: string(t), LinkID: c.LinkID, Payload: payload})
	return nil
}

// apply writes c in one transaction with the store's Changer and wakes the
// deliverer when c carries events. A store that is no store.Changer (an
// application's own) gets the plain writes instead: no initial sync state,
// and no events (New refuses events without a Changer). A change that saves
// or deletes the link makes the notification path forget what it
// remembered of it (linkcache.go), whether or not the write went through.
func (s *Server) apply(ctx context.Context, c store.Change) error {
	switch {
	case c.Link != nil:
		defer s.notified.forget(*c.Link)
	case c.Delete:
		defer s.notified.forget(ohx.Link{ID: c.LinkID})
	}
	if ch, ok := s.cfg.Store.(store.Changer); ok {
		if err := ch.Apply(ctx, c); err != nil {
			return err
		}
		if len(c.Events) > 0 {
			s.wakeDeliverer()
		}
		return nil
	}
	return s.applyPlain(ctx, c)
}

// applyPlain writes what a store without store.Changer can: the link, its
// deletion and its sync bookkeeping, one write after the other.
func (s *Server) applyPlain(ctx context.Context, c store.Change) error {
	if c.IfStatus != "" {
		l, err := s.cfg.Store.Link(ctx, c.LinkID)
		if err != nil {
			return err
		}
		if l.Status != c.IfStatus {
			return store.ErrStatusChanged
		}
	}
	if c.Delete {
		return s.cfg.Store.DeleteLink(ctx, c.LinkID)
	}
	if c.Link != nil {
		if err := s.cfg.Store.SaveLink(ctx, *c.Link); err != nil {
			return err
		}
	}
	if c.DeleteToken {
		if err := s.cfg.Store.DeleteToken(ctx, c.LinkID); err != nil {
			return err
		}
	}
	if rec, ok := s.cfg.Store.(store.SyncStatusStore); ok {
		for _, t := range c.Syncs {
			if err := rec.RecordSync(ctx, c.LinkID, t.Type, t.Result); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) wakeDeliverer() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunEvents delivers the events of the store's outbox to Config.Events
// until ctx ends: at least once, oldest first, up to EventDelivery.Batch
// claimed and EventDelivery.Concurrency in flight at a time, each failed
// attempt retried with backoff under the same event id, and after the last
// attempt left as a dead letter that POST /v1/events/{id}/retry replays.
// Delivered and dead events are pruned after EventDelivery.Keep and
// KeepDead. Several processes may run it on one store: each claims its
// events for EventDelivery.Lease. It returns nil when ctx ends, and an error
// at once when no sink is configured.
func (s *Server) RunEvents(ctx context.Context) error {
	if s.cfg.Events == nil {
		return errNoEvents
	}
	d := s.cfg.EventDelivery
	nextPrune := d.Now()
	for {
		if now := d.Now(); !now.Before(nextPrune) {
			s.pruneEvents(ctx, now)
			nextPrune = now.Add(time.Hour)
		}
		full := s.deliverBatch(ctx) == d.Batch
		if ctx.Err() != nil {
			return nil
		}
		if full {
			continue
		}
		t := time.NewTimer(d.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Server) pruneEvents(ctx context.Context, now time.Time) {
	d := s.cfg.EventDelivery
	n, err := s.outbox.PruneEvents(ctx, now.Add(-d.Keep), now.Add(-d.KeepDead))
	switch {
	case err != nil && ctx.Err() == nil:
		s.cfg.Logger.Warn("events: pruning the outbox failed", zap.Error(err))
	case n > 0:
		s.cfg.Logger.Info("events: pruned the outbox", zap.Int("events", n))
	}
}

// deliverBatch claims due events and delivers them; it returns how many it
// claimed.
func (s *Server) deliverBatch(ctx context.Context) int {
	d := s.cfg.EventDelivery
	batch, err := s.outbox.ClaimEvents(ctx, d.Now(), d.Lease, d.Batch)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("events: reading the outbox failed", zap.Error(err))
		}
		return 0
	}
	slots := make(chan struct{}, d.Concurrency)
	var wg sync.WaitGroup
	for _, e := range batch {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			s.deliver(ctx, e)
		})
	}
	wg.Wait()
	return len(batch)
}

// deliver makes one attempt at e and records its outcome.
func (s *Server) deliver(ctx context.Context, e store.OutboxEvent) {
	d := s.cfg.EventDelivery
	log := s.cfg.Logger.With(zap.String("event_id", e.ID), zap.String("event_type", e.Type),
		zap.String("link_id", e.LinkID), zap.Int("attempt", e.Attempts))
	settle := func(a store.Attempt) {
		if err := s.outbox.SettleEvent(context.WithoutCancel(ctx), e.ID, a); err != nil {
			log.Warn("events: recording a delivery failed", zap.Error(err))
		}
	}
	var ev events.Event
	if err := json.Unmarshal(e.Payload, &ev); err != nil {
		settle(store.Attempt{At: d.Now(), Error: "malformed"})
		log.Error("events: an outbox entry is not an event; it is a dead letter")
		return
	}
	start := d.Now()
	err := s.cfg.Events.Deliver(ctx, ev)
	end := d.Now()
	switch {
	case err == nil:
		settle(store.Attempt{At: end, Delivered: true})
		s.cfg.Metrics.EventDelivery(e.Type, "delivered", end.Sub(start))
		log.Debug("events: delivered")
	case ctx.Err() != nil:
		// Shutting down: the event is due again at once, for whoever runs
		// next.
		settle(store.Attempt{At: end, Error: "cancelled", Retry: end})
	case d.Retry.ShouldRetry(e.Attempts-1, err):
		next := end.Add(d.Retry.Delay(e.Attempts-1, err))
		settle(store.Attempt{At: end, Error: deliveryKind(err), Retry: next})
		s.cfg.Metrics.EventDelivery(e.Type, "failed", end.Sub(start))
		log.Info("events: delivery failed, will retry", zap.String("error", deliveryKind(err)), zap.Time("retry_at", next))
	default:
		settle(store.Attempt{At: end, Error: deliveryKind(err)})
		s.cfg.Metrics.EventDelivery(e.Type, "dead", end.Sub(start))
		log.Warn("events: delivery failed for good; the event is a dead letter (POST /v1/events/{id}/retry replays it)",
			zap.String("error", deliveryKind(err)))
	}
}

// deliveryKind classifies a failed delivery without its text (an in-process
// sink's error may say anything).
func deliveryKind(err error) string {
	var de *events.DeliveryError
	if errors.As(err, &de) {
		return de.Kind()
	}
	return "sink: " + ohx.KindOf(err).String()
}
