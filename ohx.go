// Package ohx moves personal health data from wearable clouds into FHIR R5
// servers of electronic health records.
//
// The root package holds the vocabulary every other package speaks:
//
//   - [DataType] and its catalog ([DataTypes], [DataType.Info]): what can be synced.
//   - [Sample]: one measurement, with its UTC time span, the UTC offset in force,
//     its UCUM unit and where it came from. [Device] is a provider's device.
//   - [Link]: a patient's wearable account linked to a patient in the EHR.
//   - [Window], [Notification], [Trigger] and [Job]: what to sync and why.
//   - [Resource]: a FHIR resource ready to publish (type, id, identifier, JSON).
//
// and the small interfaces the sync path is built from: [Provider],
// [SyncStrategy], [Aggregator], [Transformer], [Publisher], [Queue], the stores
// ([LinkStore], [TokenStore], [CursorStore], [Locker]) and the metrics hooks
// [Metrics]. [NewEngine] builds the [Engine] that runs one sync along that
// path:
//
//	strategy → Provider.Fetch → Aggregator → Transformer → Publisher → CursorStore
//
// What a sync reads is the organization's [Policy] (allowed types, hourly or
// individual publication per type, linked-data rules, maximum lookback) ∩ the
// link's consent ∩ the scopes the user granted; the [Report] says what was
// left out and why. [DefaultStrategy] chooses the windows (initial,
// incremental from the cursors, push, backfill in chunks, reconciliation),
// aligned to the hours of an hourly aggregator ([BucketAligner]); [PollDue]
// tells a scheduler when an hourly or daily link is due.
//
// A provider deletion (Google names only a type and a window) becomes a job
// with [Job.Deletion]: the engine re-reads and publishes the window as usual,
// remembering the ids it produced, then asks the destination ([Searcher]) for
// the link's resources of each type in the window and publishes those the
// re-read did not produce again marked entered-in-error ([Retracter]). ohx
// keeps no copy of health data; [TypeReport.Retracted] counts the result.
//
// Everything streams: samples flow through iterators and are published in
// batches, so memory is bounded by the batch size (plus a bundle waiting to be
// filled and, per data type, the target list of the hour's Provenance), never
// by the window. Writes are idempotent (deterministic resource ids), so a job
// that dies half way is simply run again.
//
// Importing ohx links no Redis, SQLite, PostgreSQL or Prometheus code: those
// live in the sub-packages that need them. The design notes are in the
// repository's docs folder: docs/architecture.md (the path, the packages, the
// contracts) and docs/decisions.md (the choices and their reasons).
package ohx

// This file is the place to start: the package tour above and the interfaces
// below, in the order a measurement meets them. The rest of the package:
//
//   - datatype.go, sample.go, device.go: what is measured (DataType and its
//     catalog, Sample, Device);
//   - link.go, frequency.go: who is linked (Link, Token, SyncFrequency,
//     PollDue);
//   - window.go, job.go: what to sync and why (Window, Trigger, Job,
//     Notification);
//   - engine.go: NewEngine and Engine.Sync, the path itself;
//   - strategy.go, align.go: DefaultStrategy and window alignment;
//   - policy.go: the organisation's Policy;
//   - resource.go, retract.go: Resource, Batch, PublishResult; retraction
//     after provider deletions;
//   - report.go, errors.go, typeerror.go, metrics.go: Report, error kinds,
//     *ProviderError and *TypeUnavailableError, the Metrics hooks.

import (
	"context"
	"iter"
	"net/http"
	"time"
)

// Provider reads a user's data from a wearable cloud.
//
// Fetch yields, per data type, samples in non-decreasing Start order inside
// [w.Start, w.End); different types may interleave. A provider may buffer at
// most one provider call's worth of samples (e.g. a day) to reorder
// newest-first pages. It yields a non-nil error (classified, see
// *ProviderError) and stops when a call fails, and stops at once when the
// consumer stops or ctx is cancelled. The one exception: a type the link can
// never read (a scope the user did not grant) is reported with a
// *TypeUnavailableError, after which Fetch goes on with the other types.
type Provider interface {
	// Name returns the provider's stable name ("withings", "fitbit").
	Name() string
	// Fetch streams the samples of the given types in the window.
	Fetch(ctx context.Context, link Link, types []DataType, w Window) iter.Seq2[Sample, error]
	// Devices lists the user's devices.
	Devices(ctx context.Context, link Link) ([]Device, error)
}

// DataTypeLister is implemented by providers that can say which data types
// they offer and which of them a set of granted scopes allows.
type DataTypeLister interface {
	// DataTypes returns the types the provider can fetch.
	DataTypes() []DataType
	// Allowed returns the subset of types the granted scopes permit.
	Allowed(scopes []string, types []DataType) []DataType
}

