//go:build race

package aggregate_test

// raceEnabled is true in a -race build: single-goroutine tests that only
// count allocations or compile the R5 schema are skipped there (the detector
// finds nothing in them and slows them twentyfold).
const raceEnabled = true
