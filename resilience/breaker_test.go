package resilience_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

var (
	errDown    = &ohx.ProviderError{Provider: "fhir", Op: "transaction", Kind: ohx.KindTransient, HTTPStatus: 503}
	errBadReq  = &ohx.ProviderError{Provider: "fhir", Op: "transaction", Kind: ohx.KindPermanent, HTTPStatus: 400}
	errSlowDwn = &ohx.ProviderError{Provider: "fhir", Op: "transaction", Kind: ohx.KindRateLimited, HTTPStatus: 429}
)

func fails(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

func TestBreakerCountsOnlyFailures(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error
		want      resilience.BreakerState
		wantRun   uint32
		cancelled bool
	}{
		{name: "three server errors open", errs: []error{errDown, errDown, errDown}, want: resilience.BreakerOpen, wantRun: 3},
		{name: "unclassified errors are failures", errs: []error{errors.New("eof"), errors.New("eof"), errors.New("eof")}, want: resilience.BreakerOpen, wantRun: 3},
		{name: "a success resets the run", errs: []error{errDown, errDown, nil, errDown, errDown}, want: resilience.BreakerClosed, wantRun: 2},
		{name: "a permanent error is an answer", errs: []error{errDown, errDown, errBadReq, errDown}, want: resilience.BreakerClosed, wantRun: 1},
		{name: "rate limits are not counted", errs: []error{errDown, errDown, errSlowDwn, errSlowDwn, errSlowDwn}, want: resilience.BreakerClosed, wantRun: 2},
		{name: "cancelled calls are not counted", errs: []error{errDown, errDown, errDown, errDown}, want: resilience.BreakerClosed, cancelled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := resilience.NewBreakers(resilience.BreakersConfig{}).Get("fhir", resilience.BreakerSettings{})
			ctx := t.Context()
			if tt.cancelled {
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			for _, err := range tt.errs {
				got := b.Do(ctx, fails(err))
				assert.Equal(t, err, got, "Do returns fn's error unchanged")
			}
			st := b.Status()
			assert.Equal(t, tt.want, st.State)
			assert.Equal(t, tt.wantRun, st.ConsecutiveFailures)
		})
	}
}

func TestBreakerRejectsWhileOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := resilience.NewBreakers(resilience.BreakersConfig{}).Get("fhir", resilience.BreakerSettings{FailureThreshold: 1, OpenTimeout: time.Minute})
		require.Equal(t, errDown, b.Do(t.Context(), fails(errDown)))
		time.Sleep(20 * time.Second)
		called := false
		err := b.Do(t.Context(), func(context.Context) error { called = true; return nil })
		assert.False(t, called)
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.Equal(t, 40*time.Second, ohx.RetryAfter(err))
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.True(t, ohx.Retryable(err))
		assert.Equal(t, "breaker fhir: ohx: circuit open after 1 failure; last: fhir transaction: transient (http 503)", err.Error(),
			"the refusal names what opened the breaker")
		var open *resilience.CircuitOpenError
		require.ErrorAs(t, err, &open)
		assert.Equal(t, resilience.CircuitOpenError{Breaker: "fhir", Failures: 1,
			LastFailure: "fhir transaction: transient (http 503)", Wait: 40 * time.Second}, *open)
	})
}

func TestBreakerHalfOpenLimitsTrialCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := resilience.NewBreakers(resilience.BreakersConfig{}).Get("fhir", resilience.BreakerSettings{FailureThreshold: 1})
		require.Error(t, b.Do(t.Context(), fails(errDown)))
		time.Sleep(resilience.DefaultOpenTimeout + time.Millisecond)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 { // two trial calls are let through and hang
			wg.Go(func() {
				assert.NoError(t, b.Do(t.Context(), func(context.Context) error { <-release; return nil }))
			})
		}
		synctest.Wait()
		err := b.Do(t.Context(), fails(nil))
		require.ErrorIs(t, err, ohx.ErrCircuitOpen, "a third concurrent trial is rejected")
		close(release)
		wg.Wait()
		assert.Equal(t, resilience.BreakerClosed, b.Status().State)
	})
}

func TestForceClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newRecordingMetrics()
		reg := resilience.NewBreakers(resilience.BreakersConfig{Metrics: m})
		fhir := reg.Get("fhir", resilience.BreakerSettings{})
		withings := reg.Get("withings", resilience.BreakerSettings{})
		assert.Same(t, fhir, reg.Get("fhir", resilience.BreakerSettings{FailureThreshold: 99}), "Get returns the existing breaker")
		hang := make(chan struct{})
		done := make(chan error)
		go func() { done <- fhir.Do(t.Context(), func(context.Context) error { <-hang; return errDown }) }()
		synctest.Wait() // the call is in flight
		for range 3 {
			require.Error(t, fhir.Do(t.Context(), fails(errDown)))
		}
		time.Sleep(time.Second)
		assert.Equal(t, []resilience.BreakerStatus{
			{Name: "fhir", State: resilience.BreakerOpen, ConsecutiveFailures: 3, OpenedAt: epoch, LastFailure: "fhir transaction: transient (http 503)"},
			{Name: "withings", State: resilience.BreakerClosed},
		}, reg.Status())

		require.NoError(t, reg.ForceClose("fhir"))
		assert.Equal(t, resilience.BreakerStatus{Name: "fhir", State: resilience.BreakerClosed, OpenedAt: epoch}, fhir.Status())
		require.NoError(t, fhir.Do(t.Context(), fails(nil)))
		// A call that started before ForceClose cannot reopen the new breaker.
		close(hang)
		require.Equal(t, errDown, <-done)
		assert.Equal(t, resilience.BreakerStatus{Name: "fhir", State: resilience.BreakerClosed, OpenedAt: epoch}, fhir.Status())
		assert.Equal(t, []int{0, 2, 0}, m.statesOf("fhir"))
		assert.Equal(t, []int{0}, m.statesOf("withings"))
		assert.Equal(t, resilience.BreakerClosed, withings.Status().State)

		err := reg.ForceClose("nope")
		require.ErrorIs(t, err, ohx.ErrNotFound)
	})
}

func TestBreakerCustomFailureRule(t *testing.T) {
	// A FHIR publisher may count 429 answers of its destination as failures:
	// they are still not counted, rate limits never open a breaker.
	b := resilience.NewBreakers(resilience.BreakersConfig{}).Get("fhir", resilience.BreakerSettings{
		FailureThreshold: 2,
		IsFailure:        func(err error) bool { return ohx.KindOf(err) == ohx.KindPermanent },
	})
	for range 3 {
		_ = b.Do(t.Context(), fails(errSlowDwn))
		_ = b.Do(t.Context(), fails(errDown))
	}
	assert.Equal(t, resilience.BreakerClosed, b.Status().State)
	_ = b.Do(t.Context(), fails(errBadReq))
	_ = b.Do(t.Context(), fails(errBadReq))
	assert.Equal(t, resilience.BreakerOpen, b.Status().State)
	assert.Equal(t, "fhir", b.Name())
	assert.Equal(t, "open", resilience.BreakerOpen.String())
	assert.Equal(t, "half-open", resilience.BreakerHalfOpen.String())
	assert.Equal(t, "closed", resilience.BreakerClosed.String())
	assert.Equal(t, "unknown", resilience.BreakerState(7).String())
}

func TestBreakerLogsEveryCountedFailureScrubbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := observed()
		reg := resilience.NewBreakers(resilience.BreakersConfig{Logger: log})
		b := reg.Get("withings", resilience.BreakerSettings{})
		refused := &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindTransient,
			Err: errors.New(`POST https://wbsapi.withings.net/measure?access_token=SECRET-TOKEN: dial tcp 10.0.0.1:443: connect: connection refused` +
				"\nbody: SECRET-BODY")}
		// Neither a rate limit nor a permanent answer counts, nor is logged
		// as a breaker failure.
		_ = b.Do(t.Context(), fails(errSlowDwn))
		_ = b.Do(t.Context(), fails(errBadReq))
		assert.Zero(t, logs.FilterMessage("call failed").Len())
		for range 3 {
			require.Equal(t, refused, b.Do(t.Context(), fails(refused)), "the caller gets fn's error unchanged")
		}

		failed := logs.FilterMessage("call failed").All()
		require.Len(t, failed, 3, "every counted failure is logged")
		for _, e := range failed {
			assert.Equal(t, zapcore.WarnLevel, e.Level)
			assert.Equal(t, map[string]any{
				"breaker": "withings", "provider": "withings", "op": "getmeas", "kind": "transient", "status": int64(0),
				"cause": "POST https://wbsapi.withings.net/measure: dial tcp 10.0.0.1:443: connect: connection refused",
			}, e.ContextMap())
		}
		opened := logs.FilterMessage("breaker opened").All()
		require.Len(t, opened, 1)
		assert.Equal(t, zapcore.WarnLevel, opened[0].Level)
		assert.Equal(t, uint32(3), opened[0].ContextMap()["failures"])
		assert.Contains(t, opened[0].ContextMap()["last_failure"], "connection refused")

		err := b.Do(t.Context(), fails(nil))
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.Equal(t, "breaker withings: ohx: circuit open after 3 failures; last: withings getmeas: transient: "+
			"POST https://wbsapi.withings.net/measure: dial tcp 10.0.0.1:443: connect: connection refused", err.Error())
		assert.Equal(t, "withings getmeas: transient: POST https://wbsapi.withings.net/measure: dial tcp 10.0.0.1:443: connect: connection refused",
			b.Status().LastFailure)

		all := jsonLines(logs) + err.Error()
		assert.NotContains(t, all, "SECRET", "no query, token or body in logs or errors")

		require.NoError(t, reg.ForceClose("withings"))
		assert.Empty(t, b.Status().LastFailure, "a forced close forgets the run")
	})
}
