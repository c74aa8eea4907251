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
	tr := newTransformer(b, fhirmap.Config{Version: ohx.R4})
	link := googleLink()
	samples := make([]ohx.Sample, 4096)
	for i := range samples {
		samples[i] = heartRate(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		if _, err := tr.Sample(&link, &samples[i%len(samples)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu)
}

// BenchmarkHeartRateR4Generic is the same through the conversion (R5
// structs, r4.FromObservation, r4.Marshal), for comparison.
func BenchmarkHeartRateR4Generic(b *testing.B) {
	tr := newTransformer(b, fhirmap.Config{Version: ohx.R4})
	link := googleLink()
	samples := make([]ohx.Sample, 4096)
	for i := range samples {
		samples[i] = heartRate(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		o, err := tr.ObservationR4(&link, &samples[i%len(samples)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r4.Marshal(o); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu)
}
