package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertOuraOutput checks that the demo's Oura patient reached the FHIR
// server: Observations of the ring's data (heart rate from the initial sync,
// sleep from the signed webhook's push sync as well) and the rings as
// Devices.
func assertOuraOutput(t *testing.T, files map[string][]string) {
	t.Helper()
	codes := map[string]int{}
	for _, line := range files["Observation.ndjson"] {
		var obs struct {
			Subject struct {
				Reference string `json:"reference"`
			} `json:"subject"`
			Code struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"code"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &obs))
		if obs.Subject.Reference != "Patient/demo-oura-1" {
			continue
		}
		for _, c := range obs.Code.Coding {
			codes[c.Code]++
		}
	}
	require.NotEmpty(t, codes, "no Observation of the Oura patient")
	assert.Positive(t, codes["8867-4"], "heart rate (LOINC 8867-4)")
	assert.Zero(t, codes["80404-7"], "Oura's HRV is RMSSD, never SDNN (LOINC 80404-7)")
	assert.GreaterOrEqual(t, len(codes), 6, "heart rate, HRV, sleep, daily summaries, steps…: %v", codes)
	devices := 0
	for _, line := range files["Device.ndjson"] {
		var dev struct {
			Manufacturer string `json:"manufacturer"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &dev))
		if dev.Manufacturer == "Oura" {
			devices++
		}
	}
	assert.Equal(t, 2, devices, "the fake user's two rings")
}
