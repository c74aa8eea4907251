package r4_test

import (
	"encoding/json"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/r4"
)

// TestMarshalBytes pins Marshal's bytes to those of a struct holding
// resourceType then the model embedded (its OtherX copy, without samply's
// MarshalJSON), for a full and an empty model of each type.
func TestMarshalBytes(t *testing.T) {
	ro, err := r4.FromObservation(heartRate())
	require.NoError(t, err)
	type (
		obs  = fhir.OtherObservation
		rep  = fhir.OtherDiagnosticReport
		dev  = fhir.OtherDevice
		prov = fhir.OtherProvenance
	)
	for name, c := range map[string]struct {
		v    any
		want any
	}{
		"Observation": {ro, struct {
			ResourceType string `json:"resourceType"`
			obs
		}{"Observation", obs(*ro)}},
		"EmptyObservation": {&fhir.Observation{}, struct {
			ResourceType string `json:"resourceType"`
			obs
		}{"Observation", obs{}}},
		"DiagnosticReport": {&fhir.DiagnosticReport{Id: ptr("r"), Status: fhir.DiagnosticReportStatusFinal}, struct {
			ResourceType string `json:"resourceType"`
			rep
		}{"DiagnosticReport", rep{Id: ptr("r"), Status: fhir.DiagnosticReportStatusFinal}}},
		"EmptyDevice": {&fhir.Device{}, struct {
			ResourceType string `json:"resourceType"`
			dev
		}{"Device", dev{}}},
		"Device": {&fhir.Device{Id: ptr("d"), SerialNumber: ptr("s<1>")}, struct {
			ResourceType string `json:"resourceType"`
			dev
		}{"Device", dev{Id: ptr("d"), SerialNumber: ptr("s<1>")}}},
		"Provenance": {&fhir.Provenance{Recorded: "2026-11-25T12:00:00Z"}, struct {
			ResourceType string `json:"resourceType"`
			prov
		}{"Provenance", prov{Recorded: "2026-11-25T12:00:00Z"}}},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(c.want)
			require.NoError(t, err)
			got, err := r4.Marshal(c.v)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
	_, err = r4.Marshal(&fhir.Patient{})
	assert.ErrorContains(t, err, "unsupported type")
}
