package fitbit

import (
	"encoding/json"
	"fmt"
	"strings"
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
// 10,000 heart-rate points, the hot path of a 1-second day (9 pages).
func BenchmarkHeartRatePage(b *testing.B) {
	page := heartRatePage()
	m := &mapper{loc: time.UTC, want: map[ohx.DataType]bool{ohx.HeartRate: true}}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		var r wire.ListResponse
		if err := json.Unmarshal(page, &r); err != nil {
			b.Fatal(err)
		}
		out := make([]ohx.Sample, 0, len(r.DataPoints))
		for i := range r.DataPoints {
			out = m.mapPoint(out, &r.DataPoints[i])
		}
		if len(out) != 10000 {
			b.Fatalf("%d samples", len(out))
		}
	}
}
