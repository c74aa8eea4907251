package events

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Type names what happened. Its values are part of the API: an EHR switches
// on them.
type Type string

// Event types.
const (
	// LinkActive: the patient completed the consent flow; the link is active
	// and its initial sync is queued.
	LinkActive Type = "link.active"
	// LinkNeedsReconsent: the provider refused the link's tokens for good
	// (the grant was revoked or expired); syncs stop until the patient links
	// again.
	LinkNeedsReconsent Type = "link.needs_reconsent"
	// LinkRevoked: the provider reported that the user unlinked or deleted
	// the account, and refused the link's grant when ohx asked it to
	// confirm; the link's token is deleted and syncs stop.
	LinkRevoked Type = "link.revoked"
	// LinkDeleted: the link was deleted through the API, with its tokens,
	// cursors and bookkeeping.
	LinkDeleted Type = "link.deleted"
	// LinkExpired: a pending link nobody completed the consent flow of was
	// removed.
	LinkExpired Type = "link.expired"
	// SyncCompleted: an initial sync or a backfill finished; Data.Types
	// holds its counts per data type.
	SyncCompleted Type = "sync.completed"
	// SyncFailed: a sync failed for good (a permanent error, or its last
	// retry); Data.ErrorKind classifies the failure.
	SyncFailed Type = "sync.failed"
	// JobCancelled: a queued sync was cancelled before it ran to its end.
	JobCancelled Type = "job.cancelled"
)

// Types returns every event type, in a fixed order (each call returns a new
// slice).
func Types() []Type {
	return []Type{LinkActive, LinkNeedsReconsent, LinkRevoked, LinkDeleted, LinkExpired, SyncCompleted, SyncFailed, JobCancelled}
}

// Valid reports whether t is a known event type.
func (t Type) Valid() bool {
	for _, k := range Types() {
		if t == k {
			return true
		}
	}
	return false
}

// Event is one thing ohx tells the EHR about a link. It carries ids, states,
// times, counts and error kinds, never a health value, a token or an error
// message. Its JSON form is the body of a webhook delivery.
type Event struct {
	// ID is unique per event and stays the same across delivery attempts
	// (the webhook-id header): receivers deduplicate on it.
	ID string `json:"id"`
	// Type is what happened.
	Type Type `json:"type"`
	// Timestamp is when it happened (UTC).
	Timestamp time.Time `json:"timestamp"`
	// LinkID names the link.
	LinkID string `json:"link_id"`
	// Provider is the link's provider ("withings", "fitbit").
	Provider string `json:"provider,omitempty"`
	// Patient is the link's FHIR patient reference ("Patient/123").
	Patient string `json:"patient,omitempty"`
	// Data holds what the type adds.
	Data Data `json:"data"`
}

// Data is the part of an event that depends on its type; fields that do not
// apply are empty and omitted from the JSON.
type Data struct {
	// Reason says why a link changed state: "token_revoked" and
	// "token_expired" (needs re-consent), "provider" (revoked),
	// "api" (deleted), "consent_not_completed" (expired).
	Reason string `json:"reason,omitempty"`
	// JobID is the queue's id of the sync (sync and job events).
	JobID string `json:"job_id,omitempty"`
	// Trigger says why the sync ran ("initial", "backfill", ...).
	Trigger ohx.Trigger `json:"trigger,omitempty"`
	// Window is the explicit window of a backfill or push sync.
	Window *ohx.Window `json:"window,omitempty"`
	// Types holds the counts per data type of a completed sync.
	Types map[ohx.DataType]Counts `json:"types,omitempty"`
	// ErrorKind classifies a failure ("auth", "transient", "permanent",
	// "revoked", ..., see ohx.ErrorKind).
	ErrorKind string `json:"error_kind,omitempty"`
	// Attempts is the number of runs a failed sync used.
	Attempts int `json:"attempts,omitempty"`
}

// Counts are the counts of one data type in a completed sync.
type Counts struct {
	// SamplesRead counts the samples read from the provider.
	SamplesRead int `json:"samples_read"`
	// ResourcesWritten counts the FHIR resources the destination accepted.
	ResourcesWritten int `json:"resources_written"`
}

// NewID returns a fresh event id: "evt_" and 128 random bits, base64url.
func NewID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("events: id: %w", err)
	}
	return "evt_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// New returns an event of type t about link l with a fresh id, stamped at.
func New(t Type, l ohx.Link, at time.Time, d Data) (Event, error) {
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	return Event{ID: id, Type: t, Timestamp: at.UTC(), LinkID: l.ID, Provider: l.Provider, Patient: l.Patient, Data: d}, nil
}

// Sink takes events. Deliver returns nil once the event is safely received;
// an error makes the sender try again later with the same event (same ID),
// so a Sink must tolerate duplicates. [Webhook] is the Sink that POSTs
// signed events to an EHR's URL; an application that embeds ohx may take
// them in-process with its own Sink (or a [SinkFunc]).
type Sink interface {
	// Deliver hands e over.
	Deliver(ctx context.Context, e Event) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e Event) error

// Deliver implements Sink.
func (f SinkFunc) Deliver(ctx context.Context, e Event) error { return f(ctx, e) }
