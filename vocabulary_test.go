package ohx_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

func TestCatalogCoversTheIssueList(t *testing.T) {
	want := []ohx.DataType{
		ohx.HeartRate, ohx.RestingHeartRate, ohx.Steps, ohx.RRIntervals, ohx.HRVRMSSD, ohx.HRVSDNN, ohx.ECG,
		ohx.BloodPressure, ohx.BodyWeight, ohx.BodyFatRatio, ohx.FatMass, ohx.FatFreeMass, ohx.MuscleMass,
		ohx.Hydration, ohx.BoneMass, ohx.BodyTemperature, ohx.SkinTemperature, ohx.SkinTemperatureDeviation,
		ohx.SpO2, ohx.RespiratoryRate, ohx.SleepSession, ohx.PulseWaveVelocity, ohx.VO2Max,
		ohx.DailyRestingHeartRate, ohx.DailyHRV, ohx.DailySpO2, ohx.DailyRespiratoryRate,
	}
	var got []ohx.DataType
	for _, info := range ohx.DataTypes() {
		got = append(got, info.Type)
		assert.NotEmpty(t, info.Title, info.Type)
		assert.NotZero(t, info.Shape, info.Type)
		assert.NotZero(t, info.Timing, info.Type)
		assert.Equal(t, info.Daily, info.Timing == ohx.TimingDaily, info.Type)
		if info.Daily || info.Shape != ohx.ShapeQuantity {
			assert.Equal(t, ohx.AggregateNone, info.Aggregation, "%s is not aggregated", info.Type)
		}
	}
	assert.ElementsMatch(t, want, got)

	dt, err := ohx.ParseDataType("heart-rate")
	require.NoError(t, err)
	assert.Equal(t, ohx.HeartRate, dt)
	_, err = ohx.ParseDataType("heartRate")
	assert.Error(t, err)
}

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: t0, End: t0.Add(time.Hour)}
	assert.True(t, w.Contains(t0))
	assert.False(t, w.Contains(t0.Add(time.Hour)), "half open")
	assert.NoError(t, w.Validate())
	assert.Error(t, ohx.Window{Start: t0, End: t0}.Validate())
	assert.Error(t, ohx.Window{End: t0}.Validate())
	u := w.Union(ohx.Window{Start: t0.Add(3 * time.Hour), End: t0.Add(4 * time.Hour)})
	assert.Equal(t, ohx.Window{Start: t0, End: t0.Add(4 * time.Hour)}, u)
	assert.Equal(t, w, ohx.Window{}.Union(w))
	assert.Equal(t, "2026-11-01T00:00:00Z/2026-11-01T01:00:00Z", w.String())
}

func TestJobCoalescing(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	w1 := ohx.Window{Start: t0, End: t0.Add(time.Hour)}
	w2 := ohx.Window{Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)}
	a := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.Steps, ohx.HeartRate}, Window: &w1, Trigger: ohx.TriggerPush}
	b := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.Steps}, Window: &w2, Trigger: ohx.TriggerPush}
	assert.Equal(t, a.CoalesceKey(), b.CoalesceKey(), "type order and repeats do not matter")
	c := ohx.Job{LinkID: "l", DataTypes: []ohx.DataType{ohx.HeartRate}, Trigger: ohx.TriggerBackfill, Window: &w1}
	assert.NotEqual(t, a.CoalesceKey(), c.CoalesceKey())

	a.Merge(b)
	require.NotNil(t, a.Window)
	assert.Equal(t, ohx.Window{Start: t0, End: t0.Add(3 * time.Hour)}, *a.Window)
	assert.Equal(t, ohx.PriorityWebhook, a.EffectivePriority())

	inc := ohx.Job{LinkID: "l", Trigger: ohx.TriggerIncremental}
	assert.Equal(t, ohx.PriorityIncremental, inc.EffectivePriority())
	inc.Merge(ohx.Job{LinkID: "l", Trigger: ohx.TriggerPush, Window: &w1})
	assert.Nil(t, inc.Window, "a job without window already covers everything up to now")
	assert.Equal(t, ohx.PriorityWebhook, inc.EffectivePriority())

	// An initial sync absorbs the sync it meets, keeping the higher priority.
	push := ohx.Job{LinkID: "l", Trigger: ohx.TriggerPush, Window: &w1}
	push.Merge(ohx.Job{LinkID: "l", Trigger: ohx.TriggerInitial})
	assert.Equal(t, ohx.TriggerInitial, push.Trigger)
	assert.Nil(t, push.Window)
	assert.Equal(t, ohx.PriorityWebhook, push.EffectivePriority())
	initial := ohx.Job{LinkID: "l", Trigger: ohx.TriggerInitial}
	initial.Merge(ohx.Job{LinkID: "l", Trigger: ohx.TriggerReconciliation})
	assert.Equal(t, ohx.TriggerInitial, initial.Trigger)
	assert.Equal(t, ohx.PriorityWebhook, initial.EffectivePriority(), "an initial sync runs at the webhook priority")
	rec := ohx.Job{LinkID: "l", Trigger: ohx.TriggerReconciliation}
	rec.Merge(ohx.Job{LinkID: "l", Trigger: ohx.TriggerInitial})
	assert.Equal(t, ohx.TriggerInitial, rec.Trigger)
	assert.Equal(t, ohx.PriorityWebhook, rec.EffectivePriority())
}

