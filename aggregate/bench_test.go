package aggregate_test

import (
	"iter"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
)

// secondly yields n one-second heart-rate samples from a whole UTC hour, as a
// provider's intraday stream would, without allocating.
func secondly(n int) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		s := hr(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 0)
		start := s.Start
		for i := range n {
			s.Start = start.Add(time.Duration(i) * time.Second)
			s.End = s.Start
			s.Value = float64(60 + i%40)
			if !yield(s, nil) {
				return
			}
		}
	}
}

// drain streams n samples through a and returns the number of buckets.
func drain(a ohx.Aggregator, link ohx.Link, n int) (buckets int, err error) {
	for _, err := range a.Aggregate(link, secondly(n)) {
		if err != nil {
			return buckets, err
		}
		buckets++
	}
	return buckets, nil
}

// BenchmarkHourly streams one-second heart rate through the hourly
// aggregator over a 1-day and a 30-day window (2,592,000 samples). Per
// sample it allocates nothing; per emitted hour one Aggregate (plus the raw
// series when kept), so memory never grows with the window.
func BenchmarkHourly(b *testing.B) {
	for _, bc := range []struct {
		name string
		days int
		cfg  aggregate.HourlyConfig
		link ohx.Link
	}{
		{name: "utc/1d", days: 1},
		{name: "utc/30d", days: 30},
		{name: "berlin/1d", days: 1, link: ohx.Link{TimeZone: "Europe/Berlin"}},
		{name: "berlin/30d", days: 30, link: ohx.Link{TimeZone: "Europe/Berlin"}},
		{name: "raw/30d", days: 30, cfg: aggregate.HourlyConfig{KeepRaw: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := aggregate.NewHourly(bc.cfg)
			require.NoError(b, err)
			n := bc.days * 24 * 3600
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			b.ReportAllocs()
			buckets := 0
			for b.Loop() {
				buckets, err = drain(h, bc.link, n)
				if err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				// Throughput per CPU second of the process, GC included: on
				// a shared machine wall time also counts waiting for a core.
				b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "samples/cpu-s")
			}
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(buckets), "allocs/bucket")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(n), "allocs/sample")
		})
	}
}

// TestHourlyAllocationsPerHourNotPerSample pins the memory claim: streaming
// 30 days allocates one Aggregate per extra hour compared with one day, and
// nothing per sample.
func TestHourlyAllocationsPerHourNotPerSample(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("streams 2.6 million samples; allocation counts mean nothing under -race")
	}
	h, err := aggregate.NewHourly(aggregate.HourlyConfig{})
	require.NoError(t, err)
	link := ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}
	allocs := func(days int) float64 {
		return testing.AllocsPerRun(2, func() {
			n, err := drain(h, link, days*24*3600)
			require.NoError(t, err)
			require.Equal(t, days*24, n)
		})
	}
	oneDay, thirtyDays := allocs(1), allocs(30)
	// 29 days more are 2.5 million samples and 696 hours more; a zone
	// transition in the window (Berlin, 25 October) may cost a few
	// allocations of the time package.
	assert.InDelta(t, float64(29*24), thirtyDays-oneDay, 4, "one allocation per extra hour, none per sample")
	assert.LessOrEqual(t, oneDay, float64(24+16), "a small fixed overhead per stream")
}
