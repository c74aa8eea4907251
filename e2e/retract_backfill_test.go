package e2e

import (
	"context"
	"encoding/json"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store"
)

// dayStepsProvider yields one day total of steps per UTC day, as Withings
// getactivity does.
type dayStepsProvider struct{}

func (dayStepsProvider) Name() string { return "daysteps" }

func (dayStepsProvider) Devices(context.Context, ohx.Link) ([]ohx.Device, error) { return nil, nil }

func (dayStepsProvider) Fetch(_ context.Context, _ ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		if len(types) == 0 || types[0] != ohx.Steps {
			return
		}
		first := w.Start.Truncate(24 * time.Hour)
		if first.Before(w.Start) {
			first = first.Add(24 * time.Hour)
		}
		for day := first; day.Before(w.End); day = day.Add(24 * time.Hour) {
			s := ohx.Sample{Type: ohx.Steps, Start: day, End: day.Add(24 * time.Hour), Value: float64(3000 + day.Day()), Unit: "{steps}",
				Provider: "daysteps", DeviceID: "watch-1", Recording: ohx.RecordedByDevice, RecordID: day.Format(time.DateOnly)}
			if !yield(s, nil) {
				return
			}
		}
	}
}

// earlierHourly is what the hourly aggregator of earlier releases did with a
// day total: it put it into the hour it starts in, as an hourly sum.
type earlierHourly struct{}

func (earlierHourly) Aggregate(_ ohx.Link, in iter.Seq2[ohx.Sample, error]) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for s, err := range in {
			if err == nil {
				v := s.Value
				s.End = s.Start.Add(time.Hour)
				s.Aggregate = &ohx.Aggregate{Count: 1, Sum: v, Mean: v, Min: v, Max: v}
				s.Recording, s.RecordID = ohx.RecordedDerived, ""
			}
			if !yield(s, err) {
				return
			}
		}
	}
}

// stepsObs is what the test server holds of one steps Observation.
type stepsObs struct {
	status, code string
	start, end   time.Time
	value        float64
	unit         string
}

func stepsObservations(t *testing.T, srv *fhirtest.Server) map[string]stepsObs {
	t.Helper()
	out := map[string]stepsObs{}
	for _, id := range srv.IDs("Observation") {
		body, _, ok := srv.Get("Observation", id)
		require.True(t, ok)
		require.NoError(t, validate.Resource(body), id)
		var o struct {
			Status string `json:"status"`
			Code   struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"code"`
			EffectivePeriod struct{ Start, End time.Time } `json:"effectivePeriod"`
			ValueQuantity   struct {
				Value float64 `json:"value"`
				Code  string  `json:"code"`
			} `json:"valueQuantity"`
		}
		require.NoError(t, json.Unmarshal(body, &o))
		out[id] = stepsObs{status: o.Status, code: o.Code.Coding[0].Code, start: o.EffectivePeriod.Start.UTC(), end: o.EffectivePeriod.End.UTC(),
			value: o.ValueQuantity.Value, unit: o.ValueQuantity.Code}
	}
	return out
}

// TestBackfillWithRetractionReplacesEarlierOutput is the way out for data an
// earlier release delivered under ids the current mapping no longer
// produces: an earlier release published each day's step total as an
// hourly sum of the day's first hour; a backfill with retraction (Job.Deletion,
// `ohxd sync -retract`, `"retract": true` on the admin API) publishes the day
// totals (LOINC 41950-7) and marks exactly the earlier hourly sums
// entered-in-error. Running it again changes nothing and adds no id.
func TestBackfillWithRetractionReplacesEarlierOutput(t *testing.T) {
	require.NoError(t, validate.Ready())
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := day.AddDate(0, 0, 10)
	p := dayStepsProvider{}
	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive, DataTypes: []ohx.DataType{ohx.Steps}}
	require.NoError(t, st.SaveLink(t.Context(), link))
	srv := fhirtest.NewServer()
	defer srv.Close()
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
	require.NoError(t, err)
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return now }, NoProvenance: true})
	require.NoError(t, err)
	engine := func(agg ohx.Aggregator, policy *ohx.Policy) *ohx.Engine {
		e, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Aggregator: agg,
			Transformer: tr, Publisher: pub, Policy: policy, Now: func() time.Time { return now }})
		require.NoError(t, err)
		return e
	}
	window := ohx.Window{Start: day, End: day.AddDate(0, 0, 4)}

	// What an earlier release delivered: four hourly sums 00:00-01:00.
	_, err = engine(earlierHourly{}, nil).Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerBackfill, Window: &window})
	require.NoError(t, err)
	earlier := stepsObservations(t, srv)
	require.Len(t, earlier, 4)
	for id, o := range earlier {
		assert.Equal(t, time.Hour, o.end.Sub(o.start), "%s: the defect: a day in one hour", id)
	}

	// The operator's way out, with today's default aggregation.
	policy := &ohx.Policy{DefaultAggregation: ohx.AggregationAuto}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	require.NoError(t, err)
	current := engine(agg, policy)
	job := ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerBackfill, Window: &window, Deletion: true}
	rep, err := current.Sync(t.Context(), job)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Types[ohx.Steps].Retracted)
	assert.Empty(t, rep.Rejected)
	assert.Empty(t, rep.Skipped)

	after := stepsObservations(t, srv)
	require.Len(t, after, 8, "four earlier sums, retracted, and four day totals")
	for id, o := range after {
		if _, old := earlier[id]; old {
			assert.Equal(t, "entered-in-error", o.status, id)
			continue
		}
		assert.Equal(t, "final", o.status, id)
		assert.Equal(t, "41950-7", o.code, id)
		assert.Equal(t, "/d", o.unit, id)
		assert.Equal(t, 24*time.Hour, o.end.Sub(o.start), id)
		assert.Equal(t, float64(3000+o.start.Day()), o.value, id)
	}

	// Again: nothing left to retract, no new id.
	rep, err = current.Sync(t.Context(), job)
	require.NoError(t, err)
	assert.Zero(t, rep.Types[ohx.Steps].Retracted)
	assert.Len(t, stepsObservations(t, srv), 8)
}
