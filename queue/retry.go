package queue

import (
	"math/rand/v2"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Retry is a queue's retry policy for failed jobs. The zero value means: at
// most 10 runs, backoff from 5 s doubling up to 15 min, with jitter.
type Retry struct {
	// MaxAttempts is the maximum number of runs of a job, the first
	// included; zero means 10. A job that fails its last run becomes a dead
	// letter.
	MaxAttempts int
	// Base is the delay before the second run; zero means 5 s. Each later
	// delay doubles.
	Base time.Duration
	// Max caps the computed delay; zero means 15 min. A longer
	// ohx.RetryAfter of the error is still honoured.
	Max time.Duration
}

// Attempts returns the effective maximum number of runs.
func (r Retry) Attempts() int {
	if r.MaxAttempts <= 0 {
		return 10
	}
	return r.MaxAttempts
}

// ShouldRetry reports whether a job whose run number attempt (0 for the first
// run) failed with err gets another run.
func (r Retry) ShouldRetry(attempt int, err error) bool {
	return ohx.Retryable(err) && attempt+1 < r.Attempts()
}

// Delay returns how long to wait before the run that follows failed run number
// attempt (0 for the first run): exponential backoff with "equal jitter" (a
// uniform value between half the step and the step), and at least what the
// error asks for with ohx.RetryAfter.
func (r Retry) Delay(attempt int, err error) time.Duration {
	base, maxDelay := r.Base, r.Max
	if base <= 0 {
		base = 5 * time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 15 * time.Minute
	}
	if maxDelay < base {
		maxDelay = base
	}
	d := base
	for i := 0; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	d = d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no cryptographic randomness
	if ra := ohx.RetryAfter(err); ra > d {
		d = ra
	}
	return d
}
