package fhirtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// heartRate is a heart-rate Observation as fhirmap writes one for a
// Google Health sample, with id n.
func heartRate(n int) string {
	id := fmt.Sprintf("e0009242-10e0-583c-9528-%012x", n)
	return `{"resourceType":"Observation","id":"` + id + `","meta":{"source":"urn:ohx:fitbit","profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns","http://hl7.org/fhir/StructureDefinition/heartrate"]},` +
		`"identifier":[{"system":"urn:ohx:fitbit:observation","value":"` + id + `"},{"system":"urn:ohx:fitbit:record","value":"` + fmt.Sprint(5139580000+n) + `"}],` +
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/p-1001"},` +
		`"effectiveDateTime":"2026-11-20T09:42:13+01:00","performer":[{"reference":"Patient/p-1001"}],` +
		`"valueQuantity":{"value":64,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"device":{"reference":"Device/f9d6d0bb-6a33-50a1-8f81-ae21f1ebc391"}}`
}

// transactions are 1,000 transaction Bundles of 100 new heart-rate
// Observations each, as publish.FHIR posts them.
var transactions = sync.OnceValue(func() []string {
	bodies := make([]string, 0, 1000)
	n := 0
	for range 1000 {
		var entries []string
		for range 100 {
			r := heartRate(n)
			id := r[len(`{"resourceType":"Observation","id":"`):][:36]
			entries = append(entries, `{"fullUrl":"urn:uuid:`+id+`","resource":`+r+`,"request":{"method":"PUT","url":"Observation/`+id+`"}}`)
			n++
		}
		bodies = append(bodies, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)
	}
	return bodies
})

// BenchmarkTransaction100: one transaction Bundle of 100 heart-rate
// Observations written with PUT, as the sync benchmarks post them, served
// in process (no network) without validation. Up to 1,000 bundles every
// resource is new, as in a sync (-benchtime=866x is the 1-day sync's).
func BenchmarkTransaction100(b *testing.B) { benchmarkTransaction100(b) }

// BenchmarkTransaction100WithoutBodies: BenchmarkTransaction100 with
// WithoutBodies, as bench/cmd/fakes serves the sync benchmarks.
func BenchmarkTransaction100WithoutBodies(b *testing.B) {
	benchmarkTransaction100(b, fhirtest.WithoutBodies())
}

func benchmarkTransaction100(b *testing.B, opts ...fhirtest.Option) {
	s := fhirtest.New(append([]fhirtest.Option{fhirtest.WithValidator(nil), fhirtest.WithNow(func() time.Time { return time.Unix(1_795_000_000, 0) })}, opts...)...)
	bodies := transactions()
	b.ReportAllocs()
	cpu := processCPU()
	i := 0
	for b.Loop() {
		body := bodies[i%len(bodies)]
		i++
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric((processCPU()-cpu)/float64(b.N)/100*1e9, "cpu-ns/resource")
}

// processCPU returns the user+system CPU seconds of the process: the
// machine the benchmarks run on is shared, so wall time says little.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
