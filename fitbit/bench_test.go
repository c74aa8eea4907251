package fitbit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// heartRatePage builds a full list page (10,000 points, newest first) in the
// shape of list_heart_rate.json.
func heartRatePage() []byte {
	var b strings.Builder
	b.WriteString(`{"dataPoints":[`)
	start := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	for i := 9999; i >= 0; i-- {
		t := start.Add(time.Duration(i) * time.Second)
		l := t.Add(-4 * time.Hour)
		if i != 9999 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"dataSource":{"device":{"displayName":"Charge 6"},"platform":"FITBIT","recordingMethod":"PASSIVELY_MEASURED"},"heartRate":{"beatsPerMinute":"%d","sampleTime":{"civilTime":{"date":{"day":%d,"month":%d,"year":%d},"time":{"hours":%d,"minutes":%d,"seconds":%d}},"physicalTime":"%s","utcOffset":"-14400s"}}}`,
			60+i%40, l.Day(), int(l.Month()), l.Year(), l.Hour(), l.Minute(), l.Second(), t.Format(time.RFC3339))
	}
	b.WriteString(`],"nextPageToken":"next"}`)
	return []byte(b.String())
}

// BenchmarkHeartRatePage measures decoding and mapping one full page of
// 10,000 heart-rate points, the hot path of a 1-second day (9 pages):
// "reflect" is the decoder before streaming (json.Unmarshal of the page),
// "stream" is decodePage (wire.DecodeList). Besides MB/s it reports the
// allocations and bytes allocated per data point.
func BenchmarkHeartRatePage(b *testing.B) {
	page := heartRatePage()
	const points = 10000
	m := &mapper{loc: time.UTC, want: map[ohx.DataType]bool{ohx.HeartRate: true}}
	w := ohx.Window{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	for _, dec := range []struct {
		name   string
		decode func([]byte, *mapper, ohx.Window, []ohx.Sample, []int) (string, []ohx.Sample, []int, error)
	}{
		{"reflect", decodePageReflect},
		{"stream", func(page []byte, m *mapper, w ohx.Window, samples []ohx.Sample, groups []int) (string, []ohx.Sample, []int, error) {
			return decodePage(bytes.NewReader(page), m, w, samples, groups)
		}},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			for b.Loop() {
				_, out, _, err := dec.decode(page, m, w, make([]ohx.Sample, 0, points), make([]int, 0, points))
				if err != nil {
					b.Fatal(err)
				}
				if len(out) != points {
					b.Fatalf("%d samples", len(out))
				}
			}
			cpu := (cpuTime() - cpu0).Seconds()
			runtime.ReadMemStats(&after)
			n := float64(b.N) * points
			// CPU time of the process (GC included), which a loaded machine
			// disturbs far less than the wall clock.
			b.ReportMetric(cpu*1e9/n, "cpu-ns/point")
			b.ReportMetric(float64(len(page))*float64(b.N)/1e6/cpu, "MB/cpu-s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/point")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/point")
			b.ReportMetric(n/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// decodePageReflect is the page decoder before streaming, kept as the
// reference decodePage is fuzzed and measured against: the page whole, then
// json.Unmarshal, then the points mapped as decodePage maps them.
func decodePageReflect(body []byte, m *mapper, w ohx.Window, samples []ohx.Sample, groups []int) (string, []ohx.Sample, []int, error) {
	var page wire.ListResponse
	if len(body) == 0 {
		return "", samples, groups, nil
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return "", samples, groups, err
	}
	for i := range page.DataPoints {
		at := len(samples)
		samples = m.mapPoint(samples, &page.DataPoints[i])
		if len(samples) > at && !w.Contains(samples[at].Start) {
			clear(samples[at:])
			samples = samples[:at]
			continue
		}
		groups = append(groups, at)
	}
	return page.NextPageToken, samples, groups, nil
}
