// Package fhirmap maps ohx samples and devices to FHIR R5 resources.
//
// The R5 resources ohx emits are hand-written here (Observation with
// SampledData, DiagnosticReport, Device, DeviceAssociation, Provenance,
// Bundle and OperationOutcome), because no Go library models R5. They reuse
// only the datatypes of github.com/samply/golang-fhir-models whose JSON is the
// same in R4 and R5 (Coding, CodeableConcept, Quantity, Reference, Identifier,
// Period, Meta, Annotation, Range, Ratio); samply's R4 resources are never
// emitted, because they write R4 JSON.
//
// Rules of the structs: optional elements are pointers or slices with
// omitempty, required codes are string types checked by Validate, decimals are
// json.Number so they keep their precision, and MarshalJSON writes the
// resourceType. Every emitted shape is validated in the tests against the
// official R5 schema with the sibling package fhirmap/validate.
//
// Resource ids are deterministic UUID v5 values ([DeterministicID]), so a
// re-sync produces the same ids and publishing is idempotent; [FullURL] turns
// such an id into the urn:uuid fullUrl of a transaction Bundle entry.
package fhirmap
