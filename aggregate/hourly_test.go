package aggregate_test

import (
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
)

var day = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func at(h, m, s int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

func hr(t time.Time, v float64) ohx.Sample {
	return ohx.Sample{Type: ohx.HeartRate, Start: t, End: t, Value: v, Unit: "/min", Provider: "fake", DeviceID: "watch-1", Recording: ohx.RecordedByDevice}
}

func steps(t time.Time, d time.Duration, v float64) ohx.Sample {
	return ohx.Sample{Type: ohx.Steps, Start: t, End: t.Add(d), Value: v, Unit: "{steps}", Provider: "fake", DeviceID: "watch-1", Recording: ohx.RecordedByDevice}
}

func seq(samples ...ohx.Sample) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for _, s := range samples {
			if !yield(s, nil) {
				return
			}
		}
	}
}

func collect(t *testing.T, a ohx.Aggregator, link ohx.Link, in iter.Seq2[ohx.Sample, error]) ([]ohx.Sample, error) {
	t.Helper()
	var out []ohx.Sample
	for s, err := range a.Aggregate(link, in) {
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func newHourly(t *testing.T, cfg aggregate.HourlyConfig) *aggregate.Hourly {
	t.Helper()
	h, err := aggregate.NewHourly(cfg)
	require.NoError(t, err)
	return h
}

// bucket is the expected summary of one hour.
type bucket struct {
	typ                 ohx.DataType
	start, end          time.Time
	count               int
	sum, mean, min, max float64
	value               float64
}

func TestHourlyBuckets(t *testing.T) {
	utc := ohx.Link{ID: "l1"}
	tests := []struct {
		name string
		in   []ohx.Sample
		want []bucket
	}{
		{
			name: "one sample",
			in:   []ohx.Sample{hr(at(10, 17, 0), 64)},
			want: []bucket{{ohx.HeartRate, at(10, 0, 0), at(11, 0, 0), 1, 0, 64, 64, 64, 64}},
		},
		{
			name: "no samples, no buckets",
			in:   nil,
		},
		{
			name: "hour boundaries and an empty hour in between",
			in: []ohx.Sample{
				hr(at(10, 0, 0), 60), hr(at(10, 30, 0), 70), hr(at(10, 59, 59), 80),
				hr(at(11, 0, 0), 90),
				// 12:00-13:00 holds nothing and yields no bucket.
				hr(at(13, 15, 0), 100), hr(at(13, 16, 0), 50),
			},
			want: []bucket{
				{ohx.HeartRate, at(10, 0, 0), at(11, 0, 0), 3, 0, 70, 60, 80, 70},
				{ohx.HeartRate, at(11, 0, 0), at(12, 0, 0), 1, 0, 90, 90, 90, 90},
				{ohx.HeartRate, at(13, 0, 0), at(14, 0, 0), 2, 0, 75, 50, 100, 75},
			},
		},
		{
			name: "a sample repeated at a page boundary counts once",
			in: []ohx.Sample{
				hr(at(10, 0, 0), 60), hr(at(10, 1, 0), 72),
				hr(at(10, 1, 0), 72), // last of page 1 again as first of page 2
				hr(at(10, 2, 0), 66),
			},
			want: []bucket{{ohx.HeartRate, at(10, 0, 0), at(11, 0, 0), 3, 0, 66, 60, 72, 66}},
		},
		{
			name: "same instant with another value or device is not a duplicate",
			in: func() []ohx.Sample {
				other := hr(at(10, 1, 0), 72)
				other.DeviceID = "ring-1"
				return []ohx.Sample{hr(at(10, 1, 0), 72), hr(at(10, 1, 0), 74), other, hr(at(10, 1, 0), 72)}
			}(),
			want: []bucket{{ohx.HeartRate, at(10, 0, 0), at(11, 0, 0), 3, 0, 218.0 / 3, 72, 74, 218.0 / 3}},
		},
		{
			name: "steps interval crossing the hour counts in the hour it starts, value is the sum",
			in: []ohx.Sample{
				steps(at(10, 58, 0), time.Minute, 40),
				steps(at(10, 59, 0), 2*time.Minute, 30), // 10:59-11:01
				steps(at(11, 1, 0), time.Minute, 12),
			},
			want: []bucket{
				{ohx.Steps, at(10, 0, 0), at(11, 0, 0), 2, 70, 0, 0, 0, 70},
				{ohx.Steps, at(11, 0, 0), at(12, 0, 0), 1, 12, 0, 0, 0, 12},
			},
		},
		{
			name: "interleaved types keep their own hours; an hour closes on its own type",
			in: []ohx.Sample{
				hr(at(10, 0, 0), 60), steps(at(10, 0, 0), time.Minute, 10),
				hr(at(10, 30, 0), 80), steps(at(11, 0, 0), time.Minute, 20), // closes steps 10:00
				hr(at(11, 10, 0), 70), // closes heart rate 10:00
				steps(at(11, 30, 0), time.Minute, 5),
			},
			want: []bucket{
				{ohx.Steps, at(10, 0, 0), at(11, 0, 0), 1, 10, 0, 0, 0, 10},
				{ohx.HeartRate, at(10, 0, 0), at(11, 0, 0), 2, 0, 70, 60, 80, 70},
				// Flushed at the end in order of first appearance.
				{ohx.HeartRate, at(11, 0, 0), at(12, 0, 0), 1, 0, 70, 70, 70, 70},
				{ohx.Steps, at(11, 0, 0), at(12, 0, 0), 2, 25, 0, 0, 0, 25},
			},
		},
	}
	h := newHourly(t, aggregate.HourlyConfig{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := collect(t, h, utc, seq(tc.in...))
			require.NoError(t, err)
			require.Len(t, out, len(tc.want))
			for i, w := range tc.want {
				got := out[i]
				require.NoError(t, got.Validate())
				require.NotNil(t, got.Aggregate, "bucket %d", i)
				assert.Equal(t, w.typ, got.Type, "bucket %d type", i)
				assert.Equal(t, w.start, got.Start, "bucket %d start", i)
				assert.Equal(t, w.end, got.End, "bucket %d end", i)
				assert.Equal(t, w.count, got.Aggregate.Count, "bucket %d count", i)
				assert.InDelta(t, w.sum, got.Aggregate.Sum, 1e-9, "bucket %d sum", i)
				assert.InDelta(t, w.mean, got.Aggregate.Mean, 1e-9, "bucket %d mean", i)
				assert.InDelta(t, w.min, got.Aggregate.Min, 1e-9, "bucket %d min", i)
				assert.InDelta(t, w.max, got.Aggregate.Max, 1e-9, "bucket %d max", i)
				assert.InDelta(t, w.value, got.Value, 1e-9, "bucket %d value", i)
				assert.Equal(t, ohx.RecordedDerived, got.Recording)
				assert.Equal(t, "fake", got.Provider)
				assert.Zero(t, got.StartOffset)
				assert.Zero(t, got.EndOffset)
				assert.Nil(t, got.Aggregate.Raw, "raw values only when configured")
			}
		})
	}
}

func TestHourlyPassThrough(t *testing.T) {
	ecg := ohx.Sample{
		Type: ohx.ECG, Start: at(10, 5, 0), End: at(10, 5, 30), Provider: "fake", DeviceID: "watch-1", RecordID: "ecg-1", Group: "ecg-1",
		Waveform: &ohx.Waveform{Samples: []int32{1, 2, 3}, SamplingFrequency: 300, FactorToMillivolts: 0.001},
	}
	ecgHR := hr(at(10, 5, 0), 66)
	ecgHR.CompanionOf, ecgHR.RecordID, ecgHR.Group = ohx.ECG, "ecg-1", "ecg-1"
	weight := ohx.Sample{Type: ohx.BodyWeight, Start: at(10, 20, 0), End: at(10, 20, 0), Value: 71.3, Unit: "kg", Provider: "fake"}
	bp := ohx.Sample{Type: ohx.BloodPressure, Start: at(10, 40, 0), End: at(10, 40, 0), Provider: "fake", Components: []ohx.Component{{Code: ohx.ComponentSystolic, Value: 120, Unit: "mm[Hg]"}, {Code: ohx.ComponentDiastolic, Value: 80, Unit: "mm[Hg]"}}}
	daily := ohx.Sample{Type: ohx.DailyRestingHeartRate, Start: day, End: day.Add(24 * time.Hour), Value: 58, Unit: "/min", Provider: "fake"}
	stepsIndividual := steps(at(10, 45, 0), time.Minute, 33)

	in := []ohx.Sample{daily, hr(at(10, 0, 0), 60), ecg, ecgHR, hr(at(10, 10, 0), 62), weight, bp, stepsIndividual, hr(at(11, 0, 0), 64)}
	// Only heart rate is aggregated: steps are individual by policy here.
	h := newHourly(t, aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}})
	out, err := collect(t, h, ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)

	require.Len(t, out, 8)
	assert.Equal(t, []ohx.Sample{daily, ecg, ecgHR, weight, bp, stepsIndividual}, out[:6], "pass-through samples unchanged and in order")
	assert.Equal(t, 2, out[6].Aggregate.Count, "the ECG's companion heart rate is not counted in the hour")
	assert.InDelta(t, 61, out[6].Value, 1e-9)
	assert.Equal(t, at(11, 0, 0), out[7].Start)
}

