package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBenchmarksReadsEveryMetricByUnit(t *testing.T) {
	out := `goos: linux
cpu: Oxide Virtual Turin-like Processor
BenchmarkHeartRate 	  185175	     14141 ns/op	      1464 cpu-ns/op	    682927 obs/cpu-s	     70719 obs/s	     882 B/op	       4 allocs/op
BenchmarkInitialSync1DayIndividual-2   	       1	42251281962 ns/op	     32212 B/sample	         9.408 fakes-cpu-s	       867.0 fhir-requests	       866.0 min-fhir-requests
PASS
`
	got := parseBenchmarks(out)
	require.Len(t, got, 2)
	assert.InDelta(t, 682927, got["BenchmarkHeartRate"]["obs/cpu-s"], 0)
	assert.InDelta(t, 4, got["BenchmarkHeartRate"]["allocs/op"], 0)
	ind := got["BenchmarkInitialSync1DayIndividual"]
	assert.InDelta(t, 32212, ind["B/sample"], 0)
	assert.InDelta(t, 9.408, ind["fakes-cpu-s"], 1e-9)
	assert.InDelta(t, 866, ind["min-fhir-requests"], 0)
}

func TestParseLoadReadsBothPhasesAndTheRatio(t *testing.T) {
	out := `target                            req/s        p50        p99        max   errors
bare net/http (ceiling)             6834     8.12ms    62.23ms   140.5ms        0
ohxd /webhooks/withings             3368    15.3ms    87.65ms   201.1ms        2

ohxd / ceiling: 0.49
`
	r, err := parseLoad(out)
	require.NoError(t, err)
	assert.InDelta(t, 6834, r.bare.rate, 0)
	assert.Equal(t, 62230*time.Microsecond, r.bare.p99)
	assert.Equal(t, 2, r.ohxd.errors)
	assert.InDelta(t, 0.49, r.ratio, 1e-9)

	_, err = parseLoad("load: redis-server not found\n")
	assert.Error(t, err, "a run without its summary is an error, not zeros")
}

func TestCountFormatsLikeTheTables(t *testing.T) {
	assert.Equal(t, "9,521", count(9521))
	assert.Equal(t, "225 k", count(225_000))
	assert.Equal(t, "14.90 M", count(14_900_000))
	assert.Equal(t, "300", count(300))
}

func TestParseBenchmarksTakesTheMedianOfRepeatedRuns(t *testing.T) {
	out := `BenchmarkInitialSync1DayIndividual-2   	       1	1 ns/op	     70000 samples/cpu-s	 1100 B/sample
BenchmarkInitialSync1DayIndividual-2   	       1	1 ns/op	     90000 samples/cpu-s	 1000 B/sample
BenchmarkInitialSync1DayIndividual-2   	       1	1 ns/op	     85000 samples/cpu-s	 1200 B/sample
BenchmarkHeartRate 	  1	 1 ns/op	      1000 obs/cpu-s
BenchmarkHeartRate 	  1	 1 ns/op	      3000 obs/cpu-s
`
	got := parseBenchmarks(out)
	assert.InDelta(t, 85000, got["BenchmarkInitialSync1DayIndividual"]["samples/cpu-s"], 0)
	assert.InDelta(t, 1100, got["BenchmarkInitialSync1DayIndividual"]["B/sample"], 0)
	assert.InDelta(t, 2000, got["BenchmarkHeartRate"]["obs/cpu-s"], 0, "an even count: the mean of the middle two")
}

func TestParseShareSumsTheValidationEntryPoints(t *testing.T) {
	top := `Duration: 10.58s, Total samples = 4.52s (42.72%)
      flat  flat%   sum%        cum   cum%
     0.01s  0.22%  1.11%      0.73s 16.15%  github.com/openhealthexchange/ohx/publish.(*FHIR).prepareAll.func2
         0     0%  2.21%      0.55s 12.17%  github.com/openhealthexchange/ohx/fhirmap/validate.(*schemaSet).validate
         0     0%  2.21%      0.50s 11.06%  github.com/openhealthexchange/ohx/fhirmap/validate.ResourceVersion
         0     0%  2.21%      0.05s  1.11%  github.com/openhealthexchange/ohx/fhirmap/validate.Bundle
`
	share, err := parseShare(top, validatedBy)
	require.NoError(t, err)
	assert.InDelta(t, 0.1217, share, 1e-9)
	_, err = parseShare("Duration: 1s\n", validatedBy)
	assert.Error(t, err, "a profile without validation is an error, not 0 %")
}
