// Package publish holds the ohx.Publisher implementations: where the FHIR
// resources of a sync end up.
//
//   - [NDJSON] writes FHIR Bulk Data NDJSON files into a directory, one file
//     per resource type and one line per resource id. It is the embedded
//     default destination; re-running a sync into the same directory never
//     duplicates a resource.
//   - [FHIR] writes to a FHIR R5 or R4 server ([FHIRConfig.Version]) as
//     transaction Bundles
//     ([FHIRConfig.BundleSize] entries, 100 by default), in one of three
//     idempotent [WriteMode]s: PUT by deterministic id (default), conditional
//     create on the business identifier, or conditional update. Devices,
//     DeviceAssociations and Provenances are always upserted; a Provenance,
//     which has no identifier element, is found by the meta.tag fhirmap
//     gives it (_tag).
//
// # The server's FHIR release
//
// Before its first write, [FHIR] reads the server's CapabilityStatement
// (GET [base]/metadata, once per publisher; [FHIR.Check] does the same at
// start) and maps its fhirVersion to a release: 4.0.0 and 4.0.1 are R4,
// 5.0.0 is R5. A server of another release than [FHIRConfig.Version], or a
// resource whose ohx.Resource.FHIRVersion is not the server's, makes the
// call fail with a [*VersionError] naming both releases, before anything is
// sent. A server without a CapabilityStatement fails with
// [ErrNoCapabilityStatement] unless [FHIRConfig.SkipVersionCheck] is set.
//
// # What FHIR does with a batch of resources
//
// Every resource is validated first (fhirmap/validate: the schema of the
// publisher's release and the project's extra checks); an invalid one is
// rejected with the reason and never sent. The rest go out in transaction Bundles. Every entry of the
// transaction-response is checked. When the server refuses a whole
// transaction, the publisher isolates the bad resources (as a batch when the
// entries are independent, else by dropping the entry the OperationOutcome
// names together with the entries that reference it), so one bad resource
// does not block the others; it is reported in ohx.PublishResult.Rejected
// with a reason built from the OperationOutcome's codes and locations,
// never its free text, which could echo health values. Failures are
// [*FHIRError] values that match the ohx sentinels (ErrPermanent,
// ErrTransient, ErrRateLimited, ErrAuth).
//
// # Back-pressure
//
// Every HTTP attempt waits for the destination's rate limit
// ([FHIRConfig.RateLimit], unlimited by default) and goes through its
// circuit breaker, a resilience.Breakers entry named [BreakerName](Name)
// ("fhir:ehr.example"), the name an operator API lists and closes it by: 5
// consecutive failed attempts open it for 60 s, then 3 successes close it;
// an open breaker fails at once with ohx.ErrCircuitOpen, naming the failure
// that opened it. 429 and 503 answers are waited out for their Retry-After
// (a 429 pauses every request to the destination); 5xx, 408, 409 and
// network errors are retried with backoff, within [FHIRConfig.Retry] (a
// minute and 10 attempts by default), then the batch fails and the engine
// keeps its cursors. Other 4xx answers are permanent for the entry
// concerned. Every failure the breaker counts is logged at warn with the
// destination, operation, kind, status and the OperationOutcome's codes,
// never a URL query, a token or free text.
//
// # Authentication
//
// [FHIRConfig.Auth] takes any oauth2.TokenSource: [StaticToken] for a fixed
// bearer token, [ClientCredentials] for the OAuth 2.0 client credentials
// grant, and [SMARTBackend] for SMART Backend Services (a client assertion
// JWT signed RS384 or ES384). Tokens are cached and replaced before they
// expire.
//
// [FHIR.Search] and [FHIR.FindByIdentifier] look resources up on the same
// server, for example to find what to retract after an upstream deletion;
// [FHIR.SearchResources] is the same search as an [ohx.Searcher] for the
// engine's deletion jobs. Retractions are written back like any resource; in
// WriteConditionalCreate mode a resource whose status is entered-in-error is
// written with a conditional update instead, since a conditional create
// would leave the existing resource as it is.
//
// The sub-package fhirtest is an in-process FHIR R5 or R4 server for tests.
package publish
