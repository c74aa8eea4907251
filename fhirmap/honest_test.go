package fhirmap_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// observationOf maps one sample, validates it and decodes it.
func observationOf(t *testing.T, tr *fhirmap.Transformer, link ohx.Link, s ohx.Sample) (ohx.Resource, map[string]any) {
	t.Helper()
	r, err := tr.Sample(&link, &s)
	require.NoError(t, err)
	require.NoError(t, validate.Resource(r.JSON))
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.JSON, &m))
	return r, m
}

func coding(m map[string]any, field string) map[string]any {
	return m[field].(map[string]any)["coding"].([]any)[0].(map[string]any)
}

// withingsDaySteps is a getactivity day: the civil day of Paris.
func withingsDaySteps() ohx.Sample {
	paris, _ := time.LoadLocation("Europe/Paris")
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, paris)
	next := day.AddDate(0, 0, 1)
	return ohx.Sample{Type: ohx.Steps, Start: day.UTC(), End: next.UTC(), StartOffset: time.Hour, EndOffset: time.Hour,
		Value: 3092, Unit: "{steps}", Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: "2026-12-01"}
}

// A provider's day total is a day total: LOINC 41950-7 in /d over the
// civil day (HL7 Physical Activity IG), never an hourly sum.
func TestDayTotalSteps(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	r, m := observationOf(t, tr, withingsLink(), withingsDaySteps())
	c := coding(m, "code")
	assert.Equal(t, "http://loinc.org", c["system"])
	assert.Equal(t, "41950-7", c["code"])
	assert.Equal(t, "Number of steps in 24 hour Measured", c["display"])
	assert.Equal(t, map[string]any{"value": 3092.0, "unit": "steps per day", "system": "http://unitsofmeasure.org", "code": "/d"}, m["valueQuantity"])
	assert.Equal(t, map[string]any{"start": "2026-12-01T00:00:00+01:00", "end": "2026-12-02T00:00:00+01:00"}, m["effectivePeriod"])
	assert.NotContains(t, m, "method", "a provider's total, not an ohx statistic")
	golden(t, "observation-steps-day.json", r.JSON)

	// A day with a daylight saving change has 23 or 25 hours; a minute of
	// steps stays a 55423-8 count.
	dst := withingsDaySteps()
	dst.End = dst.Start.Add(25 * time.Hour)
	_, m = observationOf(t, tr, withingsLink(), dst)
	assert.Equal(t, "41950-7", coding(m, "code")["code"])
	minute := withingsDaySteps()
	minute.End = minute.Start.Add(time.Minute)
	_, m = observationOf(t, tr, withingsLink(), minute)
	assert.Equal(t, "55423-8", coding(m, "code")["code"])
	assert.Equal(t, "{steps}", m["valueQuantity"].(map[string]any)["code"])
}

// An hourly step sum carries sum and count only: the minimum, maximum and
// mean of per-sample counts depend on the provider's sample length.
func TestHourlyStepsCarrySumAndCountOnly(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	s := hourlySamples()[1] // carries Mean, Min and Max, as an old aggregator filled them
	r, m := observationOf(t, tr, withingsLink(), s)
	assert.Equal(t, "sum", coding(m, "method")["code"])
	var stats []string
	for _, c := range m["component"].([]any) {
		stats = append(stats, coding(c.(map[string]any), "code")["code"].(string))
	}
	assert.Equal(t, []string{"count"}, stats)
	golden(t, "observation-hourly-steps.json", r.JSON)
}