func TestHourlyDeviceAndRaw(t *testing.T) {
	ring := hr(at(10, 0, 2), 70)
	ring.DeviceID = "ring-1"
	tests := []struct {
		name       string
		in         []ohx.Sample
		wantDevice string
		wantRaw    *ohx.Series
	}{
		{
			name:       "regular series from the hour start keeps an interval",
			in:         []ohx.Sample{hr(at(10, 0, 0), 60), hr(at(10, 0, 1), 61), hr(at(10, 0, 2), 62)},
			wantDevice: "watch-1",
			wantRaw:    &ohx.Series{Values: []float64{60, 61, 62}, Interval: time.Second},
		},
		{
			name:       "irregular series keeps offsets from the hour start; mixed devices drop the device",
			in:         []ohx.Sample{hr(at(10, 0, 1), 60), ring, hr(at(10, 30, 0), 62)},
			wantDevice: "",
			wantRaw:    &ohx.Series{Values: []float64{60, 70, 62}, Offsets: []time.Duration{time.Second, 2 * time.Second, 30 * time.Minute}},
		},
	}
	h := newHourly(t, aggregate.HourlyConfig{KeepRaw: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := collect(t, h, ohx.Link{ID: "l1"}, seq(tc.in...))
			require.NoError(t, err)
			require.Len(t, out, 1)
			assert.Equal(t, tc.wantDevice, out[0].DeviceID)
			assert.Equal(t, tc.wantRaw, out[0].Aggregate.Raw)
		})
	}
}

