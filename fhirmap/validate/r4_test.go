package validate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// TestR4OnlyElementsFailAsR5: R4 examples with an element R5 dropped are
// not R5.
func TestR4OnlyElementsFailAsR5(t *testing.T) {
	for _, f := range []string{"observation-ecg.json", "device.json", "bundle-transaction.json"} {
		assert.Error(t, validate.Resource(readValidVersion(t, ohx.R4, f)), "%s has R4-only elements", f)
	}
}

// rejectsR4 are the R4 cases of TestRejects.
var rejectsR4 = []rejectCase{
	// R5 shapes, caught by the R4 schema.
	{"R5 SampledData.interval", "observation-ecg.json", func(m map[string]any) {
		sd := obj(m["valueSampledData"])
		delete(sd, "period")
		sd["interval"], sd["intervalUnit"] = 3.3, "ms"
	}, "schema", "Observation.valueSampledData"},
	{"R5 SampledData.offsets", "observation-ecg.json", func(m map[string]any) {
		obj(obj(arr(m["component"])[0])["valueSampledData"])["offsets"] = "0 812 1610"
	}, "schema", "Observation.component[0].valueSampledData"},
	{"R5 Observation.triggeredBy", "observation-bp.json", func(m map[string]any) {
		m["triggeredBy"] = []any{map[string]any{"observation": map[string]any{"reference": "Observation/x"}, "type": "reflex"}}
	}, "schema", "Observation"},
	{"R5 Device.name", "device.json", func(m map[string]any) {
		m["name"] = []any{map[string]any{"value": "ScanWatch", "type": "registered-name"}}
	}, "schema", "Device"},
	{"R5 Device.displayName", "device.json", func(m map[string]any) {
		m["displayName"] = "ScanWatch"
	}, "schema", "Device"},
	{"R5 Device.type as array", "device.json", func(m map[string]any) {
		m["type"] = []any{map[string]any{"text": "Watch"}}
	}, "cardinality", "Device.type"},
	{"R5 Device.property value", "device.json", func(m map[string]any) {
		obj(arr(m["property"])[0])["valueQuantity"] = map[string]any{"value": 85}
	}, "schema", "Device.property[0].valueQuantity"},
	{"R5 name type", "device.json", func(m map[string]any) {
		obj(arr(m["deviceName"])[0])["type"] = "registered-name"
	}, "code", "Device.deviceName[0].type"},
	{"R5 Provenance.patient", "provenance.json", func(m map[string]any) {
		m["patient"] = map[string]any{"reference": "Patient/example"}
	}, "schema", "Provenance"},
	{"R5 DiagnosticReport status modified", "diagnosticreport.json", func(m map[string]any) {
		m["status"] = "modified"
	}, "code", "DiagnosticReport.status"},
	{"DeviceAssociation inside an R4 bundle", "bundle-transaction.json", func(m map[string]any) {
		entryResource(m, 0)["resourceType"] = "DeviceAssociation"
	}, "schema", "Bundle.entry[0].resource.resourceType"},

	// Required primitives the R4 schema misses.
	{"Observation without status", "observation-bp.json", func(m map[string]any) {
		delete(m, "status")
	}, "required", "Observation.status"},
	{"SampledData without period", "observation-ecg.json", func(m map[string]any) {
		delete(obj(m["valueSampledData"]), "period")
	}, "required", "Observation.valueSampledData.period"},
	{"SampledData negative period", "observation-ecg.json", func(m map[string]any) {
		obj(m["valueSampledData"])["period"] = -1
	}, "value", "Observation.valueSampledData.period"},
	{"SampledData without dimensions", "observation-ecg.json", func(m map[string]any) {
		delete(obj(m["valueSampledData"]), "dimensions")
	}, "required", "Observation.valueSampledData.dimensions"},
	{"deviceName without type", "device.json", func(m map[string]any) {
		delete(obj(arr(m["deviceName"])[0]), "type")
	}, "required", "Device.deviceName[0].type"},
	{"deviceName without name", "device.json", func(m map[string]any) {
		delete(obj(arr(m["deviceName"])[0]), "name")
	}, "required", "Device.deviceName[0].name"},
	{"Provenance without recorded", "provenance.json", func(m map[string]any) {
		delete(m, "recorded")
	}, "required", "Provenance.recorded"},
	{"Provenance entity without role", "provenance.json", func(m map[string]any) {
		delete(obj(arr(m["entity"])[0]), "role")
	}, "required", "Provenance.entity[0].role"},
	{"empty code (samply's zero value)", "observation-bp.json", func(m map[string]any) {
		m["code"] = map[string]any{}
	}, "empty", "Observation.code"},
	{"bundle entry without request", "bundle-transaction.json", func(m map[string]any) {
		delete(obj(arr(m["entry"])[0]), "request")
	}, "bdl-3c", "Bundle.entry[0].request"},
	{"unresolved urn:uuid reference", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[0])["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
	}, "reference", "Bundle.entry[1].resource.device.reference"},
}

func TestVersionDispatch(t *testing.T) {
	r5 := readValid(t, "observation-heart-rate.json")
	assert.NoError(t, validate.ResourceVersion("", r5))
	assert.NoError(t, validate.ResourceVersion(ohx.R5, r5))
	assert.True(t, errors.Is(validate.ResourceVersion("R3", r5), validate.ErrUnknownVersion))
	assert.True(t, errors.Is(validate.BundleVersion("R3", r5), validate.ErrUnknownVersion))
	assert.Error(t, validate.BundleVersion(ohx.R4, readValidVersion(t, ohx.R4, "device.json")), "BundleVersion wants a Bundle")
	assert.True(t, validate.KnownResourceTypeVersion(ohx.R5, "DeviceAssociation"))
	assert.False(t, validate.KnownResourceTypeVersion(ohx.R4, "DeviceAssociation"))
	assert.True(t, validate.KnownResourceTypeVersion(ohx.R4, "Device"))

	var ve *validate.Error
	require.ErrorAs(t, validate.Resource([]byte(`{"resourceType":"Observation","code":{"text":"x"}}`)), &ve)
	assert.True(t, strings.HasPrefix(ve.Error(), "fhir r5: invalid"), "R5 errors read as before")
}