// Authorizer is implemented by providers that link accounts with OAuth 2.0.
type Authorizer interface {
	// AuthCodeURL returns the URL to send the patient's browser to. state is
	// opaque to the provider; verifier is the PKCE verifier ("" when the
	// provider does not support PKCE).
	AuthCodeURL(state, verifier string, types []DataType) string
	// Exchange trades an authorization code for a token and fills the
	// provider-side fields of link (ExternalUserID, Scopes, TimeZone).
	Exchange(ctx context.Context, code, verifier string, link *Link) (Token, error)
}

// Revoker is implemented by providers that can revoke a grant.
type Revoker interface {
	// Revoke revokes the link's grant at the provider.
	Revoke(ctx context.Context, link Link) error
}

// GrantChecker is implemented by providers that can tell, with the link's own
// token, whether the user's grant still holds: nil when it does, an error
// wrapping ErrTokenRevoked when the provider refuses it for good (a refresh
// answering invalid_grant, or an authorised call failing as revoked), any
// other error when it could not tell. A provider without it is checked by
// listing the link's devices (an authorised call).
type GrantChecker interface {
	// CheckGrant asks the provider whether the link's grant holds.
	CheckGrant(ctx context.Context, link Link) error
}

// Subscriber is implemented by providers with per-user webhook subscriptions.
type Subscriber interface {
	// Subscribe makes sure the link's notifications are subscribed
	// (idempotent).
	Subscribe(ctx context.Context, link Link) error
	// Unsubscribe removes them (idempotent).
	Unsubscribe(ctx context.Context, link Link) error
}

// NotifyFunc receives a verified notification from a webhook handler and
// makes it durable: it returns nil only once the work the notification
// announces is safely queued (for a Redis queue: Redis acknowledged the job)
// or was deliberately dropped (an unknown user, an inactive link, a replay).
// A non-nil error means nothing durable happened: the handler must then
// answer the provider with a status that makes it deliver the notification
// again (503, see provider.RetryLater), never a success. ctx bounds the
// call; a NotifyFunc must not outlive it. server.Server.Notify is the one
// the daemon uses.
type NotifyFunc func(ctx context.Context, n Notification) error

// WebhookReceiver is implemented by providers that receive notifications. The
// handler verifies each request, calls notify for each notification, and
// acknowledges the request only when every call returned nil; when one
// failed it answers so that the provider retries (503), and it never answers
// a status that would make the provider give up on the subscription. It
// never blocks on the sync that follows, only on notify.
type WebhookReceiver interface {
	// WebhookHandler returns an http.Handler an application can mount in its
	// own mux.
	WebhookHandler(notify NotifyFunc) http.Handler
}

// FetchPlan is one provider read a strategy asks for.
type FetchPlan struct {
	// Types are the data types to read over Window.
	Types []DataType
	// Window is the time range to read.
	Window Window
}

// PlanRequest is what a SyncStrategy decides from.
type PlanRequest struct {
	// Link is the link being synced.
	Link Link
	// Job is the queued job (trigger, explicit window).
	Job Job
	// Types are the data types the sync may fetch (after policy and consent).
	Types []DataType
	// Cursors holds, per type, the instant before which everything was
	// published; a type without a cursor has never been synced.
	Cursors map[DataType]time.Time
	// Now is the current time.
	Now time.Time
}

// SyncStrategy chooses what to read for a sync.
type SyncStrategy interface {
	// Plan returns the reads to make, in order.
	Plan(req PlanRequest) ([]FetchPlan, error)
}

// Aggregator turns a link's sample stream into the stream to publish
// (pass-through, or hourly buckets). It must stream: memory may not grow with
// the window.
type Aggregator interface {
	// Aggregate wraps in.
	Aggregate(link Link, in iter.Seq2[Sample, error]) iter.Seq2[Sample, error]
}

// CursorLimiter is implemented by aggregators that hold samples back (an open
// hour): it returns the latest cursor position that is safe when a fetch of
// the link ended at end.
type CursorLimiter interface {
	// CursorLimit returns a time ≤ end.
	CursorLimit(link Link, end time.Time) time.Time
}

// Transformer maps a batch to FHIR resources.
type Transformer interface {
	// Transform maps samples and devices to resources. The engine hands it
	// only samples that passed Sample.Validate; an error fails the batch.
	Transform(ctx context.Context, b Batch) ([]Resource, error)
}

