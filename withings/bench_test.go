package withings

import (
	"bytes"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
)

// getmeasPage builds a realistic page: the real BPM Connect / Body Cardio
// groups repeated to 220 groups (a busy month of weigh-ins and readings).
func getmeasPage(b *testing.B) []byte {
	groups := bytes.TrimSpace(fixture(b, "getmeas_measuregrps_bpmconnect_bodycardio.json"))
	groups = groups[1 : len(groups)-1]
	var buf bytes.Buffer
	buf.WriteString(`{"status":0,"body":{"updatetime":1693651185,"timezone":"Europe/Amsterdam","more":1,"offset":220,"measuregrps":[`)
	for i := range 20 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(groups)
	}
	buf.WriteString(`]}}`)
	return buf.Bytes()
}

// BenchmarkDecodeGetmeas measures decoding one getmeas page (220 groups)
// from the raw response through the envelope check, the lenient decoders
// and the mapping to samples.
func BenchmarkDecodeGetmeas(b *testing.B) {
	page := getmeasPage(b)
	p, err := New(Config{ClientID: "id", ClientSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	want := allTypes()
	loc := time.UTC
	out := make([]ohx.Sample, 0, 1024)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		body, err := p.classify("getmeas", 200, nil, page)
		if err != nil {
			b.Fatal(err)
		}
		var mb measureBody
		if err := decode("getmeas", body, &mb); err != nil {
			b.Fatal(err)
		}
		out = out[:0]
		bl := location(mb.Timezone, loc)
		for i := range mb.MeasureGrps {
			out = measureSamples(out, &mb.MeasureGrps[i], want, bl, mapOptions{})
		}
		if len(out) == 0 {
			b.Fatal("no samples")
		}
	}
}
