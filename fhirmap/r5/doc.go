// Package r5 is the FHIR R5 model ohx writes: the resources it emits
// (Observation with SampledData, DiagnosticReport, Device,
// DeviceAssociation, Provenance), the Bundle it publishes them in and the
// OperationOutcome servers answer with. Each resource has a Validate method
// for what the JSON schema cannot check (required codes, invariants such as
// obs-6, obs-7, sdd-1, dev-1, bdl-3c and bdl-7) and a MarshalJSON that
// writes its resourceType.
//
// # Why a public package
//
// Package fhirmap maps samples to these structs (fhirmap.Transformer's
// Observation, Device and DeviceAssociation methods return them) and package
// publish sends and reads Bundles and OperationOutcomes with them. Users who
// write their own transformer or publisher need the same: to build a
// resource ohx does not emit the same way, to adjust ohx's output (add a
// meta.tag or a security label) and marshal it again, or to read a server's
// OperationOutcome. Every resource ohx emits decodes into these structs and
// encodes back to the same JSON; elements ohx never emits are not modelled
// and are dropped on decoding, so this is not a general-purpose FHIR
// library for resources from elsewhere.
//
// # Versions
//
// The package is named after the FHIR version it writes. R4 output is the
// sibling package fhirmap/r4, which converts these structs to samply's R4
// models: the R5-only elements and resources (Observation.triggeredBy, SampledData's
// interval and intervalUnit, Device.name, DeviceAssociation) are why the two
// cannot share structs. The datatypes whose JSON is the same in R4 and R5
// (Coding, CodeableConcept, Quantity, Reference, Identifier, Period, Meta,
// Annotation, Range, Ratio) are aliases of github.com/samply/golang-fhir-models,
// so both packages can share them; samply's R4 resources are never emitted as R5.
//
// Optional elements are pointers or slices with omitempty, required codes are
// string types checked by Validate, and decimals are json.Number so that
// they keep their precision ("72.50" stays 72.50).
package r5
