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
// [Metrics]. [Engine] runs one sync along that path:
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
// batches, so memory is bounded by the batch size, never by the window. Writes
// are idempotent (deterministic resource ids), so a job that dies half way is
// simply run again.
//
// Importing ohx links no Redis, SQLite, PostgreSQL or Prometheus code: those
// live in the sub-packages that need them.
package ohx
