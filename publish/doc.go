// Package publish holds the ohx.Publisher implementations: where the FHIR
// resources of a sync end up.
//
//   - [NDJSON] writes FHIR Bulk Data NDJSON files into a directory, one file
//     per resource type and one line per resource id. It is the embedded
//     default destination and what the demo writes; re-running a sync into
//     the same directory never duplicates a resource.
//
// Every publisher is idempotent: resources carry deterministic ids, so a
// batch published twice has the effect of publishing it once. A resource that
// cannot be written for good is reported in ohx.PublishResult.Rejected with a
// reason that never echoes health values, and the rest of the batch is still
// written.
package publish
