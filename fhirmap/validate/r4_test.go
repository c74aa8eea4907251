package validate_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

func TestEmbeddedR4SchemaMatchesSource(t *testing.T) {
	note, err := os.ReadFile("fhir.schema.r4.SOURCE.md")
	require.NoError(t, err)
	field := func(key string) string {
		m := regexp.MustCompile(`(?m)^- `+regexp.QuoteMeta(key)+`: (.+)$`).FindAllStringSubmatch(string(note), -1)
		require.Len(t, m, 1, "the R4 source note names %q once", key)
		return strings.TrimSpace(m[0][1])
	}
	want := field("sha256")
	require.Regexp(t, `^[0-9a-f]{64}$`, want)
	data, err := os.ReadFile("fhir.schema.r4.json")
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, want, hex.EncodeToString(sum[:]), "embedded R4 schema differs from the file named in the note")
	assert.Equal(t, fmt.Sprintf("%d bytes", len(data)), field("size"))
	assert.Equal(t, want, validate.SchemaR4SHA256)
	licence, err := os.ReadFile("fhir.schema.r4.LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(licence), "The MIT License")
	require.NoError(t, validate.ReadyVersion(ohx.R4))
}

func readValidR4(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "valid-r4", name))
	require.NoError(t, err)
	return data
}

// TestR4ExamplesPass is the R4 positive control: hand-written R4 resources
// in the shapes ohx writes pass as R4, and those with an R4-only element fail
// as R5.
func TestR4ExamplesPass(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid-r4", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.NoError(t, validate.ResourceVersion(ohx.R4, data))
		})
	}
	assert.NoError(t, validate.BundleVersion(ohx.R4, readValidR4(t, "bundle-transaction.json")))
	for _, f := range []string{"observation-ecg.json", "device.json", "bundle-transaction.json"} {
		assert.Error(t, validate.Resource(readValidR4(t, f)), "%s has R4-only elements", f)
	}
}

func mutateR4(t *testing.T, file string, fn mutation) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(readValidR4(t, file), &m))
	fn(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func TestRejectsR4(t *testing.T) {
	tests := []struct {
		name, file string
		mut        mutation
		rule, path string
	}{
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
		{"DiagnosticReport without status", "diagnosticreport.json", func(m map[string]any) {
			delete(m, "status")
		}, "required", "DiagnosticReport.status"},
		{"obs-6 dataAbsentReason with a component value", "observation-bp.json", func(m map[string]any) {
			obj(arr(m["component"])[0])["dataAbsentReason"] = map[string]any{"text": "unknown"}
		}, "obs-6", "Observation.component[0].dataAbsentReason"},
		{"obs-7", "observation-bp.json", func(m map[string]any) {
			m["valueQuantity"] = map[string]any{"value": 1}
			obj(arr(m["component"])[1])["code"] = m["code"]
		}, "obs-7", "Observation.component[1].code"},
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validate.ResourceVersion(ohx.R4, mutateR4(t, tc.file, tc.mut))
			var ve *validate.Error
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, ohx.R4, ve.Version)
			assert.True(t, ve.Has(tc.rule, tc.path), "want %s at %s, got %v", tc.rule, tc.path, ve.Violations)
			assert.True(t, strings.HasPrefix(ve.Error(), "fhir r4: invalid"), ve.Error())
			assert.NotContains(t, ve.Error(), "R5", "R4 errors name R4")
		})
	}
}

func TestVersionDispatch(t *testing.T) {
	r5 := readValid(t, "observation-heart-rate.json")
	assert.NoError(t, validate.ResourceVersion("", r5))
	assert.NoError(t, validate.ResourceVersion(ohx.R5, r5))
	assert.True(t, errors.Is(validate.ResourceVersion("R3", r5), validate.ErrUnknownVersion))
	assert.True(t, errors.Is(validate.BundleVersion("R3", r5), validate.ErrUnknownVersion))
	assert.Error(t, validate.BundleVersion(ohx.R4, readValidR4(t, "device.json")), "BundleVersion wants a Bundle")
	assert.True(t, validate.KnownResourceTypeVersion(ohx.R5, "DeviceAssociation"))
	assert.False(t, validate.KnownResourceTypeVersion(ohx.R4, "DeviceAssociation"))
	assert.True(t, validate.KnownResourceTypeVersion(ohx.R4, "Device"))

	var ve *validate.Error
	require.ErrorAs(t, validate.Resource([]byte(`{"resourceType":"Observation","code":{"text":"x"}}`)), &ve)
	assert.True(t, strings.HasPrefix(ve.Error(), "fhir r5: invalid"), "R5 errors read as before")
}
