package validate

import "github.com/openhealthexchange/ohx"

// Hooks for the external tests of the fast path.
var (
	// ResetShapes empties the shape cache.
	ResetShapes = resetShapes
)

// ValidateFull runs the full R5 schema on every resource of the document,
// without the shape cache: the reference the fast path is tested against.
func ValidateFull(data []byte, want string) error { return r5Set.validate(data, want, false) }

// ValidateFullVersion is ValidateFull in FHIR version v.
func ValidateFullVersion(v ohx.FHIRVersion, data []byte, want string) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.validate(data, want, false)
}

// SchemaRuns counts the full schema runs of the fast path so far.
func SchemaRuns() int64 { return schemaRuns.Load() }
