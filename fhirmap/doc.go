// Package fhirmap maps ohx samples and devices to FHIR R5 resources, or,
// with Config.Version = ohx.R4, to FHIR R4 resources (see "R4" below).
//
// # Mapping
//
// [Transformer] implements ohx.Transformer. For a batch of one link it emits:
//
//   - an Observation per sample, coded with LOINC where the R5 vital-signs
//     profiles or LOINC define the measurement, with UCUM units, the local time
//     of the measurement (effectiveDateTime, or effectivePeriod for intervals
//     and daily summaries), subject = the link's patient and device =
//     Device/{deterministic id}; blood pressure as a panel with components,
//     sleep as the total with stage components, RR intervals as SampledData;
//   - for an ECG, the waveform Observation (valueSampledData with the
//     provider's integer samples, origin 0 mV, factor to mV, interval
//     1000/Hz ms), the heart rate recorded with it (derivedFrom the waveform)
//     and an EKG-study DiagnosticReport whose result references both and whose
//     conclusionCode carries the rhythm classification;
//   - for hourly aggregates, one Observation per link, type and hour with the
//     natural statistic as value and observation-statistics components;
//   - a Device and a DeviceAssociation (status attached for what the patient
//     wears, unknown for a device that is used but not worn; period.start only
//     from the provider's first-use time) per provider device;
//   - a Provenance per data type and batch, with the ohx software Device (or a
//     configured Organization) as assembler, the measuring devices as authors
//     and the provider as custodian; its id follows from its targets and
//     their content, so a re-sync of unchanged data adds none.
//
// [MappingTable] renders the full table; the README's mapping section is
// generated from it.
//
// # Identity
//
// Resource ids are deterministic UUID v5 values ([SampleID], [DeviceID],
// [ProvenanceID], [DeterministicID]), so a re-sync produces the same ids and
// publishing is idempotent. Business identifiers use provider-scoped systems
// under a configurable base URI (default urn:ohx), e.g.
// urn:ohx:withings:observation; the same base names our own code system
// (urn:ohx:code) for measurements without a standard code. Observations are
// published final (never amended: the mapping cannot know whether a
// destination holds an earlier version; a correction is an update of the same
// id); vital signs claim the R5 vital-signs profiles they meet in
// meta.profile, and ohx's hourly aggregates carry the meta.tag
// {BaseURI}:tag#aggregate;
// [EnteredInError] rewrites a published resource for a provider deletion;
// [Transformer.RetractionQueries] and [Transformer.Retract] implement
// [ohx.Retracter] on top of it, so the engine can find and retract what a
// deleted record was published as.
//
// # R5 structs
//
// The resources are built with the structs of the sibling package
// fhirmap/r5 (Observation with SampledData, DiagnosticReport, Device,
// DeviceAssociation, Provenance, Bundle, OperationOutcome), hand-written
// because no Go library models R5. They are public so that custom
// transformers and publishers can build, adjust and read resources the same
// way. Publishers wrap the resources in Bundles (see package publish).
//
// # R4
//
// With Config.Version = ohx.R4 the same mapping is converted to FHIR R4 by
// the sibling package fhirmap/r4 (samply's R4 models): SampledData period
// instead of interval, no DeviceAssociation (the Device names its patient),
// deviceName, the R4 URI of MDC, no Provenance.patient. Individual vital
// signs claim the US Core 6.1.0 profile they meet in meta.profile (heart
// rate, respiratory rate, body temperature, body weight, pulse oximetry,
// blood pressure). [MappingTableR4] lists every difference; the R4 fast path
// writes the bytes of [Transformer.ObservationR4] marshalled by r4.Marshal,
// checked by TestR4FastPathEqualsGeneric, and every R4 shape is validated
// against the R4 schema (TestR4Conformance, testdata/golden-r4).
//
// # Proof
//
// Every emitted shape is validated in the tests against the official R5 JSON
// schema plus Go checks with the sibling package fhirmap/validate (see
// TestConformance and the golden files in testdata/golden). The frequent
// single-quantity Observation has a hand-written JSON fast path, checked
// byte-for-byte against the generic path by TestFastPathEqualsGeneric.
package fhirmap
