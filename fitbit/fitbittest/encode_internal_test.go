package fitbittest

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// encoded is the reference: what writeJSON writes for resp.
func encoded(t *testing.T, resp wire.ListResponse) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(resp))
	return buf.String()
}

// TestWriteListBytes: the hand-written list page is byte for byte what
// encoding/json writes, for every data type the fake serves and for the
// values the hand writer leaves to encoding/json.
func TestWriteListBytes(t *testing.T) {
	s, err := New(Config{HeartRateEvery: time.Second, ECGDuration: time.Second})
	require.NoError(t, err)
	defer s.Close()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	u := &user{User: User{HealthUserID: "hu-1"}, loc: berlin}
	// Around the October DST change, so offsets differ within a page.
	t0 := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	var all []wire.DataPoint
	for _, id := range DataTypeIDs() {
		dt := dataTypes[id]
		for i := range 5 {
			all = append(all, dt.make(s, u, t0.Add(time.Duration(i)*37*time.Minute)))
		}
	}
	half := wire.Duration(1500 * time.Millisecond)
	nan := wire.Float64(math.NaN())
	odd := []wire.DataPoint{
		{Name: "a<b>&\"c\"", HeartRate: &wire.HeartRate{BeatsPerMinute: -3}},
		{Name: "caf\u00e9", DataPointName: "x\u2028y"},
		{Steps: &wire.Steps{Interval: wire.Interval{StartUTCOffset: &half, CivilStartTime: wire.CivilDateTime{Time: wire.TimeOfDay{Nanos: 5}}}}},
		{HeartRateVariability: &wire.HeartRateVariability{RMSSD: &nan}, OxygenSaturation: &wire.OxygenSaturation{Percentage: wire.Float64(math.Inf(-1))}},
		{OxygenSaturation: &wire.OxygenSaturation{Percentage: 1e21}},
		{DataSource: &wire.DataSource{Application: &wire.Application{PackageName: "p"}, Device: &wire.Device{}}},
		{},
	}
	compared := 0
	for _, resp := range []wire.ListResponse{
		{DataPoints: all, NextPageToken: "tok-1"},
		{DataPoints: odd, NextPageToken: "<&>"},
		{DataPoints: []wire.DataPoint{{HeartRate: &wire.HeartRate{SampleTime: wire.SampleTime{PhysicalTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}}},
		{DataPoints: []wire.DataPoint{}},
		{},
	} {
		got, err := appendList(nil, &resp)
		if err != nil {
			// Only what encoding/json refuses too.
			_, jerr := json.Marshal(resp)
			require.Error(t, jerr)
			continue
		}
		require.Equal(t, encoded(t, resp), string(got))
		compared++
	}
	require.Equal(t, 4, compared)
}

// BenchmarkListPage writes a full page of 10,000 1-second heart-rate points
// as the fake serves it: "reflect" is writeJSON (encoding/json), "hand" is
// writeList. The points are built outside the measurement.
func BenchmarkListPage(b *testing.B) {
	s, err := New(Config{HeartRateEvery: time.Second})
	require.NoError(b, err)
	defer s.Close()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(b, err)
	u := &user{User: User{HealthUserID: "hu-1"}, loc: berlin}
	t0 := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	resp := wire.ListResponse{NextPageToken: "next"}
	for i := range 10000 {
		resp.DataPoints = append(resp.DataPoints, dataTypes["heart-rate"].make(s, u, t0.Add(-time.Duration(i)*time.Second)))
	}
	for _, enc := range []struct {
		name  string
		write func(http.ResponseWriter, wire.ListResponse)
	}{
		{"reflect", func(w http.ResponseWriter, r wire.ListResponse) { writeJSON(w, http.StatusOK, r) }},
		{"hand", writeList},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				w := httptest.NewRecorder()
				enc.write(w, resp)
				n = int64(w.Body.Len())
			}
			b.SetBytes(n)
			b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "points/s")
		})
	}
}
