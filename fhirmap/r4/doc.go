// Package r4 converts the FHIR R5 resources ohx builds (package fhirmap/r5)
// to FHIR R4 (4.0.1), using the R4 models of
// github.com/samply/golang-fhir-models, and marshals them with their
// resourceType first, as package r5 does.
//
// # One mapping, two versions
//
// ohx maps samples once, to the R5 structs; R4 output is that mapping
// converted element by element, so a correction of the mapping (a code, a
// unit, a new component) reaches both versions. The conversion changes only
// what differs between the releases:
//
//   - SampledData: R5 interval (with intervalUnit "ms") becomes R4 period,
//     which is always in milliseconds. R4 has no offsets: offsets evenly
//     spaced from 0 become the period; an irregular R5 series keeps its offsets in the HL7 cross-version extension
//     http://hl7.org/fhir/5.0/StructureDefinition/extension-SampledData.offsets
//     and states period 0, which no regular series can have, so a reader that
//     ignores the extension cannot mistake the series for a regular one.
//   - Device: R5 name[] becomes deviceName[] (registered-name becomes
//     model-name: ohx names a device after its model), type[] becomes the
//     single R4 type, property values become the R4 arrays, and the patient
//     comes from the R5 DeviceAssociation (R4 has no DeviceAssociation; it
//     links a device to its patient with Device.patient).
//   - MDC codings: the R5 example's system urn:oid:2.16.840.1.113883.6.24
//     becomes urn:iso:std:iso:11073:10101, the URI the R4 code system
//     registry gives ISO/IEEE 11073-10101 (same code system, same codes).
//     The other systems ohx writes have the same URI and the codes it uses
//     in R4: LOINC, SNOMED CT, UCUM, observation-category,
//     observation-statistics, v2-0074 and provenance-participant-type
//     ("assembler").
//   - Elements R4 does not have are left out: Observation.triggeredBy,
//     referenceRange.normalValue, DiagnosticReport.note, supportingInfo and
//     media (R5 media link to DocumentReference, R4 to Media),
//     Device.displayName, category, name.display and version.installDate,
//     DeviceAssociation.period, and Provenance.patient.
//
// # The zero-value trap
//
// samply's R4 code types are integers whose zero value is a valid code
// (ObservationStatus 0 is "registered", DeviceNameType 0 is
// "udi-label-name", ProvenanceEntityRole 0 is "derivation"), so a field left
// unset marshals as a plausible but false code. Every code here is converted
// from the R5 string by name and an empty or unknown code is an error, never a
// zero value; TestZeroValueTrap shows the trap and that the conversion
// refuses it.
package r4
