package fhirmap_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// minuteHR returns one Withings heart-rate sample per minute in [from, to).
func minuteHR(from, to time.Time) []ohx.Sample {
	var out []ohx.Sample
	for at := from; at.Before(to); at = at.Add(time.Minute) {
		out = append(out, ohx.Sample{Type: ohx.HeartRate, Start: at, End: at, StartOffset: paris, EndOffset: paris,
			Value: float64(60 + at.Minute()%20), Unit: "/min", Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice})
	}
	return out
}

// runStream maps batches through one stream of window w and returns every
// resource in the order the stream gave them.
func runStream(t *testing.T, tr *fhirmap.Transformer, link ohx.Link, w ohx.Window, batches ...[]ohx.Sample) []ohx.Resource {
	t.Helper()
	st := tr.Stream(link, w, ohx.TriggerInitial, ohx.HourGrid{})
	var out []ohx.Resource
	for _, b := range batches {
		rs, err := st.Next(t.Context(), b)
		require.NoError(t, err)
		out = append(out, rs...)
	}
	rs, err := st.Close(t.Context())
	require.NoError(t, err)
	return append(out, rs...)
}

// streamProvenance is a Provenance the stream wrote, with its place in the
// stream.
type streamProvenance struct {
	at      int
	targets []string
	period  struct{ Start, End string }
}

// provenanceOf checks the stream's order (each Provenance after its
// targets, the software Device once, before the first Provenance) and that
// every Observation has a Provenance, and returns the Provenances by id.
func provenanceOf(t *testing.T, tr *fhirmap.Transformer, rs []ohx.Resource) map[string]streamProvenance {
	t.Helper()
	pos := map[string]int{}
	out := map[string]streamProvenance{}
	covered := map[string]bool{}
	devices := 0
	for i, r := range rs {
		pos[r.Key()] = i
		switch r.Type {
		case "Device":
			devices++
			assert.Equal(t, tr.SoftwareDeviceID(), r.ID)
			assert.Empty(t, out, "the software Device comes before the first Provenance")
		case "Provenance":
			require.NoError(t, validate.ResourceVersion(r.FHIRVersion, r.JSON), r.Key())
			var p struct {
				Target []struct {
					Reference string `json:"reference"`
				} `json:"target"`
				OccurredPeriod struct{ Start, End string } `json:"occurredPeriod"`
			}
			require.NoError(t, json.Unmarshal(r.JSON, &p))
			sp := streamProvenance{at: i, period: p.OccurredPeriod}
			for _, tg := range p.Target {
				j, ok := pos[tg.Reference]
				require.True(t, ok, "%s: target %s came after it", r.Key(), tg.Reference)
				assert.Less(t, j, i)
				sp.targets = append(sp.targets, tg.Reference)
				covered[tg.Reference] = true
			}
			_, dup := out[r.ID]
			assert.False(t, dup, "one stream writes a Provenance once: %s", r.ID)
			out[r.ID] = sp
		}
	}
	for _, r := range rs {
		if r.Type == "Observation" || r.Type == "DiagnosticReport" {
			assert.True(t, covered[r.Key()], "%s has no Provenance", r.Key())
		}
	}
	if len(out) > 0 {
		assert.Equal(t, 1, devices, "the software Device once per stream")
	}
	return out
}

func keysIn(rs []ohx.Resource, typ string, keep func(ohx.Resource) bool) []string {
	var out []string
	for _, r := range rs {
		if r.Type == typ && (keep == nil || keep(r)) {
			out = append(out, r.Key())
		}
	}
	return out
}

