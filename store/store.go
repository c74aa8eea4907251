package store

import (
	"context"
	"time"

	"github.com/openhealthexchange/ohx"
)

// LinkQuery selects links for LinkLister.Links. The zero value selects every
// link. Results are ordered by link ID so that AfterID pages through them.
type LinkQuery struct {
	// Provider keeps only the links of this provider when set.
	Provider string
	// Status keeps only the links in this state when set.
	Status ohx.LinkStatus
	// AfterID keeps only the links whose ID sorts after it (keyset paging:
	// pass the last ID of the previous page).
	AfterID string
	// Limit caps the number of links returned; 0 means no cap.
	Limit int
}

// LinkLister lists links, for the scheduler and the API.
type LinkLister interface {
	// Links returns the links q selects, ordered by ID.
	Links(ctx context.Context, q LinkQuery) ([]ohx.Link, error)
}

// SyncResult is the outcome of one sync of one (link, data type), as the
// caller reports it to RecordSync.
type SyncResult struct {
	// At is when the sync finished; the zero value means the store's now.
	At time.Time
	// Err is the failure, nil on success. Only its classification is kept
	// (see SyncErrorMessage), never its full text.
	Err error
	// Count is the number of resources the sync wrote (the destination
	// accepted).
	Count int
	// Samples is the number of samples the sync read from the provider.
	Samples int
}

// SyncStatus is the bookkeeping of one (link, data type): times, counts and
// the classified last error. It never holds a health value.
type SyncStatus struct {
	// DataType is the data type the status is about.
	DataType ohx.DataType
	// LastAttempt is when the last sync, successful or not, finished.
	LastAttempt time.Time
	// LastSuccess is when the last successful sync finished.
	LastSuccess time.Time
	// LastErrorAt is when the last failed sync finished.
	LastErrorAt time.Time
	// LastErrorKind is the ohx.ErrorKind name of the last failure
	// ("transient", "auth", ...), or "cancelled".
	LastErrorKind string
	// LastError is a short classified message of the last failure (see
	// SyncErrorMessage).
	LastError string
	// Successes and Failures count the syncs recorded.
	Successes, Failures int64
	// ConsecutiveFailures counts the failures since the last success.
	ConsecutiveFailures int64
	// Items is the total of SyncResult.Count (resources written) over
	// successful syncs.
	Items int64
	// SamplesRead is the total of SyncResult.Samples over successful
	// syncs.
	SamplesRead int64
}

// SyncStatusStore keeps sync bookkeeping per (link, data type).
type SyncStatusStore interface {
	// RecordSync adds the outcome of a sync of (link, type).
	RecordSync(ctx context.Context, linkID string, t ohx.DataType, r SyncResult) error
	// SyncStatus returns the link's status per data type; types never
	// recorded are absent.
	SyncStatus(ctx context.Context, linkID string) (map[ohx.DataType]SyncStatus, error)
}

// Rewrapper is implemented by stores that seal tokens: Rewrap re-encrypts
// every stored secret that is not sealed under the key ring's primary key and
// returns how many tokens it rewrote. After it succeeds, keys other than the
// primary can be removed from the ring.
type Rewrapper interface {
	// Rewrap re-encrypts every stored token under the primary key.
	Rewrap(ctx context.Context) (int, error)
}

// Store is an ohx.Store with the listing, the bookkeeping, the atomic
// changes, the event outbox, the patient connect flows and the deletion of
// a revoked link's token the daemon needs. Memory and the durable stores in
// the sub-packages implement it.
type Store interface {
	ohx.Store
	LinkLister
	SyncStatusStore
	InitialSyncStore
	Changer
	Outbox
	ConnectStore
	TokenDeleter
}

// Apply returns s with the outcome r folded in, as RecordSync does; every
// store uses it so that they all count alike. r.At should already be set.
func (s SyncStatus) Apply(r SyncResult) SyncStatus {
	s.LastAttempt = r.At
	if r.Err == nil {
		s.LastSuccess = r.At
		s.Successes++
		s.ConsecutiveFailures = 0
		s.Items += int64(max(r.Count, 0))
		s.SamplesRead += int64(max(r.Samples, 0))
		return s
	}
	s.LastErrorAt = r.At
	s.LastErrorKind, s.LastError = SyncErrorMessage(r.Err)
	s.Failures++
	s.ConsecutiveFailures++
	return s
}
