package r4_test

import (
	"encoding/json"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r4"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

func ptr[T any](v T) *T { return &v }

func num(s string) *json.Number { n := json.Number(s); return &n }

func heartRate() *r5.Observation {
	return &r5.Observation{
		ID:     "hr-1",
		Status: r5.ObservationFinal,
		Category: []r5.CodeableConcept{{Coding: []r5.Coding{{System: ptr("http://terminology.hl7.org/CodeSystem/observation-category"),
			Code: ptr("vital-signs")}}}},
		Code:              r5.CodeableConcept{Coding: []r5.Coding{{System: ptr("http://loinc.org"), Code: ptr("8867-4")}}},
		Subject:           &r5.Reference{Reference: ptr("Patient/p-1")},
		EffectiveDateTime: ptr("2026-11-20T07:42:13+01:00"),
		ValueQuantity:     &r5.Quantity{Value: num("64"), Unit: ptr("/min"), System: ptr("http://unitsofmeasure.org"), Code: ptr("/min")},
	}
}

// TestZeroValueTrap shows the trap of samply's R4 models (a zero value
// marshals as a plausible resource with the code "registered") and that the
// conversion never produces it: an empty R5 status is an error, not a zero.
func TestZeroValueTrap(t *testing.T) {
	data, err := r4.Marshal(&fhir.Observation{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"resourceType":"Observation","status":"registered","code":{}}`, string(data), "the trap, as samply marshals it")
	var ve *validate.Error
	require.ErrorAs(t, validate.ResourceVersion(ohx.R4, data), &ve, "the R4 checks catch the empty code")
	assert.True(t, ve.Has("empty", "Observation.code"))

	name, err := r4.Marshal(&fhir.Device{DeviceName: []fhir.DeviceDeviceName{{Name: "x"}}})
	require.NoError(t, err)
	assert.Contains(t, string(name), `"type":"udi-label-name"`, "DeviceNameType's zero value is a code too")

	for _, o := range []*r5.Observation{
		func() *r5.Observation { o := heartRate(); o.Status = ""; return o }(),
		func() *r5.Observation { o := heartRate(); o.Status = "done"; return o }(),
		func() *r5.Observation { o := heartRate(); o.Code = r5.CodeableConcept{}; return o }(),
	} {
		_, err := r4.FromObservation(o)
		assert.ErrorIs(t, err, r4.ErrNotConvertible)
	}
	_, err = r4.FromDevice(&r5.Device{Name: []r5.DeviceName{{Value: "x"}}}, nil)
	assert.ErrorIs(t, err, r4.ErrNotConvertible, "an R5 name without type is not turned into udi-label-name")
	_, err = r4.FromProvenance(&r5.Provenance{Recorded: ptr("2026-11-25T12:00:00Z"), Target: []r5.Reference{{Reference: ptr("Observation/1")}},
		Agent: []r5.ProvenanceAgent{{Who: r5.Reference{Reference: ptr("Device/1")}}}, Entity: []r5.ProvenanceEntity{{What: r5.Reference{Reference: ptr("Observation/0")}}}})
	assert.ErrorIs(t, err, r4.ErrNotConvertible, "an empty entity role is not turned into derivation")
	_, err = r4.FromDiagnosticReport(&r5.DiagnosticReport{Status: r5.ReportModified, Code: r5.CodeableConcept{Text: ptr("ECG")}})
	assert.ErrorIs(t, err, r4.ErrNotConvertible, "R5 modified has no R4 code")
}

func TestFromObservation(t *testing.T) {
	o := heartRate()
	o.TriggeredBy = []r5.ObservationTriggeredBy{{Observation: r5.Reference{Reference: ptr("Observation/x")}, Type: r5.TriggerReflex}}
	ro, err := r4.FromObservation(o)
	require.NoError(t, err)
	data, err := r4.Marshal(ro)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "triggeredBy", "R4 has no Observation.triggeredBy")
	assert.Contains(t, string(data), `{"resourceType":"Observation","id":"hr-1","status":"final"`)
	require.NoError(t, validate.ResourceVersion(ohx.R4, data))
}

func TestFromSampledData(t *testing.T) {
	origin := r5.Quantity{Value: num("0"), Unit: ptr("mV"), System: ptr("http://unitsofmeasure.org"), Code: ptr("mV")}
	for _, tc := range []struct {
		name   string
		in     r5.SampledData
		period string
		ext    bool
		err    bool
	}{
		{"interval in ms is the period", r5.SampledData{Origin: origin, Interval: num("3.3333333333333335"), IntervalUnit: "ms", Dimensions: 1, Data: ptr("1 2")}, "3.3333333333333335", false, false},
		{"interval in s is converted to ms", r5.SampledData{Origin: origin, Interval: num("0.5"), IntervalUnit: "s", Dimensions: 1, Data: ptr("1 2")}, "500", false, false},
		{"offsets go to the cross-version extension", r5.SampledData{Origin: origin, Offsets: ptr("0 812 1610"), IntervalUnit: "ms", Dimensions: 1, Data: ptr("812 798 845")}, "0", true, false},
		{"evenly spaced offsets are a period", r5.SampledData{Origin: origin, Offsets: ptr("0 900000 1800000 2700000"), IntervalUnit: "ms", Dimensions: 1, Data: ptr("61 70.6 70 88")}, "900000", false, false},
		{"one offset", r5.SampledData{Origin: origin, Offsets: ptr("0"), IntervalUnit: "ms", Dimensions: 1, Data: ptr("61")}, "0", true, false},
		{"interval and offsets", r5.SampledData{Origin: origin, Interval: num("1"), Offsets: ptr("0"), IntervalUnit: "ms", Dimensions: 1}, "", false, true},
		{"not a time unit", r5.SampledData{Origin: origin, Interval: num("1"), IntervalUnit: "mV", Dimensions: 1}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := r4.FromSampledData(&tc.in)
			if tc.err {
				assert.ErrorIs(t, err, r4.ErrNotConvertible)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, json.Number(tc.period), sd.Period)
			if tc.ext {
				require.Len(t, sd.Extension, 1)
				assert.Equal(t, r4.ExtensionSampledDataOffsets, sd.Extension[0].Url)
				assert.Equal(t, tc.in.Offsets, sd.Extension[0].ValueString)
			} else {
				assert.Empty(t, sd.Extension)
			}
			o := heartRate()
			o.ValueQuantity = nil
			o.ValueSampledData = &tc.in
			ro, err := r4.FromObservation(o)
			require.NoError(t, err)
			data, err := r4.Marshal(ro)
			require.NoError(t, err)
			assert.NotContains(t, string(data), "interval")
			assert.NoError(t, validate.ResourceVersion(ohx.R4, data))
		})
	}
}

func TestFromDevice(t *testing.T) {
	d := &r5.Device{
		ID: "d-1", Status: r5.DeviceActive, DisplayName: ptr("ScanWatch"), Manufacturer: ptr("Withings"),
		Name: []r5.DeviceName{{Value: "ScanWatch", Type: r5.NameRegistered, Display: ptr(true)}},
		Type: []r5.CodeableConcept{{Text: ptr("Watch")}, {Text: ptr("second")}},
		Property: []r5.DeviceProperty{
			{Type: r5.CodeableConcept{Text: ptr("Battery level")}, ValueQuantity: &r5.Quantity{Value: num("85"), Unit: ptr("%"), System: ptr("http://unitsofmeasure.org"), Code: ptr("%")}},
			{Type: r5.CodeableConcept{Text: ptr("Battery status")}, ValueCodeableConcept: &r5.CodeableConcept{Text: ptr("low")}},
		},
	}
	a := &r5.DeviceAssociation{Device: r5.Reference{Reference: ptr("Device/d-1")}, Status: r5.AssociationStatus(r5.AssociationAttached),
		Subject: &r5.Reference{Reference: ptr("Patient/p-1")}}
	rd, err := r4.FromDevice(d, a)
	require.NoError(t, err)
	data, err := r4.Marshal(rd)
	require.NoError(t, err)
	require.NoError(t, validate.ResourceVersion(ohx.R4, data))
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	assert.Equal(t, map[string]any{"reference": "Patient/p-1"}, m["patient"], "R4 links the device to its patient")
	assert.Equal(t, []any{map[string]any{"name": "ScanWatch", "type": "model-name"}}, m["deviceName"])
	assert.Equal(t, map[string]any{"text": "Watch"}, m["type"], "R4 Device.type is 0..1")
	assert.Equal(t, "active", m["status"])
	assert.NotContains(t, m, "displayName")
	assert.NotContains(t, m, "name")

	gone := *a
	gone.Status = r5.AssociationStatus(r5.AssociationEnteredInError)
	rd, err = r4.FromDevice(d, &gone)
	require.NoError(t, err)
	assert.Nil(t, rd.Patient, "an association entered in error names no patient")

	d.Property = []r5.DeviceProperty{{Type: r5.CodeableConcept{Text: ptr("x")}, ValueBoolean: ptr(true)}}
	_, err = r4.FromDevice(d, nil)
	assert.ErrorIs(t, err, r4.ErrNotConvertible, "R4 device properties are quantities and codes only")
}

func TestSystem(t *testing.T) {
	assert.Equal(t, "urn:iso:std:iso:11073:10101", r4.System("urn:oid:2.16.840.1.113883.6.24"))
	assert.Equal(t, "http://loinc.org", r4.System("http://loinc.org"))
}

func TestFromProvenance(t *testing.T) {
	p := &r5.Provenance{ID: "p-1", Recorded: ptr("2026-11-25T12:00:00Z"), Patient: &r5.Reference{Reference: ptr("Patient/p-1")},
		Target: []r5.Reference{{Reference: ptr("Observation/1")}},
		Agent:  []r5.ProvenanceAgent{{Who: r5.Reference{Reference: ptr("Device/1")}}},
		Entity: []r5.ProvenanceEntity{{Role: "source", What: r5.Reference{Identifier: &r5.Identifier{System: ptr("urn:ohx:withings:record"), Value: ptr("1")}}}}}
	rp, err := r4.FromProvenance(p)
	require.NoError(t, err)
	data, err := r4.Marshal(rp)
	require.NoError(t, err)
	require.NoError(t, validate.ResourceVersion(ohx.R4, data))
	assert.NotContains(t, string(data), `"patient"`, "R4 Provenance has no patient")
	assert.Contains(t, string(data), `"role":"source"`)

	p.Recorded = nil
	_, err = r4.FromProvenance(p)
	assert.ErrorIs(t, err, r4.ErrNotConvertible, "recorded is required in R4")
}
