package fitbit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/internal/testkit"
)

// staleScopes links a user who unticked the activity and sleep scopes, then
// gives the link every scope, as a link whose recorded scopes are out of
// date would have: the provider is asked for types Google refuses.
func staleScopes(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 5 * time.Minute, DenyScopes: []string{fitbit.ScopeActivity, fitbit.ScopeSleep}})
	require.NotContains(t, e.link.Scopes, fitbit.ScopeActivity)
	e.link.Scopes = append(e.link.Scopes, fitbit.ScopeActivity, fitbit.ScopeSleep)
	require.NoError(t, e.store.SaveLink(t.Context(), e.link))
	return e
}

// TestScopeRefusalSkipsOnlyItsTypes: Google's 403
// ACCESS_TOKEN_SCOPE_INSUFFICIENT for one type (dense steps, sparse sleep)
// is reported as that type unavailable, with the reason, and the other
// types are read in full.
func TestScopeRefusalSkipsOnlyItsTypes(t *testing.T) {
	e := staleScopes(t)
	unavailable := map[ohx.DataType]*ohx.TypeUnavailableError{}
	read := map[ohx.DataType]int{}
	types := []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SleepSession, ohx.BodyWeight}
	w := ohx.Window{Start: day.Start, End: day.End.Add(24 * time.Hour)} // two days: the dense read is refused once
	for s, err := range e.p.Fetch(t.Context(), e.link, types, w) {
		if err != nil {
			var tu *ohx.TypeUnavailableError
			require.True(t, errors.As(err, &tu), "only unavailable types may fail: %v", err)
			require.NotContains(t, unavailable, tu.Type, "%s reported twice", tu.Type)
			unavailable[tu.Type] = tu
			continue
		}
		require.NotContains(t, unavailable, s.Type, "a sample of %s after it was reported unavailable", s.Type)
		read[s.Type]++
	}
	require.Len(t, unavailable, 2)
	for typ, scope := range map[ohx.DataType]string{ohx.Steps: "activity_and_fitness.readonly", ohx.SleepSession: "sleep.readonly"} {
		tu := unavailable[typ]
		require.NotNil(t, tu, "%s not reported", typ)
		assert.Contains(t, tu.Reason, scope)
		assert.Contains(t, tu.Reason, "403")
		assert.Equal(t, ohx.KindPermanent, ohx.KindOf(tu), "no refresh, no retry")
	}
	assert.Equal(t, 2*288, read[ohx.HeartRate], "two days at one point every 5 minutes")
	assert.Positive(t, read[ohx.BodyWeight])
	assert.Equal(t, 1, e.fake.Calls("list:steps"), "a refused type is asked once, not once a day")
}

// TestScopeRefusalStopsWhenConsumerStops: a consumer that stops at the
// first unavailable type is not called again.
func TestScopeRefusalStopsWhenConsumerStops(t *testing.T) {
	e := staleScopes(t)
	n := 0
	for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps, ohx.SleepSession}, day) {
		n++
		require.Error(t, err)
		break
	}
	assert.Equal(t, 1, n)
}

// TestEngineSkipsRefusedTypes: through the engine, the refused types are in
// the report's Skipped with the reason and keep their cursors, and the rest
// syncs.
func TestEngineSkipsRefusedTypes(t *testing.T) {
	e := staleScopes(t)
	eng, pub := testkit.Engine(t, e.p, e.store, now, func(c *ohx.EngineConfig) {
		c.Strategy = ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}
	})
	rep, err := eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerIncremental,
		DataTypes: []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SleepSession}})
	require.NoError(t, err, "a refused scope does not fail the sync")
	skipped := map[ohx.DataType]string{}
	for _, s := range rep.Skipped {
		skipped[s.Type] = s.Reason
	}
	assert.Contains(t, skipped[ohx.Steps], "activity_and_fitness")
	assert.Contains(t, skipped[ohx.SleepSession], "sleep.readonly")
	assert.Positive(t, pub.ByData(ohx.HeartRate))
	assert.Zero(t, pub.ByData(ohx.Steps))
	cursors, err := e.store.Cursors(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.Contains(t, cursors, ohx.HeartRate, "the readable types advance")
	assert.NotContains(t, cursors, ohx.Steps, "a refused type keeps its cursor")
}
