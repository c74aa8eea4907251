// Package validate checks FHIR R5 JSON the way a strict R5 server would.
//
// It embeds the official HL7 FHIR R5 (5.0.0) JSON schema, so it works in any
// program that imports it, with no file beside the binary. The schema is
// read lazily, one definition at a time: the first validation of a resource
// type decodes and compiles the definitions it reaches (for what ohx emits,
// about 90 of 857, some tens of milliseconds and under 3 MB kept), shared
// by all goroutines afterwards; call [Ready] early to pay that cost up
// front.
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
//   - no empty object, array or string anywhere;
//   - every urn:uuid has RFC 4122 syntax, and inside a bundle every urn:uuid
//     reference resolves to an entry fullUrl;
//   - Bundle.entry.request.ifNoneExist is a bare query without a "Type?" prefix;
//   - the R5 vital-signs profiles an Observation claims in meta.profile
//     (vitalsigns, heartrate, bp, bodyweight, bodytemp, oxygensat, resprate):
//     category, subject, effective[x], codes and units, rule "profile".
//
// # Cost
//
// The full schema runs once per resource shape per process, not once per
// resource. A shape is the member names and JSON types of a resource, in
// document order, array elements included, with nested resources counted as
// "a resource" (each is validated on its own). Every document still gets:
//
//   - a strict JSON read (no repeated member names, valid UTF-8);
//   - the Go checks above, on a tree of the document rather than on maps;
//   - the schema's value rules at every place: the pattern of each string
//     (dateTime, code, id, uri, …), enum and const;
//   - the literal of each number against its FHIR datatype: decimal (at most
//     18 integer and 17 fraction digits), integer, positiveInt and
//     unsignedInt (32-bit, no fraction), which JSON Schema leaves unchecked.
//
// Since the schema's other keywords only look at member names and JSON types,
// a shape the schema accepted once is accepted again whenever the value rules
// hold; a shape it rejected is not cached. The cache holds at most 4,096
// shapes and 16 MiB of keys for all FHIR versions together (arbitrary entries
// are evicted when it is full); a validated Observation then costs a few
// microseconds instead of about fifty.
//
// A single resource (not a Bundle, nothing nested) whose bytes differ from
// one accepted before only inside values takes a shorter road, the template
// path (template.go): one scan compares the bytes between values with the
// earlier document's, applies the value rules above and the generic string
// checks to each value that changed, and takes the earlier verdict when
// every value a Go check read there (a status, a code, a profile URL, a
// reference; of effectiveDateTime only whether it is precise to the day) is
// unchanged. Anything else goes the tree path, which also writes every
// error: the verdict and the error are the same either way
// (TestTemplateValueMutations, FuzzTemplateAgreesWithTreePath). For the
// Observations a sync emits, whose id, identifier, time and value change
// from one to the next, that is under a microsecond. Templates are kept per
// resource type and version: at most 8 skeletons of 64 value sets each,
// documents up to 16 KiB, 8 MiB in all.
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
// the same bundle, reference, uuid and emptiness rules as R5. The vital-signs
// profiles are checked in R5 only. R4 validation takes the same path as R5,
// shape cache included; its number literals follow the R4 patterns (a
// decimal without digit limits). Errors of an R4 validation have Version R4
// and read "fhir r4: …".
//
// Failures come back as an [*Error] that lists every [Violation] with its
// FHIRPath-like location (for example "Bundle.entry[2].resource.status") and
// a rule name. Messages never repeat the offending value, so an error can be
// logged without leaking health data.
package validate
