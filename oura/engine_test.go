package oura_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/internal/testkit"
	"github.com/openhealthexchange/ohx/oura/ouratest"
)

// TestEngineSkipsMissingScopeAndSyncsTheRest runs the real engine and FHIR
// mapping over a day of every type for a user who unticked the SpO2
// scope, with a token response that does not say so: the sync reports
// DailySpO2 skipped with the reason, writes valid R5 for every other type,
// and leaves the skipped type's cursor alone.
func TestEngineSkipsMissingScopeAndSyncsTheRest(t *testing.T) {
	e := newEnv(t, ouratest.Config{TokenScope: ouratest.ScopeOmitted, DenyScopes: []string{"spo2"}, HeartRateEvery: time.Hour})
	eng, pub := testkit.Engine(t, e.p, e.store, now)

	w := ohx.Window{Start: time.Date(2026, 11, 18, 0, 0, 0, 0, berlin).UTC(), End: time.Date(2026, 11, 19, 0, 0, 0, 0, berlin).UTC()}
	rep, err := eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerBackfill, Window: &w})
	require.NoError(t, err)
	assert.Equal(t, []ohx.Skip{{Type: ohx.DailySpO2, Reason: "scope spo2 not granted by the user (oura daily_spo2 answered 401)"}}, rep.Skipped)
	assert.Empty(t, rep.Rejected)
	for _, typ := range e.p.DataTypes() {
		if typ == ohx.DailySpO2 || typ == ohx.VO2Max {
			continue
		}
		tr := rep.Types[typ]
		require.NotNil(t, tr, "%s was not read", typ)
		assert.Positive(t, tr.SamplesRead, "%s", typ)
		assert.Zero(t, tr.Skipped, "%s samples skipped", typ)
		assert.Positive(t, pub.ByData(typ), "no %s resource", typ)
	}
	assert.Nil(t, rep.Types[ohx.DailySpO2])
	assert.Zero(t, pub.ByData(ohx.DailySpO2))
	// The night's summaries span their sleep period and name their
	// statistic; Oura's resting heart rate is the night's lowest.
	for typ, stat := range map[ohx.DataType]string{ohx.DailyHRV: "average", ohx.DailyRestingHeartRate: "minimum", ohx.DailyRespiratoryRate: "average"} {
		nightly := pub.Observations(typ)
		require.NotEmpty(t, nightly, "%s", typ)
		for _, m := range nightly {
			assert.Contains(t, m, "effectivePeriod", "%s", typ)
			method, _ := m["method"].(map[string]any)
			coding, _ := method["coding"].([]any)
			require.Len(t, coding, 1, "%s names its statistic", typ)
			assert.Equal(t, stat, coding[0].(map[string]any)["code"], "%s", typ)
		}
	}

	// A backfill moves no cursor; an initial sync does, except the
	// skipped type's.
	rep, err = eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.DailySpO2, ohx.SkinTemperatureDeviation}})
	require.NoError(t, err)
	assert.Len(t, rep.Skipped, 1)
	cursors, err := e.store.Cursors(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.SkinTemperatureDeviation])
	_, moved := cursors[ohx.DailySpO2]
	assert.False(t, moved)

	devices := pub.ByType("Device")
	rep, err = eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerDeviceSync})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Devices)
	assert.Greater(t, pub.ByType("Device"), devices, "the rings are published")
	assert.Positive(t, pub.ByType("Observation"))
}
