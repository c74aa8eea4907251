package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
)

// memoryOutbox is the outbox of a Memory store: entries by id, and their
// ids in the order they were written.
type memoryOutbox struct {
	byID  map[string]*OutboxEvent
	order []string
}

var (
	_ Changer          = (*Memory)(nil)
	_ InitialSyncStore = (*Memory)(nil)
	_ Outbox           = (*Memory)(nil)
)

// Apply implements Changer: the whole change under the store's lock.
func (m *Memory) Apply(_ context.Context, c Change) error {
	if err := c.Check(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.IfStatus != "" {
		l, ok := m.links[c.LinkID]
		if !ok {
			return ohx.ErrNotFound
		}
		if l.Status != c.IfStatus {
			return ErrStatusChanged
		}
	}
	for _, e := range c.Events {
		if _, dup := m.outbox.byID[e.ID]; dup {
			return fmt.Errorf("store: event %q already exists", e.ID)
		}
	}
	if c.Delete {
		m.deleteLink(c.LinkID)
	}
	if c.DeleteToken {
		delete(m.tokens, c.LinkID)
	}
	if c.Link != nil {
		m.saveLink(*c.Link)
	}
	if c.Initial != nil {
		in := *c.Initial
		if in.Updated.IsZero() {
			in.Updated = m.now()
		}
		m.initial[c.LinkID] = utcInitial(in)
	}
	for _, s := range c.Syncs {
		m.recordSync(c.LinkID, s.Type, s.Result)
	}
	now := m.now().UTC()
	for _, e := range c.Events {
		e := newOutboxEntry(e, now)
		m.outbox.byID[e.ID] = &e
		m.outbox.order = append(m.outbox.order, e.ID)
	}
	return nil
}

// newOutboxEntry returns e as a fresh pending entry written at now.
func newOutboxEntry(e OutboxEvent, now time.Time) OutboxEvent {
	return OutboxEvent{ID: e.ID, Type: e.Type, LinkID: e.LinkID, Payload: slices.Clone(e.Payload), Created: now, State: EventPending}
}

// utcInitial returns in with its times in UTC.
func utcInitial(in InitialSync) InitialSync {
	in.Started, in.Finished, in.Updated = utc(in.Started), utc(in.Finished), utc(in.Updated)
	return in
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// InitialSync implements InitialSyncStore.
func (m *Memory) InitialSync(_ context.Context, linkID string) (InitialSync, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.initial[linkID]
	if !ok {
		return InitialSync{}, ohx.ErrNotFound
	}
	return in, nil
}

func cloneEvent(e *OutboxEvent) OutboxEvent {
	c := *e
	c.Payload = slices.Clone(e.Payload)
	return c
}

// ClaimEvents implements Outbox.
func (m *Memory) ClaimEvents(_ context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []OutboxEvent
	for _, id := range m.outbox.order {
		if len(out) >= limit {
			break
		}
		e := m.outbox.byID[id]
		if e.State != EventPending || e.NextAttempt.After(now) {
			continue
		}
		e.Attempts++
		e.LastAttempt = now.UTC()
		e.NextAttempt = now.Add(lease).UTC()
		out = append(out, cloneEvent(e))
	}
	return out, nil
}

// SettleEvent implements Outbox.
func (m *Memory) SettleEvent(_ context.Context, id string, a Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.outbox.byID[id]
	if !ok || e.State != EventPending {
		return nil
	}
	settle(e, a)
	return nil
}

// settle applies an attempt's outcome to a pending entry; every store
// follows it.
func settle(e *OutboxEvent, a Attempt) {
	switch {
	case a.Delivered:
		e.State, e.Delivered, e.NextAttempt = EventDelivered, a.At.UTC(), time.Time{}
	case a.Retry.IsZero():
		e.State, e.LastError, e.NextAttempt = EventDead, a.Error, time.Time{}
	default:
		e.LastError, e.NextAttempt = a.Error, a.Retry.UTC()
	}
}

// Events implements Outbox.
func (m *Memory) Events(_ context.Context, q EventQuery) ([]OutboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []OutboxEvent{}
	for i := len(m.outbox.order) - 1; i >= 0 && len(out) < q.EffectiveLimit(); i-- {
		e := m.outbox.byID[m.outbox.order[i]]
		if (q.State == "" || e.State == q.State) && (q.LinkID == "" || e.LinkID == q.LinkID) {
			out = append(out, cloneEvent(e))
		}
	}
	return out, nil
}

// ReplayEvent implements Outbox.
func (m *Memory) ReplayEvent(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.outbox.byID[id]
	switch {
	case !ok:
		return ohx.ErrNotFound
	case e.State != EventDead:
		return ErrNotDead
	}
	e.State, e.Attempts, e.NextAttempt = EventPending, 0, time.Time{}
	return nil
}

// PruneEvents implements Outbox.
func (m *Memory) PruneEvents(_ context.Context, deliveredBefore, deadBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	m.outbox.order = slices.DeleteFunc(m.outbox.order, func(id string) bool {
		e := m.outbox.byID[id]
		gone := e.State == EventDelivered && e.Delivered.Before(deliveredBefore) ||
			e.State == EventDead && e.LastAttempt.Before(deadBefore)
		if gone {
			delete(m.outbox.byID, id)
			n++
		}
		return gone
	})
	return n, nil
}