// localDay streams a heart-rate sample every 10 minutes over the civil day
// of date in loc and returns the buckets.
func localDay(t *testing.T, h *aggregate.Hourly, link ohx.Link, loc *time.Location, y int, m time.Month, d int) []ohx.Sample {
	t.Helper()
	from := time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
	to := time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
	var in []ohx.Sample
	for ts := from; ts.Before(to); ts = ts.Add(10 * time.Minute) {
		in = append(in, hr(ts, 60))
	}
	out, err := collect(t, h, link, seq(in...))
	require.NoError(t, err)
	return out
}

func TestHourlyTimeZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	lordHowe, err := time.LoadLocation("Australia/Lord_Howe")
	require.NoError(t, err)

	tests := []struct {
		name      string
		cfg       aggregate.HourlyConfig
		link      ohx.Link
		loc       *time.Location
		date      time.Time
		want      int            // buckets
		wantHours []int          // local start hour of each bucket, when checked
		wantSpan  time.Duration  // total covered time
		firstUTC  time.Time      // start of the first bucket
		offsets   map[int][2]int // bucket index → start, end offset in hours
	}{
		{
			name: "UTC day", link: ohx.Link{ID: "l"}, loc: time.UTC, date: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC),
			want: 24, wantSpan: 24 * time.Hour, firstUTC: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC),
		},
		{
			name: "Berlin spring forward: 23 hours, 02:00 does not exist", link: ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}, loc: berlin,
			date: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), want: 23, wantSpan: 23 * time.Hour,
			wantHours: []int{0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23},
			firstUTC:  time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC),
			offsets:   map[int][2]int{0: {1, 1}, 1: {1, 2}, 2: {2, 2}, 22: {2, 2}},
		},
		{
			name: "Berlin fall back: 25 hours, 02:00 twice", link: ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}, loc: berlin,
			date: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), want: 25, wantSpan: 25 * time.Hour,
			wantHours: []int{0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23},
			firstUTC:  time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC),
			offsets:   map[int][2]int{0: {2, 2}, 2: {2, 1}, 3: {1, 1}, 24: {1, 1}},
		},
		{
			name: "configured UTC overrides the link's zone", cfg: aggregate.HourlyConfig{Location: time.UTC},
			link: ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}, loc: time.UTC, date: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC),
			want: 24, wantSpan: 24 * time.Hour, firstUTC: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC),
		},
		{
			name: "configured zone overrides a UTC link", cfg: aggregate.HourlyConfig{Location: berlin},
			link: ohx.Link{ID: "l"}, loc: berlin, date: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC),
			want: 25, wantSpan: 25 * time.Hour, firstUTC: time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC),
		},
		{
			name: "Kolkata +05:30: local whole hours start at half past the UTC hour", link: ohx.Link{ID: "l", TimeZone: "Asia/Kolkata"}, loc: kolkata,
			date: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), want: 24, wantSpan: 24 * time.Hour,
			firstUTC: time.Date(2026, 3, 28, 18, 30, 0, 0, time.UTC),
		},
		{
			name: "Lord Howe: a 30-minute DST shift cuts one hour short, no gap, no overlap", link: ohx.Link{ID: "l", TimeZone: "Australia/Lord_Howe"}, loc: lordHowe,
			date: time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC), want: 24, wantSpan: 23*time.Hour + 30*time.Minute,
			firstUTC: time.Date(2026, 10, 3, 13, 30, 0, 0, time.UTC),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHourly(t, tc.cfg)
			y, m, d := tc.date.Date()
			out := localDay(t, h, tc.link, tc.loc, y, m, d)
			require.Len(t, out, tc.want)
			assert.Equal(t, tc.firstUTC, out[0].Start)
			var span time.Duration
			total := 0
			for i, b := range out {
				span += b.End.Sub(b.Start)
				total += b.Aggregate.Count
				assert.LessOrEqual(t, b.End.Sub(b.Start), time.Hour, "bucket %d", i)
				if i > 0 {
					assert.Equal(t, out[i-1].End, b.Start, "bucket %d starts where the previous ended", i)
				}
				// The stamped offsets are those of the zone at the instants.
				_, so := b.Start.In(tc.loc).Zone()
				_, eo := b.End.In(tc.loc).Zone()
				assert.Equal(t, time.Duration(so)*time.Second, b.StartOffset, "bucket %d start offset", i)
				assert.Equal(t, time.Duration(eo)*time.Second, b.EndOffset, "bucket %d end offset", i)
				if tc.wantHours != nil {
					assert.Equal(t, tc.wantHours[i], b.LocalStart().Hour(), "bucket %d local hour", i)
					assert.Zero(t, b.LocalStart().Minute())
				}
				if o, ok := tc.offsets[i]; ok {
					assert.Equal(t, [2]time.Duration{time.Duration(o[0]) * time.Hour, time.Duration(o[1]) * time.Hour}, [2]time.Duration{b.StartOffset, b.EndOffset}, "bucket %d offsets", i)
				}
			}
			assert.Equal(t, tc.wantSpan, span)
			assert.Equal(t, int(tc.wantSpan/(10*time.Minute)), total, "no sample lost or counted twice")
		})
	}
}

