//go:build race

package publish

// raceEnabled: the race detector makes sync.Pool drop a share of what it is
// given, on purpose, so pooled memory is allocated again.
const raceEnabled = true
