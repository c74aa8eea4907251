package fhirmap_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

func heartRate(i int) ohx.Sample {
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return ohx.Sample{Type: ohx.HeartRate, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: float64(60 + i%40),
		Unit: "/min", Provider: "fitbit", DeviceID: "8a1f6d2c", Recording: ohx.RecordedByDevice}
}

// BenchmarkHeartRate maps individual 1-second heart-rate samples to R5
// Observation JSON (the fast path). Target: ≥ 300,000 Observations/s on one core.
func BenchmarkHeartRate(b *testing.B) {
	benchHeartRate(b, fhirmap.Config{}, sampleJSON)
}

// benchHeartRate maps 1-second heart-rate samples one per iteration with
// mapOne, through a Transformer configured by cfg, and reports allocations
// and the rates of reportCPU. Every heart-rate benchmark of each FHIR version
// runs through it.
func benchHeartRate(b *testing.B, cfg fhirmap.Config, mapOne func(*fhirmap.Transformer, *ohx.Link, *ohx.Sample) error) {
	tr := newTransformer(b, cfg)
	link := googleLink()
	samples := make([]ohx.Sample, 4096)
	for i := range samples {
		samples[i] = heartRate(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		if err := mapOne(tr, &link, &samples[i%len(samples)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu)
}

// sampleJSON is the fast path of either version: Transformer.Sample.
func sampleJSON(tr *fhirmap.Transformer, link *ohx.Link, s *ohx.Sample) error {
	_, err := tr.Sample(link, s)
	return err
}

// cpuTime returns the process's user+system CPU time. On a shared machine the
// wall-clock ns/op include time the benchmark waited for a core; CPU time per
// operation does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	used := cpuTime() - start
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	if used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.N)/used.Seconds(), "obs/cpu-s")
	}
}

// BenchmarkHeartRateGeneric is the same mapping through the generic path
// (structs + encoding/json), for comparison.
func BenchmarkHeartRateGeneric(b *testing.B) {
	benchHeartRate(b, fhirmap.Config{}, func(tr *fhirmap.Transformer, link *ohx.Link, s *ohx.Sample) error {
		o, err := tr.Observation(link, s)
		if err != nil {
			return err
		}
		_, err = o.MarshalJSON()
		return err
	})
}

// BenchmarkTransformBatch maps a batch of 5,000 heart-rate samples with its
// Provenance, as the engine calls it.
func BenchmarkTransformBatch(b *testing.B) {
	tr := newTransformer(b, fhirmap.Config{})
	batch := ohx.Batch{Link: googleLink(), Samples: make([]ohx.Sample, 5000)}
	for i := range batch.Samples {
		batch.Samples[i] = heartRate(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := tr.Transform(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	used := cpuTime() - cpu
	b.ReportMetric(float64(b.N*len(batch.Samples))/b.Elapsed().Seconds(), "obs/s")
	if used > 0 {
		b.ReportMetric(float64(b.N*len(batch.Samples))/used.Seconds(), "obs/cpu-s")
	}
}

// BenchmarkTransformBatchArena is BenchmarkTransformBatch as the engine calls
// it for a publisher that releases the JSON: the batch's JSON and resource
// slice go into an ohx.Arena reused from batch to batch.
func BenchmarkTransformBatchArena(b *testing.B) {
	tr := newTransformer(b, fhirmap.Config{})
	batch := ohx.Batch{Link: googleLink(), Samples: make([]ohx.Sample, 5000), Arena: new(ohx.Arena)}
	for i := range batch.Samples {
		batch.Samples[i] = heartRate(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := tr.Transform(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		batch.Arena.Reset()
	}
	used := cpuTime() - cpu
	b.ReportMetric(float64(b.N*len(batch.Samples))/b.Elapsed().Seconds(), "obs/s")
	if used > 0 {
		b.ReportMetric(float64(b.N*len(batch.Samples))/used.Seconds(), "obs/cpu-s")
	}
}
