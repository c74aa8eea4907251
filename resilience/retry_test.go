package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 25-Nov-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Wed Nov 25 12:00:10 2026", 10 * time.Second, true},     // ANSI C
		{"Wed, 25 Nov 2026 11:00:00 GMT", 0, true},               // in the past
		{"99999999999999999999", 0, false},                       // overflows int64
		{"9999999999999", time.Duration(1<<63 - 1).Truncate(time.Second), true},
	}
	for _, tt := range tests {
		got, ok := resilience.ParseRetryAfter(tt.in, now)
		assert.Equal(t, tt.wantOK, ok, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
}

func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	s := resilience.RetrySettings{BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	for n, nominal := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		lo, hi := nominal*8/10, min(nominal*12/10, s.MaxDelay)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := s.Backoff(n)
			require.GreaterOrEqual(t, d, lo, "retry %d", n)
			require.LessOrEqual(t, d, hi, "retry %d", n)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 1, "retry %d: jittered", n)
	}
	assert.LessOrEqual(t, s.Backoff(200), s.MaxDelay, "no overflow on a long run")
	assert.LessOrEqual(t, resilience.RetrySettings{}.Backoff(0), resilience.DefaultBaseDelay*12/10, "zero settings take the defaults")
}

func TestRetrySettingsDefaults(t *testing.T) {
	assert.Equal(t, resilience.RetrySettings{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 10 * time.Second, MaxWait: time.Minute},
		resilience.RetrySettings{}.WithDefaults())
	own := resilience.RetrySettings{MaxAttempts: 1}.Or(resilience.RetrySettings{MaxAttempts: 10, MaxElapsed: time.Minute})
	assert.Equal(t, resilience.RetrySettings{MaxAttempts: 1, MaxElapsed: time.Minute}, own, "set fields win over the caller's defaults")
	require.NoError(t, resilience.RetrySettings{}.Validate())
	require.Error(t, resilience.RetrySettings{MaxWait: -time.Second}.Validate())
}

var (
	errFlaky   = &ohx.ProviderError{Provider: "acme", Op: "list", Kind: ohx.KindTransient, HTTPStatus: 502}
	errRefused = &ohx.ProviderError{Provider: "acme", Op: "list", Kind: ohx.KindPermanent, HTTPStatus: 400}
)

func transient(err error) bool {
	return ohx.KindOf(err) == ohx.KindTransient || ohx.KindOf(err) == ohx.KindRateLimited
}

// script returns a function that fails with errs in turn, then succeeds,
// and counts its calls.
func script(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestRetry(t *testing.T) {
	slowDown := func(wait time.Duration) error {
		return &ohx.ProviderError{Provider: "acme", Op: "list", Kind: ohx.KindRateLimited, HTTPStatus: 429, RetryAfter: wait}
	}
	open := &resilience.CircuitOpenError{Breaker: "acme", Failures: 3, Wait: 20 * time.Second}
	tests := []struct {
		name      string
		settings  resilience.RetrySettings
		retryable func(error) bool
		errs      []error
		wantCalls int
		wantErr   error
		// wantElapsed, when set, is the exact time spent (the wait asked
		// for dominates the backoff); else minElapsed..maxElapsed.
		wantElapsed            time.Duration
		minElapsed, maxElapsed time.Duration
	}{
		{name: "transient failures are retried", errs: []error{errFlaky, errFlaky}, retryable: transient, wantCalls: 3,
			minElapsed: 600 * time.Millisecond, maxElapsed: 900 * time.Millisecond}, // 250 ms + 500 ms, ±20 %
		{name: "a permanent failure is not", errs: []error{errRefused}, retryable: transient, wantCalls: 1, wantErr: errRefused},
		{name: "nil retryable retries everything", errs: []error{errRefused}, wantCalls: 2,
			minElapsed: 200 * time.Millisecond, maxElapsed: 300 * time.Millisecond},
		{name: "attempts are bounded", errs: []error{errFlaky, errFlaky, errFlaky, errFlaky, errFlaky}, retryable: transient,
			wantCalls: resilience.DefaultMaxAttempts, wantErr: errFlaky, minElapsed: 1400 * time.Millisecond, maxElapsed: 2100 * time.Millisecond},
		{name: "one attempt means no retry", settings: resilience.RetrySettings{MaxAttempts: 1}, errs: []error{errFlaky},
			retryable: transient, wantCalls: 1, wantErr: errFlaky},
		{name: "an open breaker is the queue's to wait out", errs: []error{open}, retryable: transient, wantCalls: 1, wantErr: open},
		{name: "Retry-After is waited out exactly", errs: []error{slowDown(7 * time.Second)}, retryable: transient,
			wantCalls: 2, wantElapsed: 7 * time.Second},
		{name: "a wait beyond MaxWait ends the call", settings: resilience.RetrySettings{MaxWait: 5 * time.Second},
			errs: []error{slowDown(7 * time.Second)}, retryable: transient, wantCalls: 1, wantErr: slowDown(7 * time.Second)},
		{name: "no retry ends after MaxElapsed", settings: resilience.RetrySettings{BaseDelay: time.Second, MaxElapsed: 2 * time.Second},
			errs: []error{errFlaky, errFlaky, errFlaky}, retryable: transient, wantCalls: 2, wantErr: errFlaky,
			minElapsed: 800 * time.Millisecond, maxElapsed: 1200 * time.Millisecond}, // the second wait (≥ 1.6 s) would end after 2 s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				start := time.Now()
				err := resilience.Retry(t.Context(), tt.settings, tt.retryable, script(&calls, tt.errs...))
				elapsed := time.Since(start)
				assert.Equal(t, tt.wantCalls, calls)
				if tt.wantErr == nil {
					require.NoError(t, err)
				} else {
					assert.Equal(t, tt.wantErr, err, "the last error, unchanged")
				}
				switch {
				case tt.wantElapsed > 0:
					assert.Equal(t, tt.wantElapsed, elapsed)
				case tt.maxElapsed > 0:
					assert.GreaterOrEqual(t, elapsed, tt.minElapsed)
					assert.LessOrEqual(t, elapsed, tt.maxElapsed)
				default:
					assert.Zero(t, elapsed, "no wait")
				}
			})
		})
	}
}

func TestRetryStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		calls := 0
		start := time.Now()
		err := resilience.Retry(ctx, resilience.RetrySettings{MaxAttempts: 10}, nil, func(context.Context) error {
			calls++
			return &ohx.ProviderError{Kind: ohx.KindRateLimited, RetryAfter: 10 * time.Second}
		})
		require.ErrorIs(t, err, context.DeadlineExceeded, "a wait cut short by ctx returns ctx's error")
		assert.Equal(t, 1, calls)
		assert.Equal(t, 3*time.Second, time.Since(start))

		calls = 0
		cancelled, stop := context.WithCancel(t.Context())
		err = resilience.Retry(cancelled, resilience.RetrySettings{}, nil, func(context.Context) error {
			calls++
			stop()
			return fmt.Errorf("cut: %w", context.Canceled)
		})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, calls, "fn's error under a done ctx ends the call")
		assert.False(t, errors.Is(err, ohx.ErrTransient))
	})
}
