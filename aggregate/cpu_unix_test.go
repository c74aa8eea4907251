//go:build unix

package aggregate_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process used so far (user + system), so a
// benchmark on a shared machine can report throughput per CPU second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