// TestStreamWritesOneProvenancePerHour: the Provenance of a type's hour
// lists every resource of the hour, whatever batches they came in, comes
// after the last of them and has the id of the hour.
func TestStreamWritesOneProvenancePerHour(t *testing.T) {
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(v.String(), func(t *testing.T) {
			link := withingsLink() // Paris: whole hours fall on whole UTC hours
			from := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
			w := ohx.Window{Start: from, End: from.Add(3*time.Hour + 30*time.Minute)}
			samples := minuteHR(w.Start, w.End)
			tr := newTransformer(t, fhirmap.Config{Version: v})
			rs := runStream(t, tr, link, w, samples[:100], samples[100:150], samples[150:])
			ps := provenanceOf(t, tr, rs)
			require.Len(t, ps, 4, "hours 08, 09, 10 and 11 (up to the window's end)")
			for h := range 4 {
				hour := ohx.Window{Start: from.Add(time.Duration(h) * time.Hour), End: from.Add(time.Duration(h+1) * time.Hour)}
				p, ok := ps[fhirmap.BucketProvenanceID(fhirmap.LinkKey(&link), string(ohx.HeartRate), hour)]
				require.True(t, ok, "the Provenance of hour %s", hour)
				var want []string
				for _, s := range samples {
					if hour.Contains(s.Start) {
						want = append(want, "Observation/"+fhirmap.SampleID(&link, &s))
					}
				}
				assert.Equal(t, want, p.targets, "hour %s", hour)
			}
		})
	}
}

// TestStreamRereadOfAnHourRewritesItsProvenance: an incremental read from
// the start of the hour before the cursor gives the hour's Provenance the
// same id, with the targets it had and those the provider has since; the
// same read again writes the same Provenance.
func TestStreamRereadOfAnHourRewritesItsProvenance(t *testing.T) {
	link := withingsLink()
	tr := newTransformer(t, fhirmap.Config{})
	from := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	cursor := from.Add(2*time.Hour + 20*time.Minute)
	first := runStream(t, tr, link, ohx.Window{Start: from, End: cursor}, minuteHR(from, cursor))
	before := provenanceOf(t, tr, first)

	// The cursor less the 15-minute overlap lies in hour 10: the read starts
	// there, and the provider has 30 more minutes by now.
	hour10 := from.Add(2 * time.Hour)
	w := ohx.Window{Start: hour10, End: cursor.Add(30 * time.Minute)}
	again := runStream(t, tr, link, w, minuteHR(w.Start, w.End))
	after := provenanceOf(t, tr, again)
	require.Len(t, after, 1)
	for id, p := range after {
		old, ok := before[id]
		require.True(t, ok, "the hour's Provenance keeps its id")
		assert.Subset(t, p.targets, old.targets, "no target the Provenance recorded is lost")
		assert.Len(t, p.targets, 50)
		assert.Equal(t, old.targets, p.targets[:len(old.targets)])
	}

	same := runStream(t, tr, link, w, minuteHR(w.Start, w.End))
	assert.Equal(t, keysIn(again, "Provenance", nil), keysIn(same, "Provenance", nil))
	for i := range again {
		assert.JSONEq(t, string(again[i].JSON), string(same[i].JSON), "the same read writes the same resources")
	}
}

// TestStreamHourReadInPart: an hour that starts before the window (a read
// that did not start on the grid) gets a Provenance whose id follows from
// its targets, so it never replaces the whole hour's.
func TestStreamHourReadInPart(t *testing.T) {
	link := withingsLink()
	tr := newTransformer(t, fhirmap.Config{})
	from := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	w := ohx.Window{Start: from, End: from.Add(90 * time.Minute)}
	rs := runStream(t, tr, link, w, minuteHR(w.Start, w.End))
	ps := provenanceOf(t, tr, rs)
	require.Len(t, ps, 2)
	var part []ohx.Resource
	for _, s := range minuteHR(from, from.Add(30*time.Minute)) {
		r, err := tr.Sample(&link, &s)
		require.NoError(t, err)
		part = append(part, r)
	}
	assert.Contains(t, ps, fhirmap.ProvenanceID(fhirmap.LinkKey(&link), string(ohx.HeartRate), part), "08:30-09:00: by content")
	hour9 := ohx.Window{Start: from.Add(30 * time.Minute), End: from.Add(90 * time.Minute)}
	assert.Contains(t, ps, fhirmap.BucketProvenanceID(fhirmap.LinkKey(&link), string(ohx.HeartRate), hour9), "09:00-10:00: by the hour")
}

