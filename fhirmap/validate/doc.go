// Package validate checks FHIR R5 JSON the way a strict R5 server would.
//
// It embeds the official HL7 FHIR R5 (5.0.0) JSON schema, so it works in any
// program that imports it, with no file beside the binary. The schema is
// parsed and compiled lazily on first use (about half a second) and shared by
// all goroutines afterwards; call [Ready] early to pay that cost up front.
//
// Nested resources (Bundle entries, contained resources, outcomes in
// responses) are validated against the definition their resourceType names.
// The schema types them as ResourceList, a oneOf over every resource
// definition whose branches differ only by their resourceType constant, so
// this is equivalent; it compiles only the definitions in use and reports
// errors of the right branch.
//
// The schema rejects unknown elements (and therefore the R4 shapes such as
// SampledData.period, Device.deviceName or Device.patient), wrong JSON types
// and missing required complex elements. It cannot see required primitive
// elements, the codes of required bindings, invariants or references, so
// [Resource] and [Bundle] add Go checks for what the project emits:
//
//   - required primitives: Observation.status, DiagnosticReport.status,
//     SampledData.intervalUnit and dimensions (> 0), Bundle.type,
//     Bundle.entry.request.method and url, Observation.triggeredBy.type;
//   - codes of required bindings: observation-status, diagnostic-report-status,
//     http-verb, bundle-type, device-nametype, device-status,
//     deviceassociation-status, observation-triggeredbytype;
//   - invariants sdd-1 (interval xor offsets), obs-6, obs-7, dev-1, bdl-3c and
//     bdl-7 (unique fullUrl);
//   - no empty object or array anywhere;
//   - every urn:uuid has RFC 4122 syntax, and inside a bundle every urn:uuid
//     reference resolves to an entry fullUrl;
//   - Bundle.entry.request.ifNoneExist is a bare query without a "Type?" prefix.
//
// # FHIR R4
//
// [ResourceVersion] and [BundleVersion] validate in the FHIR version given:
// R5 is [Resource] and [Bundle]; R4 uses a second embedded schema, the HL7
// FHIR R4 (4.0.1) JSON schema (fhir.schema.r4.SOURCE.md names its origin),
// parsed only on the first R4 validation so that an R5-only program never
// pays for it. The R4 schema enumerates the codes of most required
// bindings; the R4 Go checks add the required primitives it cannot see
// (Observation.status, SampledData.period and dimensions,
// Device.deviceName.name and type, Provenance.recorded and entity.role,
// DiagnosticReport.status), Device.type as a single object, obs-6, obs-7 and
// the same bundle, reference, uuid and emptiness rules as R5. Errors of an
// R4 validation have Version R4 and read "fhir r4: …".
//
// Failures come back as an [*Error] that lists every [Violation] with its
// FHIRPath-like location (for example "Bundle.entry[2].resource.status") and
// a rule name. Messages never repeat the offending value, so an error can be
// logged without leaking health data.
package validate