func TestJobValidate(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for name, j := range map[string]ohx.Job{
		"no link":      {Trigger: ohx.TriggerInitial},
		"bad trigger":  {LinkID: "l", Trigger: "later"},
		"bad type":     {LinkID: "l", Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{"pulse"}},
		"empty window": {LinkID: "l", Trigger: ohx.TriggerBackfill, Window: &ohx.Window{Start: t0, End: t0}},
	} {
		t.Run(name, func(t *testing.T) { assert.Error(t, j.Validate()) })
	}
}

func TestErrorClassification(t *testing.T) {
	pe := &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindRateLimited, HTTPStatus: 200, Code: "601", RetryAfter: 30 * time.Second}
	wrapped := fmt.Errorf("sync: %w", pe)
	assert.ErrorIs(t, wrapped, ohx.ErrRateLimited)
	assert.NotErrorIs(t, wrapped, ohx.ErrAuth)
	assert.Equal(t, ohx.KindRateLimited, ohx.KindOf(wrapped))
	assert.Equal(t, 30*time.Second, ohx.RetryAfter(wrapped))
	assert.True(t, ohx.Retryable(wrapped))
	assert.Equal(t, "withings getmeas: rate-limited (http 200, 601), retry after 30s", pe.Error())

	assert.False(t, ohx.Retryable(fmt.Errorf("x: %w", ohx.ErrTokenRevoked)))
	assert.False(t, ohx.Retryable(ohx.ErrPermanent))
	assert.True(t, ohx.Retryable(errors.New("unclassified")))
	assert.Equal(t, ohx.KindTransient, ohx.KindOf(ohx.ErrCircuitOpen))
	assert.Equal(t, "revoked", ohx.KindRevoked.String())
}

func TestSampleValidate(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	ok := ohx.Sample{Type: ohx.HeartRate, Start: t0, End: t0, Value: 61, Unit: "/min"}
	require.NoError(t, ok.Validate())
	cases := map[string]func(*ohx.Sample){
		"unknown type":      func(s *ohx.Sample) { s.Type = "pulse" },
		"no start":          func(s *ohx.Sample) { s.Start, s.End = time.Time{}, time.Time{} },
		"ends before start": func(s *ohx.Sample) { s.End = s.Start.Add(-time.Second) },
		"NaN":               func(s *ohx.Sample) { s.Value = math.NaN() },
		"Inf":               func(s *ohx.Sample) { s.Value = math.Inf(1) },
		"bp no components":  func(s *ohx.Sample) { s.Type = ohx.BloodPressure },
		"ecg no waveform":   func(s *ohx.Sample) { s.Type = ohx.ECG },
		"ecg no frequency": func(s *ohx.Sample) {
			s.Type = ohx.ECG
			s.Waveform = &ohx.Waveform{Samples: []int32{1}, FactorToMillivolts: 0.001}
		},
		"rr without spacing": func(s *ohx.Sample) {
			s.Type = ohx.RRIntervals
			s.Series = &ohx.Series{Values: []float64{800, 810}}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := ok
			mutate(&s)
			err := s.Validate()
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "61", "errors never echo values")
		})
	}
	bp := ohx.Sample{Type: ohx.BloodPressure, Start: t0, End: t0, Components: []ohx.Component{
		{Code: ohx.ComponentSystolic, Value: 120, Unit: "mm[Hg]"}, {Code: ohx.ComponentDiastolic, Value: 80, Unit: "mm[Hg]"},
	}}
	require.NoError(t, bp.Validate())
	c, found := bp.Component(ohx.ComponentDiastolic)
	assert.True(t, found)
	assert.InDelta(t, 80, c.Value, 0)
}

func TestSampleLocalTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 7, 2, 25, 14, 0, time.UTC)
	s := ohx.Sample{Start: t0, End: t0.Add(time.Minute), StartOffset: -4 * time.Hour, EndOffset: 5*time.Hour + 30*time.Minute}
	assert.Equal(t, "2026-01-06T22:25:14-04:00", s.LocalStart().Format(time.RFC3339))
	assert.Equal(t, "2026-01-07T07:56:14+05:30", s.LocalEnd().Format(time.RFC3339))
	s.StartOffset = 0
	assert.Equal(t, "2026-01-07T02:25:14Z", s.LocalStart().Format(time.RFC3339))
	s.StartOffset = 20 * time.Minute // not a quarter hour: still exact
	assert.Equal(t, "2026-01-07T02:45:14+00:20", s.LocalStart().Format(time.RFC3339))
}