func TestHourlyErrors(t *testing.T) {
	boom := errors.New("provider page failed")
	tests := []struct {
		name    string
		link    ohx.Link
		in      iter.Seq2[ohx.Sample, error]
		wantErr error
		wantOut int
	}{
		{
			name:    "sample of an hour already emitted",
			in:      seq(hr(at(10, 0, 0), 60), hr(at(11, 0, 0), 60), hr(at(10, 59, 0), 60)),
			wantErr: aggregate.ErrOutOfOrder, wantOut: 1,
		},
		{
			name:    "sample before the open hour",
			in:      seq(hr(at(12, 0, 0), 60), hr(at(10, 59, 0), 60)),
			wantErr: aggregate.ErrOutOfOrder,
		},
		{
			name: "mixed units in one hour",
			in: func() iter.Seq2[ohx.Sample, error] {
				odd := hr(at(10, 1, 0), 1)
				odd.Unit = "Hz"
				return seq(hr(at(10, 0, 0), 60), odd)
			}(),
			wantErr: aggregate.ErrMixedUnits,
		},
		{
			name:    "unknown time zone",
			link:    ohx.Link{ID: "l", TimeZone: "Mars/Olympus_Mons"},
			in:      seq(hr(at(10, 0, 0), 60)),
			wantErr: aggregate.ErrUnknownZone,
		},
		{
			name: "input error ends the stream without the partial hour",
			in: func(yield func(ohx.Sample, error) bool) {
				if yield(hr(at(10, 0, 0), 60), nil) {
					yield(ohx.Sample{}, boom)
				}
			},
			wantErr: boom,
		},
	}
	h := newHourly(t, aggregate.HourlyConfig{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := collect(t, h, tc.link, tc.in)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Len(t, out, tc.wantOut)
			if !errors.Is(tc.wantErr, boom) {
				assert.ErrorIs(t, err, ohx.ErrPermanent)
				assert.NotContains(t, err.Error(), "60", "no health value in the error")
			}
		})
	}
}