// StreamTransformer is implemented by a Transformer that maps the batches of
// one fetch as one stream, so that what it writes about a bucket of a fixed
// time grid (fhirmap: the Provenance of a data type's hour) covers the whole
// bucket whatever batches its samples came in. The engine then maps every
// fetch through a stream, and aligns every window to grid: it reads whole
// buckets, and re-reads a bucket from its start whenever it reads any of it
// again, so each time it hands the stream all that the provider holds for
// the bucket.
type StreamTransformer interface {
	Transformer
	// Stream starts the mapping of one fetch of link over w. w starts at a
	// bucket boundary of grid; it ends at one, or at the time of the read.
	Stream(link Link, w Window, trigger Trigger, grid BucketAligner) TransformStream
}

// TransformStream maps the batches of one fetch, in the order the provider
// yielded their samples (per data type in non-decreasing Start order). A
// stream is used by one goroutine.
type TransformStream interface {
	// Next maps the next batch: the resources of its samples, then those of
	// the buckets the batch completed. A resource comes after every resource
	// of the stream it refers to.
	Next(ctx context.Context, samples []Sample) ([]Resource, error)
	// Close ends the stream and returns the resources of the buckets still
	// open.
	Close(ctx context.Context) ([]Resource, error)
}

// Publisher writes resources to a destination, idempotently.
type Publisher interface {
	// Publish writes the resources. A nil error means every resource not
	// listed in the result's Rejected was acknowledged.
	Publish(ctx context.Context, rs []Resource) (PublishResult, error)
}

// Handler processes one job from a queue.
type Handler interface {
	// HandleJob runs the job. An error that Retryable reports false for is
	// not retried.
	HandleJob(ctx context.Context, j Job) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, j Job) error

// HandleJob calls f.
func (f HandlerFunc) HandleJob(ctx context.Context, j Job) error { return f(ctx, j) }

// EnqueueOptions tune one enqueue. The zero value means: run as soon as
// possible, coalesce with a pending job of the same CoalesceKey.
type EnqueueOptions struct {
	// Delay postpones the job (also the coalescing debounce).
	Delay time.Duration
	// NoCoalesce enqueues the job even if an equal one is pending.
	NoCoalesce bool
}

// Queue holds jobs until a worker runs them.
type Queue interface {
	// Enqueue adds the job (coalescing it with a pending one of the same
	// CoalesceKey unless told not to) and returns the id of the job that will
	// run it.
	Enqueue(ctx context.Context, j Job, opts EnqueueOptions) (string, error)
	// Run consumes jobs with h until ctx is cancelled, then returns after
	// in-flight jobs finished or were handed back.
	Run(ctx context.Context, h Handler) error
}

// LinkFinder looks links up.
type LinkFinder interface {
	// Link returns the link with the given id, or ErrNotFound.
	Link(ctx context.Context, id string) (Link, error)
	// LinkByExternalUser returns the link of a provider user, or ErrNotFound.
	LinkByExternalUser(ctx context.Context, provider, externalUserID string) (Link, error)
	// LinksByPatient returns the links of a patient reference.
	LinksByPatient(ctx context.Context, patient string) ([]Link, error)
}

// LinkWriter stores and deletes links.
type LinkWriter interface {
	// SaveLink creates or replaces a link.
	SaveLink(ctx context.Context, l Link) error
	// DeleteLink deletes a link with its tokens and cursors.
	DeleteLink(ctx context.Context, id string) error
}

// LinkStore finds and writes links.
type LinkStore interface {
	LinkFinder
	LinkWriter
}

// TokenStore keeps a link's OAuth token, sealed at rest.
type TokenStore interface {
	// Token returns the link's token, or ErrNotFound.
	Token(ctx context.Context, linkID string) (Token, error)
	// SaveToken stores the link's token (replacing the earlier one).
	SaveToken(ctx context.Context, linkID string, t Token) error
}

// CursorStore keeps per (link, data type) cursors: the instant before which
// every sample was published.
type CursorStore interface {
	// Cursors returns the link's cursors; types never synced are absent.
	Cursors(ctx context.Context, linkID string) (map[DataType]time.Time, error)
	// AdvanceCursor moves the cursor of (link, type) to at, never backwards.
	AdvanceCursor(ctx context.Context, linkID string, t DataType, at time.Time) error
}

// Locker provides named leases, used to refresh a rotating token in one
// worker only, even across processes.
type Locker interface {
	// Lock blocks until it holds the lease on name (or ctx ends) and returns
	// the function that releases it. A holder that dies loses the lease after
	// lease.
	Lock(ctx context.Context, name string, lease time.Duration) (release func(), err error)
}

// Store is everything the engine and the daemon need from storage.
type Store interface {
	LinkStore
	TokenStore
	CursorStore
	Locker
}
