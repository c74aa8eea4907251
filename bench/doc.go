// Package bench holds ohx's end-to-end benchmarks (go test -bench) and, in
// sub-directories, the load-test program (bench/load) and the fake services
// the benchmarks start as a child process (bench/cmd/fakes), so that the
// fakes' memory is not counted as the sync's. See README.md for the numbers
// and how to reproduce them.
package bench
