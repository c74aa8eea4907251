package fitbittest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// newBerlinFake starts a fake (closed at the test's end) and returns it
// with a user in Europe/Berlin, who is not added to it.
func newBerlinFake(t testing.TB, cfg Config) (*Server, *user) {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	return s, &user{User: User{HealthUserID: "hu-1"}, loc: berlin}
}

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
	s, u := newBerlinFake(t, Config{HeartRateEvery: time.Second, ECGDuration: time.Second})
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

// TestHeartRatePageBytes: a heart-rate page written straight from its
// instants is byte for byte the page of the points heartRate makes, as
// encoding/json writes it, in zones with odd offsets and around DST changes,
// for list and reconcile answers.
func TestHeartRatePageBytes(t *testing.T) {
	s, err := New(Config{HeartRateEvery: time.Second})
	require.NoError(t, err)
	defer s.Close()
	starts := []time.Time{
		time.Date(2026, 10, 25, 1, 58, 30, 0, time.UTC), // Berlin: 03:00 CEST becomes 02:00 CET
		time.Date(2026, 3, 29, 0, 58, 30, 0, time.UTC),  // Berlin: 02:00 CET becomes 03:00 CEST
		time.Date(2026, 12, 31, 23, 58, 30, 0, time.UTC),
		time.Date(2026, 11, 19, 22, 59, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC),
	}
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe", "UTC"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		u := &user{User: User{HealthUserID: "hu-" + zone}, loc: loc}
		for _, t0 := range starts {
			var keys []time.Time
			for i := range 200 {
				keys = append(keys, t0.Add(time.Duration(i*17)*time.Second))
			}
			for _, reconcile := range []bool{false, true} {
				pg := page{s: s, u: u, dt: dataTypes["heart-rate"], keys: keys, reconcile: reconcile, next: "tok"}
				got, err := pg.append(nil)
				require.NoError(t, err)
				require.Equal(t, encoded(t, pg.response()), string(got), "%s %v reconcile %v", zone, t0, reconcile)
			}
		}
	}
	// Fractions of a second and years the writer leaves to the points.
	u := &user{User: User{HealthUserID: "hu-1"}, loc: time.UTC}
	pg := page{s: s, u: u, dt: dataTypes["heart-rate"], keys: []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC), time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)}}
	got, err := pg.append(nil)
	require.NoError(t, err)
	require.Equal(t, encoded(t, pg.response()), string(got))
}

// TestHashIsFNV: hash is hash/fnv's FNV-1a of the user id, the salt and
// the instant's Unix nanoseconds, big endian.
func TestHashIsFNV(t *testing.T) {
	u := &user{User: User{HealthUserID: "hu-\u00e9"}}
	for _, at := range []time.Time{time.Unix(0, 0), time.Unix(1_795_000_000, 7), time.Unix(-5, 0)} {
		h := fnv.New64a()
		h.Write([]byte(u.HealthUserID + "salt"))
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(at.UnixNano()))
		h.Write(b[:])
		require.Equal(t, h.Sum64(), hash(u, "salt", at))
	}
}

// BenchmarkListPage writes a full page of 10,000 1-second heart-rate points
// as the fake serves it: "reflect" builds the points and encodes them with
// encoding/json, "hand" is page.write.
func BenchmarkListPage(b *testing.B) {
	s, u := newBerlinFake(b, Config{HeartRateEvery: time.Second})
	t0 := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	pg := page{s: s, u: u, dt: dataTypes["heart-rate"], next: "next"}
	for i := range 10000 {
		pg.keys = append(pg.keys, t0.Add(-time.Duration(i)*time.Second))
	}
	for _, enc := range []struct {
		name  string
		write func(http.ResponseWriter)
	}{
		{"reflect", func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, pg.response()) }},
		{"hand", pg.write},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discard{header: http.Header{}}
			for b.Loop() {
				w.n = 0
				enc.write(w)
			}
			b.SetBytes(w.n)
			b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// discard is a ResponseWriter that counts what it is sent, so that the
// benchmark measures writing the page rather than copying it.
type discard struct {
	header http.Header
	n      int64
}

func (d *discard) Header() http.Header { return d.header }

func (d *discard) Write(b []byte) (int, error) { d.n += int64(len(b)); return len(b), nil }

func (d *discard) WriteHeader(int) {}
