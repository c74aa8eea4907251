package fhirmap_test

import (
	"testing"

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
