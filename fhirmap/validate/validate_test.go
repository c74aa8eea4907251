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
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// version is what the tests need of one FHIR version: its embedded
// schema, the note that records where it came from, and its examples.
type version struct {
	v        ohx.FHIRVersion
	schema   string // the embedded schema file
	note     string // the note beside it: origin, size and SHA-256
	licence  string // the licence beside it, when it has its own
	sha256   string // the constant the package exports
	examples string // testdata directory of valid examples
	min      int    // how many examples there are at least
}

var versions = []version{
	{ohx.R5, "fhir.schema.r5.json", "fhir.schema.r5.SOURCE.md", "", validate.SchemaSHA256, "valid", 9},
	{ohx.R4, "fhir.schema.r4.json", "fhir.schema.r4.SOURCE.md", "fhir.schema.r4.LICENSE", validate.SchemaR4SHA256, "valid-r4", 6},
}

// noted returns the value of the note's single "- key: value" line.
func noted(t *testing.T, noteName, note, key string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^- ` + regexp.QuoteMeta(key) + `: (.+)$`)
	m := re.FindAllStringSubmatch(note, -1)
	require.Len(t, m, 1, "%s names %q once", noteName, key)
	return strings.TrimSpace(m[0][1])
}

func TestEmbeddedSchemaMatchesSource(t *testing.T) {
	for _, vs := range versions {
		t.Run(string(vs.v), func(t *testing.T) {
			note, err := os.ReadFile(vs.note)
			require.NoError(t, err)
			want := noted(t, vs.note, string(note), "sha256")
			require.Regexp(t, `^[0-9a-f]{64}$`, want)
			size := noted(t, vs.note, string(note), "size")

			data, err := os.ReadFile(vs.schema)
			require.NoError(t, err)
			sum := sha256.Sum256(data)
			assert.Equal(t, want, hex.EncodeToString(sum[:]), "embedded schema differs from the file named in the note")
			assert.Equal(t, fmt.Sprintf("%d bytes", len(data)), size)
			assert.Equal(t, want, vs.sha256)
			if vs.licence != "" {
				licence, err := os.ReadFile(vs.licence)
				require.NoError(t, err)
				assert.Contains(t, string(licence), "The MIT License")
			}
			require.NoError(t, validate.ReadyVersion(vs.v))
		})
	}
}

// readValidVersion reads a valid example of FHIR version v.
func readValidVersion(t *testing.T, v ohx.FHIRVersion, name string) []byte {
	t.Helper()
	dir := ""
	for _, vs := range versions {
		if vs.v == v {
			dir = vs.examples
		}
	}
	require.NotEmpty(t, dir, "examples of %s", v)
	data, err := os.ReadFile(filepath.Join("testdata", dir, name))
	require.NoError(t, err)
	return data
}

func readValid(t *testing.T, name string) []byte {
	t.Helper()
	return readValidVersion(t, ohx.R5, name)
}

// TestExamplesPass is the positive control: hand-written resources in the
// style of the hl7.fhir.r5.examples files, and R4 resources in the shapes
// ohx writes, pass in their version.
func TestExamplesPass(t *testing.T) {
	for _, vs := range versions {
		t.Run(string(vs.v), func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("testdata", vs.examples, "*.json"))
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(files), vs.min)
			for _, f := range files {
				t.Run(filepath.Base(f), func(t *testing.T) {
					data, err := os.ReadFile(f)
					require.NoError(t, err)
					assert.NoError(t, validate.ResourceVersion(vs.v, data))
				})
			}
			assert.NoError(t, validate.BundleVersion(vs.v, readValidVersion(t, vs.v, "bundle-transaction.json")))
		})
	}
}

type mutation func(m map[string]any)

// mutate applies fn to a valid example of FHIR version v.
func mutate(t *testing.T, v ohx.FHIRVersion, file string, fn mutation) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(readValidVersion(t, v, file), &m))
	fn(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func obj(v any) map[string]any { return v.(map[string]any) }
func arr(v any) []any          { return v.([]any) }

func entryResource(m map[string]any, i int) map[string]any {
	return obj(obj(arr(m["entry"])[i])["resource"])
}

// rejectCase mutates a valid example into an invalid one.
type rejectCase struct {
	name, file string
	mut        mutation
	rule, path string // a violation the result must have
}

// rejectsBoth are the cases of TestRejects that read the same in R5 and R4.
var rejectsBoth = []rejectCase{
	{"DiagnosticReport without status", "diagnosticreport.json", func(m map[string]any) {
		delete(m, "status")
	}, "required", "DiagnosticReport.status"},
	{"obs-6 on a component", "observation-bp.json", func(m map[string]any) {
		obj(arr(m["component"])[0])["dataAbsentReason"] = map[string]any{"text": "unknown"}
	}, "obs-6", "Observation.component[0].dataAbsentReason"},
	{"obs-7 component repeats the code while a value is present", "observation-bp.json", func(m map[string]any) {
		m["valueQuantity"] = map[string]any{"value": 1}
		obj(arr(m["component"])[1])["code"] = m["code"]
	}, "obs-7", "Observation.component[1].code"},
}

var rejectsR5 = []rejectCase{
	// R4 shapes, caught by the schema.
	{"R4 SampledData.period", "observation-ecg.json", func(m map[string]any) {
		sd := obj(obj(arr(m["component"])[0])["valueSampledData"])
		delete(sd, "interval")
		sd["period"] = 10
	}, "schema", "Observation.component[0].valueSampledData"},
	{"R4 Device.deviceName", "device.json", func(m map[string]any) {
		m["deviceName"] = []any{map[string]any{"name": "Acme", "type": "manufacturer-name"}}
	}, "schema", "Device"},
	{"R4 Device.patient", "device.json", func(m map[string]any) {
		m["patient"] = map[string]any{"reference": "Patient/1"}
	}, "schema", "Device"},
	{"R4 Device.type as object", "device.json", func(m map[string]any) {
		m["type"] = map[string]any{"text": "cuff"}
	}, "schema", "Device.type"},
	{"R4 DeviceAssociation.status string", "deviceassociation.json", func(m map[string]any) {
		m["status"] = "implanted"
	}, "schema", "DeviceAssociation.status"},
	{"R4 DiagnosticReport.imagingStudy", "diagnosticreport.json", func(m map[string]any) {
		m["imagingStudy"] = []any{map[string]any{"reference": "ImagingStudy/1"}}
	}, "schema", "DiagnosticReport"},
	{"numeric Attachment.size", "diagnosticreport.json", func(m map[string]any) {
		m["presentedForm"] = []any{map[string]any{"contentType": "application/pdf", "size": 1024}}
	}, "schema", "DiagnosticReport.presentedForm[0].size"},
	{"R4 shape inside a bundle entry", "bundle-transaction.json", func(m map[string]any) {
		entryResource(m, 0)["deviceName"] = []any{map[string]any{"name": "x", "type": "other"}}
	}, "schema", "Bundle.entry[0].resource"},
	{"unknown resource type inside a bundle", "bundle-transaction.json", func(m map[string]any) {
		entryResource(m, 0)["resourceType"] = "Media"
	}, "schema", "Bundle.entry[0].resource.resourceType"},
	{"nested resource without resourceType", "bundle-transaction.json", func(m map[string]any) {
		delete(entryResource(m, 0), "resourceType")
	}, "schema", "Bundle.entry[0].resource"},
	{"nested resourceType not a string", "bundle-transaction.json", func(m map[string]any) {
		entryResource(m, 0)["resourceType"] = 7
	}, "schema", "Bundle.entry[0].resource.resourceType"},
	{"R4 shape in a contained resource", "observation-heart-rate.json", func(m map[string]any) {
		m["contained"] = []any{map[string]any{"resourceType": "Device", "id": "d1", "patient": map[string]any{"reference": "Patient/1"}}}
	}, "schema", "Observation.contained[0]"},
	{"R4 shape in a transaction-response outcome", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[3])["response"] = map[string]any{"status": "200", "outcome": map[string]any{"resourceType": "OperationOutcome",
			"issue": []any{map[string]any{"severity": "information", "code": "informational", "location": []any{"x"}, "expression": []any{"x"}, "details": map[string]any{"text": "ok"}, "unknown": 1}}}}
	}, "schema", "Bundle.entry[3].response.outcome.issue[0]"},
	{"string as decimal", "observation-heart-rate.json", func(m map[string]any) {
		obj(m["valueQuantity"])["value"] = "44"
	}, "schema", "Observation.valueQuantity.value"},
	{"null value", "observation-heart-rate.json", func(m map[string]any) {
		m["issued"] = nil
	}, "schema", "Observation.issued"},

	// Required primitives and codes the schema misses.
	{"Observation without status", "observation-heart-rate.json", func(m map[string]any) {
		delete(m, "status")
	}, "required", "Observation.status"},
	{"Observation status not a code", "observation-heart-rate.json", func(m map[string]any) {
		m["status"] = "done"
	}, "code", "Observation.status"},
	{"DiagnosticReport status not a code", "diagnosticreport.json", func(m map[string]any) {
		m["status"] = "complete"
	}, "code", "DiagnosticReport.status"},
	{"SampledData without intervalUnit", "observation-ecg.json", func(m map[string]any) {
		delete(obj(obj(arr(m["component"])[0])["valueSampledData"]), "intervalUnit")
	}, "required", "Observation.component[0].valueSampledData.intervalUnit"},
	{"SampledData without dimensions", "observation-ecg.json", func(m map[string]any) {
		delete(obj(obj(arr(m["component"])[0])["valueSampledData"]), "dimensions")
	}, "required", "Observation.component[0].valueSampledData.dimensions"},
	{"SampledData dimensions 0", "observation-ecg.json", func(m map[string]any) {
		obj(obj(arr(m["component"])[0])["valueSampledData"])["dimensions"] = 0
	}, "value", "Observation.component[0].valueSampledData.dimensions"},
	{"sdd-1 both interval and offsets", "observation-ecg.json", func(m map[string]any) {
		obj(obj(arr(m["component"])[0])["valueSampledData"])["offsets"] = "0 10"
	}, "sdd-1", "Observation.component[0].valueSampledData"},
	{"sdd-1 neither interval nor offsets", "observation-ecg.json", func(m map[string]any) {
		delete(obj(obj(arr(m["component"])[1])["valueSampledData"]), "offsets")
	}, "sdd-1", "Observation.component[1].valueSampledData"},
	{"obs-6 dataAbsentReason with value", "observation-heart-rate.json", func(m map[string]any) {
		m["dataAbsentReason"] = map[string]any{"text": "unknown"}
	}, "obs-6", "Observation.dataAbsentReason"},
	{"triggeredBy without type", "observation-heart-rate.json", func(m map[string]any) {
		m["triggeredBy"] = []any{map[string]any{"observation": map[string]any{"reference": "Observation/x"}}}
	}, "required", "Observation.triggeredBy[0].type"},
	{"triggeredBy with unknown type", "observation-heart-rate.json", func(m map[string]any) {
		m["triggeredBy"] = []any{map[string]any{"observation": map[string]any{"reference": "Observation/x"}, "type": "again"}}
	}, "code", "Observation.triggeredBy[0].type"},
	{"empty object", "observation-heart-rate.json", func(m map[string]any) {
		m["code"] = map[string]any{}
	}, "empty", "Observation.code"},
	{"empty array", "observation-heart-rate.json", func(m map[string]any) {
		m["category"] = []any{}
	}, "empty", "Observation.category"},
	{"R4 Device name type", "device.json", func(m map[string]any) {
		obj(arr(m["name"])[0])["type"] = "manufacturer-name"
	}, "code", "Device.name[0].type"},
	{"Device name without type", "device.json", func(m map[string]any) {
		delete(obj(arr(m["name"])[0]), "type")
	}, "required", "Device.name[0].type"},
	{"R4 Device status unknown", "device.json", func(m map[string]any) {
		m["status"] = "unknown"
	}, "code", "Device.status"},
	{"dev-1 two display names", "device.json", func(m map[string]any) {
		obj(arr(m["name"])[1])["display"] = true
	}, "dev-1", "Device.name"},
	{"Device property without value", "device.json", func(m map[string]any) {
		delete(obj(arr(m["property"])[0]), "valueQuantity")
	}, "required", "Device.property[0]"},
	{"Device property with two values", "device.json", func(m map[string]any) {
		obj(arr(m["property"])[0])["valueString"] = "80"
	}, "required", "Device.property[0]"},
	{"DeviceAssociation status outside the value set", "deviceassociation.json", func(m map[string]any) {
		obj(arr(obj(m["status"])["coding"])[0])["code"] = "worn"
	}, "code", "DeviceAssociation.status.coding[0].code"},
	{"DeviceAssociation status text only", "deviceassociation.json", func(m map[string]any) {
		m["status"] = map[string]any{"text": "attached"}
	}, "code", "DeviceAssociation.status"},
	{"Bundle without type", "bundle-transaction.json", func(m map[string]any) {
		delete(m, "type")
	}, "required", "Bundle.type"},
	{"Bundle type not a code", "bundle-transaction.json", func(m map[string]any) {
		m["type"] = "txn"
	}, "code", "Bundle.type"},
	{"request without method", "bundle-transaction.json", func(m map[string]any) {
		delete(obj(obj(arr(m["entry"])[0])["request"]), "method")
	}, "required", "Bundle.entry[0].request.method"},
	{"request method not a verb", "bundle-transaction.json", func(m map[string]any) {
		obj(obj(arr(m["entry"])[0])["request"])["method"] = "UPSERT"
	}, "code", "Bundle.entry[0].request.method"},
	{"request without url", "bundle-transaction.json", func(m map[string]any) {
		delete(obj(obj(arr(m["entry"])[1])["request"]), "url")
	}, "required", "Bundle.entry[1].request.url"},
	{"ifNoneExist with Type? prefix", "bundle-transaction.json", func(m map[string]any) {
		obj(obj(arr(m["entry"])[0])["request"])["ifNoneExist"] = "Device?identifier=urn:x|123"
	}, "value", "Bundle.entry[0].request.ifNoneExist"},
	{"bdl-3c transaction entry without request", "bundle-transaction.json", func(m map[string]any) {
		delete(obj(arr(m["entry"])[1]), "request")
	}, "bdl-3c", "Bundle.entry[1].request"},
	{"bdl-3c PUT without resource", "bundle-transaction.json", func(m map[string]any) {
		delete(obj(arr(m["entry"])[1]), "resource")
	}, "bdl-3c", "Bundle.entry[1].resource"},
	{"bdl-3c DELETE with resource", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[2])["resource"] = map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{"severity": "error", "code": "invalid"}}}
	}, "bdl-3c", "Bundle.entry[2].resource"},
	{"bdl-7 duplicate fullUrl", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[1])["fullUrl"] = obj(arr(m["entry"])[0])["fullUrl"]
	}, "bdl-7", "Bundle.entry[1].fullUrl"},
	{"urn:uuid with upper case", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[0])["fullUrl"] = "urn:uuid:61EBE359-BFDC-4613-8BF2-C5E300945F0A"
	}, "uuid", "Bundle.entry[0].fullUrl"},
	{"urn:uuid with wrong variant", "bundle-transaction.json", func(m map[string]any) {
		obj(arr(m["entry"])[0])["fullUrl"] = "urn:uuid:61ebe359-bfdc-4613-cbf2-c5e300945f0a"
	}, "uuid", "Bundle.entry[0].fullUrl"},
	{"unresolved urn:uuid reference", "bundle-transaction.json", func(m map[string]any) {
		obj(entryResource(m, 1)["device"])["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
	}, "reference", "Bundle.entry[1].resource.device.reference"},
	{"nested status checked inside bundle", "bundle-transaction.json", func(m map[string]any) {
		entryResource(m, 1)["status"] = "done"
	}, "code", "Bundle.entry[1].resource.status"},
}

// TestRejects runs each case three ways: the full schema on every document
// (the reference), the fast path with an empty shape cache, and the fast
// path after the unmutated document has put its shapes in the cache. All
// three must report the violation, in an error of the case's FHIR version
// that names no other version.
func TestRejects(t *testing.T) {
	for _, set := range []struct {
		v, other ohx.FHIRVersion
		cases    []rejectCase
	}{{ohx.R5, ohx.R4, slices.Concat(rejectsR5, rejectsBoth)}, {ohx.R4, ohx.R5, slices.Concat(rejectsR4, rejectsBoth)}} {
		for _, tt := range set.cases {
			t.Run(string(set.v)+"/"+tt.name, func(t *testing.T) {
				data := mutate(t, set.v, tt.file, tt.mut)
				for _, run := range []struct {
					name string
					fn   func([]byte) error
					warm bool
				}{{"full", func(d []byte) error { return validate.ValidateFullVersion(set.v, d, "") }, false},
					{"cold", func(d []byte) error { return validate.ResourceVersion(set.v, d) }, false},
					{"warm", func(d []byte) error { return validate.ResourceVersion(set.v, d) }, true}} {
					validate.ResetShapes()
					if run.warm {
						require.NoError(t, validate.ResourceVersion(set.v, readValidVersion(t, set.v, tt.file)))
					}
					err := run.fn(data)
					require.Error(t, err, run.name)
					var ve *validate.Error
					require.True(t, errors.As(err, &ve), "%s: want *validate.Error, got %T", run.name, err)
					assert.True(t, ve.Has(tt.rule, tt.path), "%s: want %s at %s, got %v", run.name, tt.rule, tt.path, ve.Violations)
					assert.Equal(t, set.v, ohx.FHIRVersion(ve.Version.String()), run.name)
					assert.True(t, strings.HasPrefix(ve.Error(), "fhir "+strings.ToLower(string(set.v))+": invalid"), "%s: %s", run.name, ve.Error())
					assert.NotContains(t, ve.Error(), string(set.other), "%s: %s errors name %s", run.name, set.v, set.v)
				}
			})
		}
	}
}

func TestErrorsNeverEchoValues(t *testing.T) {
	const secret = "SECRET-HEALTH-VALUE-73"
	doc := `{"resourceType":"Observation","status":"` + secret + `","code":{"text":"x"},"issued":"` + secret + `",` +
		`"valueQuantity":{"value":"` + secret + `"},"identifier":[{"value":"urn:uuid:` + secret + `"}],"effectiveDateTime":"` + secret + `"}`
	err := validate.Resource([]byte(doc))
	require.Error(t, err)
	var ve *validate.Error
	require.ErrorAs(t, err, &ve)
	assert.GreaterOrEqual(t, len(ve.Violations), 4)
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), "73")
}

func TestBundleRequiresBundle(t *testing.T) {
	err := validate.Bundle(readValid(t, "observation-heart-rate.json"))
	var ve *validate.Error
	require.ErrorAs(t, err, &ve)
	assert.True(t, ve.Has("schema", "resourceType"))
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		rule string
	}{
		{"not JSON", `{"resourceType": secret}`, ""},
		{"array", `[1]`, ""},
		{"missing resourceType", `{"status":"final"}`, "required"},
		{"unknown resourceType", `{"resourceType":"Media"}`, "schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate.Resource([]byte(tt.in))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "secret")
			if tt.rule == "" {
				assert.ErrorIs(t, err, validate.ErrNotJSON)
				return
			}
			var ve *validate.Error
			require.ErrorAs(t, err, &ve)
			assert.True(t, ve.Has(tt.rule, ""), "%v", ve.Violations)
		})
	}
	assert.True(t, validate.KnownResourceType("DeviceAssociation"))
	assert.False(t, validate.KnownResourceType("Media"))
	assert.True(t, strings.HasPrefix((&validate.Error{Violations: []validate.Violation{{Path: "a", Rule: "b", Message: "c"}}}).Error(), "fhir r5: invalid resource: 1 violation: a: c (b)"))
}

func BenchmarkResourceObservation(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid", "observation-heart-rate.json"))
	require.NoError(b, err)
	require.NoError(b, validate.Resource(data))
	b.ReportAllocs()
	for b.Loop() {
		if err := validate.Resource(data); err != nil {
			b.Fatal(err)
		}
	}
}
