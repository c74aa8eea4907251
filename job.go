package ohx

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Trigger says why a sync runs; strategies choose windows from it.
type Trigger string

// Triggers.
const (
	// TriggerInitial: the first sync after linking (default 30 days back).
	TriggerInitial Trigger = "initial"
	// TriggerIncremental: from the cursor (minus an overlap) to now.
	TriggerIncremental Trigger = "incremental"
	// TriggerPush: a provider notification's window.
	TriggerPush Trigger = "push"
	// TriggerBackfill: an explicit window asked for by an operator or API user.
	TriggerBackfill Trigger = "backfill"
	// TriggerReconciliation: the nightly re-read of the last days, to catch
	// lost webhooks.
	TriggerReconciliation Trigger = "reconciliation"
	// TriggerDeviceSync: list the link's devices and publish them.
	TriggerDeviceSync Trigger = "device-sync"
	// TriggerRevocationCheck: a provider said the user unlinked; confirm it
	// with the link's own token before acting (Engine.Sync answers an error
	// wrapping ErrTokenRevoked when the provider refuses the grant, nil when
	// the grant still works). It reads no data.
	TriggerRevocationCheck Trigger = "revocation-check"
)

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerInitial, TriggerIncremental, TriggerPush, TriggerBackfill, TriggerReconciliation, TriggerDeviceSync,
		TriggerRevocationCheck:
		return true
	}
	return false
}

// Priority orders jobs; a lower number runs first.
type Priority int

// Named priorities.
const (
	PriorityWebhook        Priority = 1
	PriorityIncremental    Priority = 3
	PriorityReconciliation Priority = 5
)

// DefaultPriority returns the priority a job of trigger t gets when none is
// set. An initial sync (what a patient who just linked waits for) and a
// revocation check run at the webhook priority, so push jobs of other links
// cannot starve them.
func DefaultPriority(t Trigger) Priority {
	switch t {
	case TriggerPush, TriggerDeviceSync, TriggerInitial, TriggerRevocationCheck:
		return PriorityWebhook
	case TriggerReconciliation:
		return PriorityReconciliation
	default:
		return PriorityIncremental
	}
}

// Job is one unit of queued work: sync these data types of this link. It
// carries ids and windows only, never health values.
type Job struct {
	// ID is assigned by the queue on enqueue when empty.
	ID string `json:"id,omitempty"`
	// LinkID names the link.
	LinkID string `json:"link_id"`
	// DataTypes to sync; empty means all the link may sync.
	DataTypes []DataType `json:"data_types,omitempty"`
	// Window is the explicit window of push and backfill jobs.
	Window *Window `json:"window,omitempty"`
	// Trigger says why the job runs.
	Trigger Trigger `json:"trigger"`
	// Priority orders jobs (lower first); zero means DefaultPriority(Trigger).
	Priority Priority `json:"priority,omitempty"`
	// Deletion marks a job whose window is re-read and whose resources the
	// re-read no longer produces are retracted (marked entered-in-error): a
	// push job caused by a provider deletion notification, or a backfill an
	// operator runs with retraction after an upgrade that changed resource
	// ids (`ohxd sync -retract`, "retract" on POST /v1/links/{id}/sync).
	Deletion bool `json:"deletion,omitempty"`
	// Attempt is the number of earlier failed runs (set by the queue).
	Attempt int `json:"attempt,omitempty"`
	// EnqueuedAt is when the job was first enqueued (set by the queue).
	EnqueuedAt time.Time `json:"enqueued_at,omitzero"`
}

// Validate reports an error for a job without link or with an unknown trigger,
// data type or a malformed window.
func (j *Job) Validate() error {
	if j.LinkID == "" {
		return fmt.Errorf("ohx: job has no link id")
	}
	if !j.Trigger.Valid() {
		return fmt.Errorf("ohx: job has unknown trigger %q", j.Trigger)
	}
	for _, t := range j.DataTypes {
		if !t.Valid() {
			return fmt.Errorf("ohx: job has unknown data type %q", t)
		}
	}
	if j.Window != nil {
		if err := j.Window.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// EffectivePriority returns Priority, or the trigger's default when unset.
func (j *Job) EffectivePriority() Priority {
	if j.Priority != 0 {
		return j.Priority
	}
	return DefaultPriority(j.Trigger)
}

// CoalesceKey identifies jobs that may be merged: same link, same sorted data
// types, same trigger class. Push, incremental and reconciliation jobs of the
// same link and types coalesce (their windows are unioned); backfills and
// device syncs only with their own kind.
func (j *Job) CoalesceKey() string {
	types := make([]string, len(j.DataTypes))
	for i, t := range j.DataTypes {
		types[i] = string(t)
	}
	slices.Sort(types)
	types = slices.Compact(types)
	class := "sync"
	switch {
	case j.Trigger == TriggerBackfill:
		class = "backfill"
	case j.Trigger == TriggerDeviceSync:
		class = "devices"
	case j.Trigger == TriggerRevocationCheck:
		class = "revocation"
	case j.Deletion:
		class = "deletion"
	}
	return j.LinkID + "|" + class + "|" + strings.Join(types, ",")
}

// Merge widens j with a coalescing job o: windows are unioned (a job without
// window stays without one, meaning "whatever the strategy decides"), the
// higher priority (lower number) wins, and an initial sync absorbs the
// incremental, push or reconciliation sync it meets (it reads the whole
// initial history, and the link's initial-sync state follows it).
func (j *Job) Merge(o Job) {
	switch {
	case j.Window == nil || o.Window == nil:
		j.Window = nil
	default:
		u := j.Window.Union(*o.Window)
		j.Window = &u
	}
	if o.EffectivePriority() < j.EffectivePriority() {
		j.Priority = o.EffectivePriority()
	}
	if o.Trigger == TriggerPush && j.Trigger != TriggerPush && j.Window != nil {
		j.Trigger = TriggerPush
	}
	if o.Trigger == TriggerInitial && j.Trigger != TriggerInitial {
		p := j.EffectivePriority()
		j.Trigger = TriggerInitial
		if p != j.EffectivePriority() {
			j.Priority = p
		}
	}
}

// NotificationKind says what a provider notification announces.
type NotificationKind string

// Notification kinds.
const (
	// NotifyData: data was added or changed in the window.
	NotifyData NotificationKind = "data"
	// NotifyDelete: data was deleted in the window.
	NotifyDelete NotificationKind = "delete"
	// NotifyRevoked: the user unlinked or deleted the account at the provider.
	NotifyRevoked NotificationKind = "revoked"
)

// Notification is what a provider webhook handler hands on after verifying a
// request: which user, which data types, which window. Payload values beyond
// that are never trusted; data is always pulled with the user's token.
type Notification struct {
	// Provider is the provider's name.
	Provider string
	// ExternalUserID is the provider's user id.
	ExternalUserID string
	// Kind is what happened.
	Kind NotificationKind
	// DataTypes are the affected data types (may be empty for NotifyRevoked).
	DataTypes []DataType
	// Window is the affected time range; zero when the provider gave none.
	Window Window
	// Received is when the notification arrived.
	Received time.Time
}