func TestHourlyStreams(t *testing.T) {
	// Each hour is emitted as soon as the first sample of the next hour is
	// read, not at the end of the stream.
	h := newHourly(t, aggregate.HourlyConfig{})
	read := 0
	in := func(yield func(ohx.Sample, error) bool) {
		for i := range 3 * 3600 {
			read++
			if !yield(hr(at(0, 0, i), 60), nil) {
				return
			}
		}
	}
	var readAtEmit []int
	for s, err := range h.Aggregate(ohx.Link{ID: "l"}, in) {
		require.NoError(t, err)
		require.NotNil(t, s.Aggregate)
		readAtEmit = append(readAtEmit, read)
		if len(readAtEmit) == 2 {
			break // the consumer stops: the aggregator must stop reading
		}
	}
	assert.Equal(t, []int{3601, 7201}, readAtEmit)
	assert.Equal(t, 7201, read)
}

func TestNewHourly(t *testing.T) {
	_, err := aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate, ohx.ECG}})
	require.Error(t, err, "an ECG cannot be aggregated")
	_, err = aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{"pulse-of-mars"}})
	require.Error(t, err)

	h := newHourly(t, aggregate.HourlyConfig{})
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SpO2, ohx.RespiratoryRate}, h.Types(),
		"HRV is not aggregated: a mean of SDNN values is not an SDNN")
	_, err = aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HRVSDNN}})
	require.Error(t, err)
}

// A provider's day total (Withings getactivity, Oura daily activity) is
// longer than an hour: it passes through as it is and never lands in the
// hour it starts in, while the intraday samples around it are summed up.
func TestHourlyDayTotalPassesThrough(t *testing.T) {
	dayTotal := steps(day, 24*time.Hour, 3092)
	dayTotal.RecordID = "2026-11-25"
	in := []ohx.Sample{steps(at(0, 10, 0), time.Minute, 12), dayTotal, steps(at(0, 20, 0), time.Minute, 8), steps(at(1, 0, 0), 90*time.Minute, 500)}
	out, err := collect(t, newHourly(t, aggregate.HourlyConfig{}), ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, dayTotal, out[0], "the day total is published unchanged, at once")
	require.NotNil(t, out[1].Aggregate, "the hour that ended before the next sample passing through comes first")
	assert.Equal(t, at(0, 0, 0), out[1].Start)
	assert.Equal(t, 2, out[1].Aggregate.Count)
	assert.InDelta(t, 20, out[1].Value, 1e-9)
	assert.Equal(t, in[3], out[2], "a 90-minute sample is longer than an hour too")
}

