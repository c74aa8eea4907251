package fhirmap_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

// TestTransformEqualsSampleBySample: the Observations of a batch, whose JSON
// shares chunks (several here), are the resources Sample maps one by one,
// byte for byte, in both releases; and appending to one resource's JSON
// leaves every other resource as it was.
func TestTransformEqualsSampleBySample(t *testing.T) {
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(v.String(), func(t *testing.T) {
			tr := newTransformer(t, fhirmap.Config{Version: v, NoProvenance: true})
			b := ohx.Batch{Link: googleLink(), Samples: make([]ohx.Sample, 300)}
			for i := range b.Samples {
				b.Samples[i] = heartRate(i)
			}
			b.Samples[7].RecordID = "rec-7 <&>"
			b.Samples[8].DeviceID, b.Samples[8].DeviceName = "", "Pixel Watch \"3\""
			b.Samples[9].Unit = "" // the catalog unit
			rs, err := tr.Transform(t.Context(), b)
			require.NoError(t, err)
			require.Len(t, rs, len(b.Samples))
			want := make([]ohx.Resource, len(rs))
			for i := range b.Samples {
				want[i], err = tr.Sample(&b.Link, &b.Samples[i])
				require.NoError(t, err)
				assert.Equal(t, want[i], rs[i], "sample %d", i)
				assert.Equal(t, want[i].ID, fhirmap.SampleID(&b.Link, &b.Samples[i]))
			}
			for i := range rs {
				grown := append(rs[i].JSON, `,"x":1}`...)
				grown[0] = '['
			}
			for i := range rs {
				assert.Equal(t, string(want[i].JSON), string(rs[i].JSON), "resource %d after appends to the others", i)
			}
		})
	}
}

// TestStreamInAnArenaEqualsStream: a stream that writes its batches into an
// engine's arena (ohx.ArenaStream) maps them to the bytes it maps without
// one, and the arena, reset and used for the next batch, leaves the
// stream's later Provenance (which names earlier batches' resources) right.
func TestStreamInAnArenaEqualsStream(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := googleLink()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: start, End: start.Add(2 * time.Hour)}
	samples := make([]ohx.Sample, 7200)
	for i := range samples {
		samples[i] = heartRate(i)
	}
	var want []string
	plain := tr.Stream(link, w, ohx.TriggerInitial, ohx.HourGrid{})
	var got []string
	inArena := tr.Stream(link, w, ohx.TriggerInitial, ohx.HourGrid{}).(ohx.ArenaStream)
	var arena ohx.Arena
	for lo := 0; lo < len(samples); lo += 500 {
		batch := samples[lo:min(lo+500, len(samples))]
		rs, err := plain.Next(t.Context(), batch)
		require.NoError(t, err)
		for _, r := range rs {
			want = append(want, string(r.JSON))
		}
		rs, err = inArena.NextIn(t.Context(), batch, &arena)
		require.NoError(t, err)
		for _, r := range rs {
			got = append(got, string(r.JSON)) // a copy: the arena is reset below
		}
		arena.Reset()
	}
	rs, err := plain.Close(t.Context())
	require.NoError(t, err)
	for _, r := range rs {
		want = append(want, string(r.JSON))
	}
	rs, err = inArena.(ohx.TransformStream).Close(t.Context())
	require.NoError(t, err)
	for _, r := range rs {
		got = append(got, string(r.JSON))
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "resource %d", i)
	}
}
