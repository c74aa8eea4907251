package r5

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// ucum is the UCUM system URL of every Quantity.
const ucum = "http://unitsofmeasure.org"

func num(s string) *json.Number { n := json.Number(s); return &n }

type validatable interface {
	Validate() error
	MarshalJSON() ([]byte, error)
}

func sampleResources() map[string]validatable {
	loinc := "http://loinc.org"
	obs := &Observation{
		ID:                "0b1b3b5a-8d64-5c1e-9a0e-3c2b1a0f9e8d",
		Status:            ObservationFinal,
		Code:              CodeableConcept{Coding: []Coding{{System: &loinc, Code: ptr("8867-4"), Display: ptr("Heart rate")}}},
		Subject:           &Reference{Reference: ptr("Patient/1")},
		EffectiveDateTime: ptr("2026-11-20T07:00:00+01:00"),
		ValueQuantity:     &Quantity{Value: num("72.50"), Unit: ptr("/min"), System: ptr(ucum), Code: ptr("/min")},
		TriggeredBy:       []ObservationTriggeredBy{{Observation: Reference{Reference: ptr("Observation/x")}, Type: TriggerReflex}},
	}
	ecg := &Observation{
		Status: ObservationFinal,
		Code:   CodeableConcept{Text: ptr("ECG")},
		ValueSampledData: &SampledData{
			Origin:   Quantity{Value: num("0"), Unit: ptr("mV"), System: ptr(ucum), Code: ptr("mV")},
			Interval: num("3.333333"), IntervalUnit: "ms", Factor: num("0.001"), Dimensions: 1, Data: ptr("1 2 -3"),
		},
	}
	dev := &Device{
		ID: "dev1", Status: DeviceActive, Manufacturer: ptr("Withings"), DisplayName: ptr("ScanWatch"),
		Name:     []DeviceName{{Value: "ScanWatch", Type: NameRegistered, Display: ptr(true)}},
		Type:     []CodeableConcept{{Text: ptr("watch")}},
		Version:  []DeviceVersion{{Value: "1.0"}},
		Property: []DeviceProperty{{Type: CodeableConcept{Text: ptr("battery")}, ValueQuantity: &Quantity{Value: num("80"), Code: ptr("%"), System: ptr(ucum)}}},
	}
	da := &DeviceAssociation{ID: "da1", Device: Reference{Reference: ptr("Device/dev1")}, Status: AssociationStatus(AssociationAttached)}
	dr := &DiagnosticReport{ID: "dr1", Status: ReportFinal, Code: CodeableConcept{Text: ptr("EKG")}, Result: []Reference{{Reference: ptr("Observation/x")}}}
	prov := &Provenance{ID: "p1", Target: []Reference{{Reference: ptr("Observation/x")}}, Recorded: ptr("2026-11-20T07:00:00Z"),
		Agent:  []ProvenanceAgent{{Who: Reference{Display: ptr("ohx")}}},
		Entity: []ProvenanceEntity{{Role: "source", What: Reference{Display: ptr("withings")}}}}
	oo := &OperationOutcome{Issue: []OperationOutcomeIssue{{Severity: "error", Code: "invalid"}}}
	obsJSON, _ := obs.MarshalJSON()
	b := &Bundle{Type: BundleTransaction, Entry: []BundleEntry{{
		FullURL: "urn:uuid:" + obs.ID, Resource: obsJSON,
		Request: &BundleRequest{Method: MethodPut, URL: "Observation/" + obs.ID},
	}, {Request: &BundleRequest{Method: MethodDelete, URL: "Observation/abc"}}}}
	return map[string]validatable{"Observation": obs, "ECG": ecg, "Device": dev, "DeviceAssociation": da,
		"DiagnosticReport": dr, "Provenance": prov, "OperationOutcome": oo, "Bundle": b}
}

func TestStructsProduceValidR5(t *testing.T) {
	for name, r := range sampleResources() {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, r.Validate())
			data, err := r.MarshalJSON()
			require.NoError(t, err)
			assert.NoError(t, validate.Resource(data), "%s", data)
			var m map[string]any
			require.NoError(t, json.Unmarshal(data, &m))
			assert.NotEmpty(t, m["resourceType"])
		})
	}
}

func TestDecimalsKeepPrecision(t *testing.T) {
	r := sampleResources()
	data, err := r["Observation"].MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"value":72.50`)
	data, err = r["ECG"].MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"interval":3.333333`)
	assert.Contains(t, string(data), `"factor":0.001`)
}

func TestZeroValuesAreInvalid(t *testing.T) {
	for name, r := range map[string]validatable{
		"Observation": &Observation{}, "DiagnosticReport": &DiagnosticReport{}, "DeviceAssociation": &DeviceAssociation{},
		"Provenance": &Provenance{}, "Bundle": &Bundle{}, "OperationOutcome": &OperationOutcome{},
		"SampledData":      &Observation{Status: ObservationFinal, Code: CodeableConcept{Text: ptr("x")}, ValueSampledData: &SampledData{}},
		"Device name type": &Device{Name: []DeviceName{{Value: "x", Type: "manufacturer-name"}}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, r.Validate(), ErrInvalid)
			data, err := r.MarshalJSON()
			require.NoError(t, err)
			assert.Error(t, validate.Resource(data), "the validator must reject what Validate rejects: %s", data)
		})
	}
}
