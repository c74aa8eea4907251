package store

import (
	"context"
	"errors"
	"time"

	"github.com/openhealthexchange/ohx"
)

// InitialState is where a link's initial sync is.
type InitialState string

// Initial sync states.
const (
	// InitialPending: queued (after the consent flow), or waiting for its
	// next attempt after a failed one.
	InitialPending InitialState = "pending"
	// InitialRunning: a worker runs it.
	InitialRunning InitialState = "running"
	// InitialDone: it finished; the link's history is in the destination.
	InitialDone InitialState = "done"
	// InitialFailed: it failed for good (a permanent error, its last
	// retry, or a cancellation); ErrorKind says why.
	InitialFailed InitialState = "failed"
)

// InitialSync is the state of a link's initial sync, as the server records
// it (not derived from the queue, which forgets finished jobs).
type InitialSync struct {
	// State is where the sync is.
	State InitialState
	// JobID is the queue's id of the job that ran it last.
	JobID string
	// ErrorKind classifies the last failure ("transient", "auth", ...,
	// "cancelled"): why a failed sync failed, or why a pending one waits
	// for another attempt. Empty when no attempt failed.
	ErrorKind string
	// Attempts counts the runs started.
	Attempts int
	// Started is when the first run began; Finished when it became done or
	// failed; Updated when the state last changed.
	Started, Finished, Updated time.Time
}

// InitialSyncStore reads the state of links' initial syncs.
type InitialSyncStore interface {
	// InitialSync returns the state of the link's initial sync, or
	// ohx.ErrNotFound when none was recorded (a link that never became
	// active, or one linked before ohx recorded it).
	InitialSync(ctx context.Context, linkID string) (InitialSync, error)
}

// TypeSync is the outcome of one data type's sync within a Change.
type TypeSync struct {
	// Type is the data type.
	Type ohx.DataType
	// Result is recorded as RecordSync records it.
	Result SyncResult
}

// Change is a set of writes about one link that a Changer applies in one
// transaction: a state change and the events (outbox entries) that report
// it are stored together or not at all.
type Change struct {
	// LinkID names the link; required.
	LinkID string
	// IfStatus, when set, makes the change conditional: it applies only if
	// the stored link exists with this status; otherwise Apply writes
	// nothing and returns ohx.ErrNotFound or ErrStatusChanged. It makes a
	// status transition (and its event) happen once when several
	// processes race to make it.
	IfStatus ohx.LinkStatus
	// Link, when set, is saved as SaveLink saves it; its ID must be LinkID.
	Link *ohx.Link
	// Delete deletes the link with its token, cursors, sync bookkeeping
	// and initial sync state, as DeleteLink does. It excludes Link,
	// Initial and Syncs.
	Delete bool
	// DeleteToken deletes the link's sealed token and keeps the link, as
	// TokenDeleter.DeleteToken does (a revoked link keeps its history, not
	// its credentials).
	DeleteToken bool
	// Initial, when set, replaces the link's initial sync state (its
	// Updated is set to the store's now when zero).
	Initial *InitialSync
	// Syncs are recorded as RecordSync records them.
	Syncs []TypeSync
	// Events are added to the outbox, pending. Their LinkID must be the
	// change's.
	Events []OutboxEvent
}

// ErrStatusChanged is returned by Apply for a conditional change
// (Change.IfStatus) whose link is in another status: someone else changed
// it first.
var ErrStatusChanged = errors.New("store: the link is no longer in the expected status")

// errBadChange reports a Change that contradicts itself.
var errBadChange = errors.New("store: invalid change")

// Check reports a Change that contradicts itself. Stores call it first.
func (c *Change) Check() error {
	switch {
	case c.LinkID == "":
		return errNoID
	case c.Link != nil && c.Link.ID != c.LinkID:
		return errors.Join(errBadChange, errors.New("store: the change's link has another id"))
	case c.Delete && (c.Link != nil || c.Initial != nil || len(c.Syncs) > 0):
		return errors.Join(errBadChange, errors.New("store: a change that deletes a link cannot also write its state"))
	}
	for _, e := range c.Events {
		if err := e.check(); err != nil {
			return err
		}
		if e.LinkID != c.LinkID {
			return errors.Join(errBadChange, errors.New("store: an event of the change names another link"))
		}
	}
	return nil
}

// Changer applies Changes atomically. Memory, store/sqlite and
// store/postgres implement it. The server saves and deletes links through
// Apply when its store is a Changer: a wrapper that watches SaveLink or
// DeleteLink (to keep an index of its own) must watch Apply too, or not be
// a Changer (the server then writes one call after the other, without
// initial sync state or events).
type Changer interface {
	// Apply applies c in one transaction.
	Apply(ctx context.Context, c Change) error
}
