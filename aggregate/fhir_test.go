package aggregate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// TestHourlyMapsToValidR5 maps the hours of Berlin's 25-hour autumn day
// (heart rate and steps, raw values kept) and validates every Observation
// against the R5 schema: 25 distinct resources per type, each stamped with
// the local offset of its hour.
func TestHourlyMapsToValidR5(t *testing.T) {
	if raceEnabled {
		t.Skip("one goroutine, nothing for the race detector; the schema compile is slow under -race")
	}
	require.NoError(t, validate.Ready())
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Provider: "fake", ExternalUserID: "u1", Patient: "Patient/1", TimeZone: "Europe/Berlin"}
	h := newHourly(t, aggregate.HourlyConfig{KeepRaw: true})
	tr, err := fhirmap.New(fhirmap.Config{NoProvenance: true})
	require.NoError(t, err)

	from := time.Date(2026, 10, 25, 0, 0, 0, 0, berlin).UTC()
	to := time.Date(2026, 10, 26, 0, 0, 0, 0, berlin).UTC()
	var in []ohx.Sample
	for ts := from; ts.Before(to); ts = ts.Add(time.Minute) {
		in = append(in, hr(ts, float64(60+ts.Minute()%7)))
		if ts.Minute()%5 == 2 { // irregular: raw values with offsets
			in = append(in, steps(ts, time.Minute, float64(ts.Minute())))
		}
	}
	var buckets []ohx.Sample
	for s, err := range h.Aggregate(link, seq(in...)) {
		require.NoError(t, err)
		buckets = append(buckets, s)
	}
	require.Len(t, buckets, 50)

	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: buckets, Window: ohx.Window{Start: from, End: to}, Trigger: ohx.TriggerInitial})
	require.NoError(t, err)
	ids := map[string]bool{}
	offsets := map[string]int{}
	for _, r := range rs {
		if r.Type != "Observation" {
			continue
		}
		require.NoError(t, validate.Resource(r.JSON), "%s", r.JSON)
		ids[r.ID] = true
		var obs struct {
			EffectivePeriod struct{ Start string } `json:"effectivePeriod"`
		}
		require.NoError(t, json.Unmarshal(r.JSON, &obs))
		require.NotEmpty(t, obs.EffectivePeriod.Start, "an hour is a period")
		offsets[obs.EffectivePeriod.Start[len(obs.EffectivePeriod.Start)-6:]]++
	}
	assert.Len(t, ids, 50, "one resource per type and hour, none merged")
	assert.Equal(t, map[string]int{"+02:00": 2 * 3, "+01:00": 2 * 22}, offsets, "00:00, 01:00 and the first 02:00 in summer time")
}
