//go:build !race

package aggregate_test

// raceEnabled is true in a -race build.
const raceEnabled = false