// A sample that passes through comes after the hours of its type that ended
// before it: each type's output keeps its hours in order.
func TestHourlyPassThroughKeepsTheHoursInOrder(t *testing.T) {
	spot := hr(at(11, 20, 0), 58)
	spot.Group = "grp-1"
	in := []ohx.Sample{hr(at(10, 0, 0), 62), hr(at(10, 30, 0), 64), spot, hr(at(11, 25, 0), 70), steps(at(12, 0, 0), time.Minute, 5)}
	out, err := collect(t, newHourly(t, aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}, SeriesOnly: []ohx.DataType{ohx.HeartRate}}), ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)
	var starts []time.Time
	for _, s := range out {
		if s.Type == ohx.HeartRate {
			starts = append(starts, s.Start)
		}
	}
	assert.Equal(t, []time.Time{at(10, 0, 0), at(11, 20, 0), at(11, 0, 0)}, starts,
		"hour 10 before the 11:20 spot; the spot before its own open hour")
}

// Each bucket carries only the statistics its type's aggregation names:
// sum and count for steps, mean, minimum, maximum and count for a rate.
func TestHourlyStatisticsPerType(t *testing.T) {
	in := []ohx.Sample{hr(at(9, 0, 0), 60), hr(at(9, 1, 0), 70), steps(at(9, 0, 0), time.Minute, 10), steps(at(9, 1, 0), 15*time.Minute, 200)}
	out, err := collect(t, newHourly(t, aggregate.HourlyConfig{}), ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)
	require.Len(t, out, 2)
	byType := map[ohx.DataType]*ohx.Aggregate{out[0].Type: out[0].Aggregate, out[1].Type: out[1].Aggregate}
	assert.Equal(t, &ohx.Aggregate{Count: 2, Mean: 65, Min: 60, Max: 70}, byType[ohx.HeartRate])
	assert.Equal(t, &ohx.Aggregate{Count: 2, Sum: 210}, byType[ohx.Steps],
		"no minimum, maximum or mean of per-sample step counts")
}

// With SeriesOnly (the policy's auto mode) a sample measured as part of one
// reading (a Group) is a spot measurement and passes through; the series
// around it is summed up.
func TestHourlySeriesOnlyPassesSpots(t *testing.T) {
	spot := hr(at(7, 2, 0), 58)
	spot.Group, spot.RecordID, spot.DeviceID = "grp-1", "grp-1", "scale-1"
	in := []ohx.Sample{hr(at(7, 0, 0), 62), spot, hr(at(7, 5, 0), 64)}

	out, err := collect(t, newHourly(t, aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}, SeriesOnly: []ohx.DataType{ohx.HeartRate}}), ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)
	require.Len(t, out, 2)
	assert.Equal(t, spot, out[0])
	assert.Equal(t, 2, out[1].Aggregate.Count)
	assert.InDelta(t, 63, out[1].Value, 1e-9)

	out, err = collect(t, newHourly(t, aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}}), ohx.Link{ID: "l1"}, seq(in...))
	require.NoError(t, err)
	require.Len(t, out, 1, "hourly mode puts every sample of the type into its hour")
	assert.Equal(t, 3, out[0].Aggregate.Count)
}

