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

type cancelledKey struct{}

// WithCancelled returns ctx carrying cancelled, which reports whether the
// job whose handler gets ctx was cancelled through Canceller.Cancel. Queue
// implementations that cancel running jobs call it on the context they hand
// a job's handler, so that the handler can tell a cancellation (Cancelled).
func WithCancelled(ctx context.Context, cancelled func() bool) context.Context {
	return context.WithValue(ctx, cancelledKey{}, cancelled)
}

// Cancelled reports, inside a job's handler whose context ended, whether the
// job was cancelled through Canceller.Cancel (it does not run again) rather
// than stopped by a shutdown (it runs again) or its timeout. A handler uses
// it to record a cancellation as such. Without a queue's report in ctx it is
// false.
func Cancelled(ctx context.Context) bool {
	f, ok := ctx.Value(cancelledKey{}).(func() bool)
	return ok && f()
}
