package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// EventState is where an outbox entry is.
type EventState string

// Outbox entry states.
const (
	// EventPending: waiting for its first or next delivery attempt.
	EventPending EventState = "pending"
	// EventDelivered: the receiver took it.
	EventDelivered EventState = "delivered"
	// EventDead: every attempt failed; it waits for an operator's replay.
	EventDead EventState = "dead"
)

// MaxEventPayload bounds an outbox entry's payload (events are small: ids,
// states and counts).
const MaxEventPayload = 64 << 10

// OutboxEvent is one event in a store's outbox: the event's JSON, written in
// the same transaction as the state change it reports, and its delivery
// bookkeeping. It holds no health value and no token.
type OutboxEvent struct {
	// ID is the event's id (the webhook-id of every attempt).
	ID string
	// Type is the event's type ("link.active", ...).
	Type string
	// LinkID names the link the event is about.
	LinkID string
	// Payload is the event's JSON, as delivered.
	Payload []byte
	// Created is when the entry was written (set by the store).
	Created time.Time
	// State is where the entry is.
	State EventState
	// Attempts counts the delivery attempts started.
	Attempts int
	// NextAttempt is when a pending entry is due; zero means now.
	NextAttempt time.Time
	// LastAttempt is when the last attempt started.
	LastAttempt time.Time
	// LastError classifies the last failed attempt ("http 500",
	// "timeout"); never a receiver's answer.
	LastError string
	// Delivered is when the receiver took it.
	Delivered time.Time
}

func (e *OutboxEvent) check() error {
	switch {
	case e.ID == "" || e.Type == "" || e.LinkID == "":
		return errors.Join(errBadChange, errors.New("store: an event needs an id, a type and a link id"))
	case len(e.Payload) > MaxEventPayload || !json.Valid(e.Payload):
		return errors.Join(errBadChange, errors.New("store: an event's payload must be JSON of at most 64 KiB"))
	}
	return nil
}

// EventQuery selects outbox entries for Outbox.Events. The zero value
// selects the 100 newest entries.
type EventQuery struct {
	// State keeps only the entries in this state when set.
	State EventState
	// LinkID keeps only the entries of this link when set.
	LinkID string
	// Limit caps the number of entries; 0 means 100, and at most 1000 are
	// returned.
	Limit int
}

// EffectiveLimit returns the number of entries q asks for, after the
// default and the cap.
func (q EventQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return 100
	case q.Limit > 1000:
		return 1000
	}
	return q.Limit
}

// Attempt is the outcome of one delivery attempt, for Outbox.SettleEvent.
type Attempt struct {
	// At is when the attempt ended.
	At time.Time
	// Delivered is true when the receiver took the event.
	Delivered bool
	// Error classifies the failure of an attempt that did not deliver.
	Error string
	// Retry is when to try again; zero makes the entry dead.
	Retry time.Time
}

// ErrNotDead is returned by Outbox.ReplayEvent for an entry that is not
// dead.
var ErrNotDead = errors.New("store: the event is not a dead letter")

// Outbox is a store's event outbox, for the server's delivery loop and the
// operator's API. Entries are added by Changer.Apply. Memory, store/sqlite
// and store/postgres implement it.
type Outbox interface {
	// ClaimEvents returns up to limit pending entries due at now (oldest
	// first), counting an attempt for each and setting their NextAttempt to
	// now + lease, so that no other deliverer takes them meanwhile (if this
	// one dies, they are due again when the lease ends).
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error)
	// SettleEvent records the outcome of an attempt on a pending entry: it
	// becomes delivered, pending until a.Retry, or dead. An entry that is
	// no longer pending is left alone.
	SettleEvent(ctx context.Context, id string, a Attempt) error
	// Events lists entries, newest first.
	Events(ctx context.Context, q EventQuery) ([]OutboxEvent, error)
	// ReplayEvent makes a dead entry pending again, due now, with its
	// attempts reset; it returns ohx.ErrNotFound or ErrNotDead.
	ReplayEvent(ctx context.Context, id string) error
	// PruneEvents deletes the entries delivered before deliveredBefore and
	// the dead ones whose last attempt was before deadBefore, and returns
	// how many it deleted.
	PruneEvents(ctx context.Context, deliveredBefore, deadBefore time.Time) (int, error)
}