// Values are written to the resolution their sources support, on the fast
// and the generic path, individually and aggregated.
func TestPrecision(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	plain := func(typ ohx.DataType, v float64, unit string) ohx.Sample {
		return ohx.Sample{Type: typ, Start: at, End: at, Value: v, Unit: unit, Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice}
	}
	hourly := func(typ ohx.DataType, a ohx.Aggregate, unit string) ohx.Sample {
		s := plain(typ, a.Mean, unit)
		s.End, s.Aggregate, s.Recording = at.Add(time.Hour), &a, ohx.RecordedDerived
		return s
	}
	tests := []struct {
		name string
		s    ohx.Sample
		want json.Number
	}{
		{"skin temperature deviation: baseline subtracted", plain(ohx.SkinTemperatureDeviation, 33.7-34.0, "Cel"), "-0.3"},
		{"weight scaled by 10^-3", plain(ohx.BodyWeight, 72345*0.001, "kg"), "72.345"},
		{"weight of 10^-4 kg to the gram", plain(ohx.BodyWeight, 725432*0.0001, "kg"), "72.543"},
		{"SDNN", plain(ohx.HRVSDNN, 50.67499999999999, "ms"), "50.7"},
		{"SpO2 average", plain(ohx.DailySpO2, 96.153, "%"), "96.2"},
		{"heart rate", plain(ohx.HeartRate, 64, "/min"), "64"},
		{"a negative zero is zero", plain(ohx.SkinTemperatureDeviation, -0.001, "Cel"), "0"},
		{"hourly heart-rate mean: one decimal more", hourly(ohx.HeartRate, ohx.Aggregate{Count: 3, Mean: 77.66666666666667, Min: 70, Max: 88}, "/min"), "77.7"},
		{"hourly SpO2 mean", hourly(ohx.SpO2, ohx.Aggregate{Count: 3, Mean: 96.33333333333333, Min: 95, Max: 98}, "%"), "96.33"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tr.Sample(&link, &tc.s)
			require.NoError(t, err)
			require.NoError(t, validate.Resource(r.JSON))
			dec := json.NewDecoder(bytes.NewReader(r.JSON))
			dec.UseNumber()
			var m map[string]any
			require.NoError(t, dec.Decode(&m))
			assert.Equal(t, tc.want, m["valueQuantity"].(map[string]any)["value"])
			if tc.s.Aggregate == nil {
				o, err := tr.Observation(&link, &tc.s)
				require.NoError(t, err)
				generic, err := o.MarshalJSON()
				require.NoError(t, err)
				assert.JSONEq(t, string(generic), string(r.JSON), "fast and generic paths round alike")
			}
		})
	}
}

// Every quantity type of the catalog has a rounding rule.
func TestEveryTypeHasAPrecision(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for _, info := range ohx.DataTypes() {
		if info.Shape != ohx.ShapeQuantity {
			continue
		}
		s := ohx.Sample{Type: info.Type, Start: at, End: at, Value: 1.0 / 3, Provider: "withings", Recording: ohx.RecordedByDevice}
		_, m := observationOf(t, tr, link, s)
		v := m["valueQuantity"].(map[string]any)["value"].(float64)
		assert.NotEqual(t, 1.0/3, v, "%s is written rounded", info.Type)
	}
}

// golden compares data with testdata/golden/name (refreshed with -update).
func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, data, "", "  "))
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; create it with: go test ./fhirmap -run 'TestGolden|TestDayTotalSteps|TestHourlySteps' -update")
	assert.Equal(t, string(want), pretty.String(), "golden %s differs; review, then refresh with -update", name)
}

// A deletion or a backfill with retraction of steps finds day totals too.
func TestRetractDayTotal(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	r, _ := observationOf(t, tr, link, withingsDaySteps())
	all := ohx.Window{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	out, ok, err := tr.Retract(link, ohx.Steps, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: r.JSON})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, r.Identifier, out.Identifier)
	_, ok, err = tr.Retract(link, ohx.HeartRate, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: r.JSON})
	require.NoError(t, err)
	assert.False(t, ok)
}

// A resource an earlier release coded with our own code named after the
// type (before the type got a standard code) is found and retracted by a
// backfill with retraction of that type, and only of that type.
func TestRetractFormerOwnCode(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	s := ohx.Sample{Type: ohx.HeartRate, Start: at, End: at, Value: 61, Unit: "/min", Provider: "withings", Recording: ohx.RecordedByDevice}
	r, m := observationOf(t, tr, link, s)
	m["code"] = map[string]any{"coding": []any{map[string]any{"system": tr.CodeSystem(), "code": "heart-rate"}}, "text": "Heart rate"}
	earlier, err := json.Marshal(m)
	require.NoError(t, err)
	all := ohx.Window{Start: at.Add(-time.Hour), End: at.Add(time.Hour)}
	q := tr.RetractionQueries(link, ohx.HeartRate, all)
	require.Len(t, q, 1)
	assert.Contains(t, q[0].Params.Get("code"), tr.CodeSystem()+"|heart-rate")
	_, ok, err := tr.Retract(link, ohx.HeartRate, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: earlier})
	require.NoError(t, err)
	assert.True(t, ok)
	_, ok, err = tr.Retract(link, ohx.RestingHeartRate, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: earlier})
	require.NoError(t, err)
	assert.False(t, ok)
}

// An hourly aggregate says who computed it: ohx, not the provider.
func TestAggregateNoteNamesOhx(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	s := hourlySamples()[0]
	s.Recording = ohx.RecordedDerived // as the aggregator marks its buckets
	_, m := observationOf(t, tr, withingsLink(), s)
	assert.Equal(t, []any{map[string]any{"text": "Computed by ohx from the provider's samples of the period."}}, m["note"])
}