// TestStreamLateSample: a sample of an hour the same batch completed joins
// the hour's Provenance; one of an hour an earlier batch completed gets a
// Provenance of its own, and the hour's keeps its targets.
func TestStreamLateSample(t *testing.T) {
	link := withingsLink()
	tr := newTransformer(t, fhirmap.Config{})
	from := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: from, End: from.Add(2 * time.Hour)}
	hr := minuteHR(w.Start, w.End)
	lateSame, lateOld := hr[58], hr[59] // 08:58 and 08:59
	batch1 := append(slices.Clone(hr[:58]), hr[60:70]...)
	batch1 = append(batch1, lateSame) // after 09:09, in the batch that completed hour 8
	batch2 := append([]ohx.Sample{lateOld}, hr[70:]...)
	rs := runStream(t, tr, link, w, batch1, batch2)
	ps := provenanceOf(t, tr, rs)
	require.Len(t, ps, 3, "hours 8 and 9, and the late 08:59 on its own")
	hour8 := ohx.Window{Start: from, End: from.Add(time.Hour)}
	p8 := ps[fhirmap.BucketProvenanceID(fhirmap.LinkKey(&link), string(ohx.HeartRate), hour8)]
	assert.Len(t, p8.targets, 59, "08:00-08:57 and the late 08:58")
	assert.Contains(t, p8.targets, "Observation/"+fhirmap.SampleID(&link, &lateSame))
	r, err := tr.Sample(&link, &lateOld)
	require.NoError(t, err)
	assert.Contains(t, ps, fhirmap.ProvenanceID(fhirmap.LinkKey(&link), string(ohx.HeartRate), []ohx.Resource{r}))
}

// TestStreamECGAndItsHeartRateShareAProvenance: the heart rate of an ECG
// recording is read with the ECG, and its Provenance is the ECG's.
func TestStreamECGAndItsHeartRateShareAProvenance(t *testing.T) {
	link := withingsLink()
	tr := newTransformer(t, fhirmap.Config{})
	ss := withingsSamples()
	ecg, hr := ss[22], ss[23]
	require.Equal(t, ohx.ECG, ecg.Type)
	require.Equal(t, ohx.ECG, hr.CompanionOf)
	bucket := ohx.HourGrid{}.BucketStart(link, ecg.Start)
	w := ohx.Window{Start: bucket, End: bucket.Add(2 * time.Hour)}
	rs := runStream(t, tr, link, w, []ohx.Sample{ecg, hr})
	ps := provenanceOf(t, tr, rs)
	require.Len(t, ps, 1)
	p, ok := ps[fhirmap.BucketProvenanceID(fhirmap.LinkKey(&link), string(ohx.ECG), ohx.Window{Start: bucket, End: bucket.Add(time.Hour)})]
	require.True(t, ok)
	assert.ElementsMatch(t, append(keysIn(rs, "Observation", nil), keysIn(rs, "DiagnosticReport", nil)...), p.targets)
}

func TestStreamWithoutProvenance(t *testing.T) {
	link := withingsLink()
	tr := newTransformer(t, fhirmap.Config{NoProvenance: true})
	from := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: from, End: from.Add(2 * time.Hour)}
	rs := runStream(t, tr, link, w, minuteHR(w.Start, w.End))
	assert.Len(t, rs, 120)
	assert.Empty(t, keysIn(rs, "Provenance", nil))
	assert.Empty(t, keysIn(rs, "Device", nil))

	st := tr.Stream(link, w, ohx.TriggerInitial, nil)
	_, err := st.Close(t.Context())
	require.NoError(t, err)
	_, err = st.Next(t.Context(), minuteHR(w.Start, w.End))
	require.Error(t, err, "a closed stream maps nothing")
}
