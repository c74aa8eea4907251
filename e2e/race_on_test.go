//go:build race

package e2e

// raceEnabled reports whether the race detector is on. Under it the FHIR
// schema validation (compiling the R5 schema takes minutes with -race) is
// replaced by a structural check; the run without -race validates every
// resource against the R5 schema.
const raceEnabled = true
