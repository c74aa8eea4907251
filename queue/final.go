package queue

import (
	"context"

	"github.com/openhealthexchange/ohx"
)

type retryKey struct{}

// WithRetry returns ctx carrying r, the retry policy of the queue that runs
// a job. Queue implementations call it on the context they hand a job's
// handler, so that the handler can tell its last run (Final).
func WithRetry(ctx context.Context, r Retry) context.Context {
	return context.WithValue(ctx, retryKey{}, r)
}

// Final reports, inside a job's handler, whether a failure of j with err
// ends the job for good: the queue that runs it (its policy in ctx, from
// WithRetry) will not run it again, and it becomes a dead letter. A
// handler uses it to report a failure once rather than on every attempt.
// Without a policy in ctx, only an error ohx.Retryable refuses is final.
func Final(ctx context.Context, j ohx.Job, err error) bool {
	if err == nil {
		return false
	}
	r, ok := ctx.Value(retryKey{}).(Retry)
	if !ok {
		return !ohx.Retryable(err)
	}
	return !r.ShouldRetry(j.Attempt, err)
}
