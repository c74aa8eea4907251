package validate

// Hooks for the external tests of the fast path.
var (
	// ValidateFull runs the full schema on every document (the reference).
	ValidateFull = validateFull
	// ResetShapes empties the shape cache.
	ResetShapes = resetShapes
)

// SchemaRuns counts the full schema runs of the fast path so far.
func SchemaRuns() int64 { return schemaRuns.Load() }
