package fhirmap_test

import (
	"testing"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/r4"
)

// BenchmarkHeartRateR4 maps individual 1-second heart-rate samples to R4
// Observation JSON with its US Core claim (the R4 fast path).
func BenchmarkHeartRateR4(b *testing.B) {
	benchHeartRate(b, fhirmap.Config{Version: ohx.R4}, sampleJSON)
}

// BenchmarkHeartRateR4Generic is the same through the conversion (R5
// structs, r4.FromObservation, r4.Marshal), for comparison.
func BenchmarkHeartRateR4Generic(b *testing.B) {
	benchHeartRate(b, fhirmap.Config{Version: ohx.R4}, func(tr *fhirmap.Transformer, link *ohx.Link, s *ohx.Sample) error {
		o, err := tr.ObservationR4(link, s)
		if err != nil {
			return err
		}
		_, err = r4.Marshal(o)
		return err
	})
}