func TestForPolicy(t *testing.T) {
	a, err := aggregate.ForPolicy(nil, aggregate.HourlyConfig{})
	require.NoError(t, err)
	assert.Equal(t, aggregate.Individual{}, a, "no policy: every sample individually")

	p := &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: ohx.AggregationHourly, ohx.Steps: ohx.AggregationHourly}}
	a, err = aggregate.ForPolicy(p, aggregate.HourlyConfig{})
	require.NoError(t, err)
	h, ok := a.(*aggregate.Hourly)
	require.True(t, ok)
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps}, h.Types())

	p = &ohx.Policy{DefaultAggregation: ohx.AggregationHourly, Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.Steps: ohx.AggregationIndividual}, AllowedTypes: []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SpO2, ohx.ECG}}
	a, err = aggregate.ForPolicy(p, aggregate.HourlyConfig{})
	require.NoError(t, err)
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.SpO2}, a.(*aggregate.Hourly).Types())

	_, err = aggregate.ForPolicy(&ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.ECG: ohx.AggregationHourly}}, aggregate.HourlyConfig{})
	require.Error(t, err)

	// auto: the series types hourly, their spot samples individually.
	p = &ohx.Policy{DefaultAggregation: ohx.AggregationAuto, Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.Steps: ohx.AggregationHourly}}
	a, err = aggregate.ForPolicy(p, aggregate.HourlyConfig{})
	require.NoError(t, err)
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SpO2, ohx.RespiratoryRate}, a.(*aggregate.Hourly).Types())
	spotSteps := steps(at(7, 2, 0), time.Minute, 5)
	spotSteps.Group = "g"
	spotHR := hr(at(7, 2, 0), 58)
	spotHR.Group = "g"
	out, err := collect(t, a, ohx.Link{ID: "l1"}, seq(spotHR, spotSteps))
	require.NoError(t, err)
	require.Len(t, out, 2)
	assert.Equal(t, spotHR, out[0], "heart rate is auto: its spot sample passes through")
	assert.NotNil(t, out[1].Aggregate, "steps are hourly by name: every sample goes into its hour")
}

func TestIndividual(t *testing.T) {
	in := []ohx.Sample{hr(at(10, 0, 0), 60), hr(at(10, 0, 0), 60), steps(at(10, 1, 0), time.Minute, 3)}
	out, err := collect(t, aggregate.Individual{}, ohx.Link{ID: "l"}, seq(in...))
	require.NoError(t, err)
	assert.Equal(t, in, out)
}

func TestHourlyAlignment(t *testing.T) {
	h := newHourly(t, aggregate.HourlyConfig{})
	berlin := ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}
	india := ohx.Link{ID: "l", TimeZone: "Asia/Kolkata"}
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v.UTC()
	}
	tests := []struct {
		name                 string
		link                 ohx.Link
		t                    string
		wantStart, wantEnd   string
		wantLimit            string
		wantWindow           [2]string
		windowFrom, windowTo string
	}{
		{"utc mid-hour", ohx.Link{ID: "l"}, "2026-11-25T10:20:00Z", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z", "2026-11-25T10:00:00Z",
			[2]string{"2026-11-25T09:00:00Z", "2026-11-25T11:00:00Z"}, "2026-11-25T09:45:00Z", "2026-11-25T10:20:00Z"},
		{"utc on the hour", ohx.Link{ID: "l"}, "2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z", "2026-11-25T10:00:00Z",
			[2]string{"2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"}, "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"},
		{"kolkata half hour", india, "2026-11-25T10:20:00Z", "2026-11-25T09:30:00Z", "2026-11-25T10:30:00Z", "2026-11-25T09:30:00Z",
			[2]string{"2026-11-25T08:30:00Z", "2026-11-25T10:30:00Z"}, "2026-11-25T09:00:00Z", "2026-11-25T10:20:00Z"},
		{"berlin second 02:00 of autumn", berlin, "2026-10-25T01:10:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T01:00:00Z",
			[2]string{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}, "2026-10-25T00:59:00Z", "2026-10-25T01:10:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, ts(tc.wantStart), h.BucketStart(tc.link, ts(tc.t)))
			assert.Equal(t, ts(tc.wantEnd), h.BucketEnd(tc.link, ts(tc.t)))
			assert.Equal(t, ts(tc.wantLimit), h.CursorLimit(tc.link, ts(tc.t)))
			w := ohx.AlignWindow(h, tc.link, ohx.Window{Start: ts(tc.windowFrom), End: ts(tc.windowTo)})
			assert.Equal(t, ohx.Window{Start: ts(tc.wantWindow[0]), End: ts(tc.wantWindow[1])}, w)
		})
	}
}
