package queue

import (
	"context"
	"errors"
)

// StateCancelled is the state of a job that was cancelled (DELETE /v1/jobs/{id}) before it
// finished; it does not run again.
const StateCancelled State = "cancelled"

// ErrFinished is returned by Canceller.Cancel for a job that already ended
// (done, dead or cancelled).
var ErrFinished = errors.New("queue: job already finished")

// Canceller cancels jobs. Memory and the Redis queue implement it.
type Canceller interface {
	// Cancel cancels job id: a job that has not started never runs; a
	// running job's context is cancelled, so the engine stops at its next
	// batch or provider call, with the cursors where the last published
	// batch left them (publishing is idempotent, so nothing is lost or
	// doubled), and it is not retried. It returns ohx.ErrNotFound for an
	// unknown id and ErrFinished for a job that already ended.
	Cancel(ctx context.Context, id string) error
}
