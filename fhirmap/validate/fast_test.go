package validate_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// observation is a resource of the shape fhirmap's fast path writes.
const observation = `{"resourceType":"Observation","id":"0b6e0f3c-8e0a-5d55-9b43-3b1e8d1f2a10",` +
	`"meta":{"source":"https://api.fitbit.com"},` +
	`"identifier":[{"system":"https://ohx.example/fitbit/observation","value":"0b6e0f3c-8e0a-5d55-9b43-3b1e8d1f2a10"}],` +
	`"status":"final",` +
	`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/bench-1"},` +
	`"effectiveDateTime":"2026-11-19T00:00:01+01:00",` +
	`"issued":"2026-11-19T00:05:00Z",` +
	`"valueQuantity":{"value":72.5,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},` +
	`"device":{"reference":"Device/3f1c"}}`

func TestFastPathRunsTheSchemaOncePerShape(t *testing.T) {
	validate.ResetShapes()
	require.NoError(t, validate.Resource([]byte(observation)))
	runs := validate.SchemaRuns()
	// Same shape, other values: no schema run.
	other := strings.NewReplacer(`72.5`, `180`, `00:00:01+01:00`, `23:59:59.123Z`, `bench-1`, `p-2`).Replace(observation)
	require.NoError(t, validate.Resource([]byte(other)))
	require.NoError(t, validate.Resource([]byte(observation)))
	assert.Equal(t, runs, validate.SchemaRuns(), "a known shape must not run the schema")
	// Another member order is another key: one more run, still valid.
	reordered := strings.Replace(observation, `"status":"final",`, ``, 1)
	reordered = strings.Replace(reordered, `"subject"`, `"status":"final","subject"`, 1)
	require.NoError(t, validate.Resource([]byte(reordered)))
	assert.Equal(t, runs+1, validate.SchemaRuns())
}

// TestShapeCacheCannotAdmitInvalid mutates a document whose shape is cached.
// A value mutation keeps the shape, so the fast path alone must catch it
// (the schema does not run again); a shape mutation is a new shape, so the
// schema runs and catches it.
func TestShapeCacheCannotAdmitInvalid(t *testing.T) {
	tests := []struct {
		name      string
		old, new  string
		rule      string
		path      string
		sameShape bool
	}{
		// Values, same shape.
		{"dateTime month 13", `2026-11-19T00:00:01+01:00`, `2026-13-19T00:00:01+01:00`, "schema", "Observation.effectiveDateTime", true},
		{"dateTime without seconds", `2026-11-19T00:00:01+01:00`, `2026-11-19T00:00+01:00`, "schema", "Observation.effectiveDateTime", true},
		{"dateTime offset 15:00", `2026-11-19T00:00:01+01:00`, `2026-11-19T00:00:01+15:00`, "schema", "Observation.effectiveDateTime", true},
		{"instant without zone", `2026-11-19T00:05:00Z`, `2026-11-19T00:05:00`, "schema", "Observation.issued", true},
		{"code with two spaces", `"code":"8867-4"`, `"code":"8867  4"`, "schema", "Observation.code.coding[0].code", true},
		{"code with a tab", `"code":"/min"`, `"code":"/\tmin"`, "schema", "Observation.valueQuantity.code", true},
		{"uri with a space", `"system":"http://loinc.org"`, `"system":"http://loinc .org"`, "schema", "Observation.code.coding[0].system", true},
		{"id too long", `"id":"0b6e0f3c-8e0a-5d55-9b43-3b1e8d1f2a10"`, `"id":"` + strings.Repeat("a", 65) + `"`, "schema", "Observation.id", true},
		{"id with an underscore", `"id":"0b6e0f3c-8e0a-5d55-9b43-3b1e8d1f2a10"`, `"id":"0b6e_0f3c"`, "schema", "Observation.id", true},
		{"status outside the value set", `"status":"final"`, `"status":"done"`, "code", "Observation.status", true},
		{"empty string", `"unit":"/min"`, `"unit":""`, "schema", "Observation.valueQuantity.unit", true},
		{"empty uri", `"source":"https://api.fitbit.com"`, `"source":""`, "empty", "Observation.meta.source", true},
		{"decimal beyond the R5 digits", `72.5`, `1234567890123456789.5`, "schema", "Observation.valueQuantity.value", true},
		{"decimal with 18 fraction digits", `72.5`, `0.123456789012345678`, "schema", "Observation.valueQuantity.value", true},
		{"decimal exponent of 10 digits", `72.5`, `1e1234567890`, "schema", "Observation.valueQuantity.value", true},
		{"urn:uuid reference not RFC 4122", `"Device/3f1c"`, `"urn:uuid:0b6e0f3c-8e0a-0d55-9b43-3b1e8d1f2a10"`, "uuid", "Observation.device.reference", true},
		// Shapes.
		{"decimal as a string (NaN)", `72.5`, `"NaN"`, "schema", "Observation.valueQuantity.value", false},
		{"decimal as null", `72.5`, `null`, "schema", "Observation.valueQuantity.value", false},
		{"unknown element", `"status":"final",`, `"status":"final","statusReason":"x",`, "schema", "Observation", false},
		{"R4 element", `"status":"final",`, `"status":"final","context":{"reference":"Encounter/1"},`, "schema", "Observation", false},
		{"missing code", `"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},`, ``, "required", "Observation.code", false},
		{"missing status", `"status":"final",`, ``, "required", "Observation.status", false},
		{"status as an array", `"status":"final"`, `"status":["final"]`, "schema", "Observation.status", false},
		{"empty object", `"subject":{"reference":"Patient/bench-1"}`, `"subject":{}`, "empty", "Observation.subject", false},
		{"obs-6", `"status":"final",`, `"status":"final","dataAbsentReason":{"text":"x"},`, "obs-6", "Observation.dataAbsentReason", false},
		{"unit as a number", `"unit":"/min"`, `"unit":7`, "schema", "Observation.valueQuantity.unit", false},
	}
	// observation is valid R4 too: the cases run in both versions, but for
	// values R4 accepts: its code pattern allows any single white space
	// between words, and its decimal sets no digit limits.
	validR4 := map[string]bool{"code with a tab": true, "decimal beyond the R5 digits": true,
		"decimal with 18 fraction digits": true, "decimal exponent of 10 digits": true}
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		for _, tt := range tests {
			if v == ohx.R4 && validR4[tt.name] {
				continue
			}
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				validate.ResetShapes()
				require.NoError(t, validate.ResourceVersion(v, []byte(observation)))
				require.Contains(t, observation, tt.old)
				doc := strings.Replace(observation, tt.old, tt.new, 1)
				runs := validate.SchemaRuns()
				err := validate.ResourceVersion(v, []byte(doc))
				var ve *validate.Error
				require.ErrorAs(t, err, &ve)
				assert.True(t, ve.Has(tt.rule, tt.path), "want %s at %s, got %v", tt.rule, tt.path, ve.Violations)
				if tt.sameShape {
					assert.Equal(t, runs, validate.SchemaRuns(), "a value mutation keeps the shape: caught without the schema")
				} else {
					assert.Equal(t, runs+1, validate.SchemaRuns(), "a shape mutation is a new shape: the schema runs")
				}
				// An invalid document never enters the cache: again, same verdict.
				err2 := validate.ResourceVersion(v, []byte(doc))
				require.Error(t, err2)
				assert.Equal(t, err.Error(), err2.Error())
			})
		}
	}
}

// profiled is observation as fhirmap writes it when it claims the R5
// vital-signs and heart-rate profiles.
var profiled = strings.Replace(observation, `"meta":{"source":"https://api.fitbit.com"}`,
	`"meta":{"source":"https://api.fitbit.com","profile":["`+validate.ProfileVitalSigns+`","`+validate.ProfileHeartRate+`"]}`, 1)

// TestShapeCacheCannotAdmitProfileViolation: the claimed profiles are checked
// on every document, whether or not its shape is cached, alone or in a
// Bundle. Each mutation keeps the shape, so only the Go checks can catch it.
func TestShapeCacheCannotAdmitProfileViolation(t *testing.T) {
	bundleOf := func(obs string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",` +
			`"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	}
	tests := []struct {
		name, old, new, rule, path string
	}{
		{"heart rate in Hz", `"code":"/min"}`, `"code":"Hz"}`, "profile", "Observation.valueQuantity"},
		{"heart rate unit system not UCUM", `"system":"http://unitsofmeasure.org"`, `"system":"http://unitsofmeasure.org/x"`, "profile", "Observation.valueQuantity"},
		{"heart rate without the LOINC code", `"code":"8867-4"`, `"code":"40443-4"`, "profile", "Observation.code"},
		{"code not LOINC", `"system":"http://loinc.org"`, `"system":"http://snomed.info/sct"`, "profile", "Observation.code"},
		{"category not vital-signs", `"code":"vital-signs"`, `"code":"laboratory"`, "profile", "Observation.category"},
		{"subject not a Patient", `"reference":"Patient/bench-1"`, `"reference":"Group/bench-1"`, "profile", "Observation.subject"},
		{"effective to the year", `"effectiveDateTime":"2026-11-19T00:00:01+01:00"`, `"effectiveDateTime":"2026"`, "vs-1", "Observation.effectiveDateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, profiled, tt.old)
			bad := strings.Replace(profiled, tt.old, tt.new, 1)
			for _, doc := range []struct{ good, bad, prefix string }{
				{profiled, bad, ""},
				{bundleOf(profiled), bundleOf(bad), "Bundle.entry[0].resource"},
			} {
				validate.ResetShapes()
				require.NoError(t, validate.Resource([]byte(doc.good)))
				runs := validate.SchemaRuns()
				err := validate.Resource([]byte(doc.bad))
				var ve *validate.Error
				require.ErrorAs(t, err, &ve)
				path := tt.path
				if doc.prefix != "" {
					path = doc.prefix + strings.TrimPrefix(path, "Observation")
				}
				assert.True(t, ve.Has(tt.rule, path), "want %s at %s, got %v", tt.rule, path, ve.Violations)
				assert.Equal(t, runs, validate.SchemaRuns(), "the shape is cached: caught without the schema")
			}
		})
	}
}

func TestFastPathInputErrors(t *testing.T) {
	for name, in := range map[string]string{
		"repeated member": `{"resourceType":"Observation","status":"final","status":"final"}`,
		"invalid UTF-8":   "{\"resourceType\":\"Observation\",\"status\":\"fin\xffal\"}",
		"lone surrogate":  `{"resourceType":"Observation","status":"\ud800"}`,
		"trailing data":   `{"resourceType":"Observation"} {}`,
		"leading zero":    `{"resourceType":"Observation","valueInteger":01}`,
		"control char":    "{\"resourceType\":\"Observation\",\"status\":\"a\x01\"}",
		"unterminated":    `{"resourceType":"Observation"`,
		"bare NaN":        `{"resourceType":"Observation","valueQuantity":{"value":NaN}}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := validate.Resource([]byte(in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, validate.ErrNotJSON), "%v", err)
		})
	}
}

// TestFastAgreesWithFullOnValidDocuments: every valid example passes both
// ways, cold and warm, and escaped strings read the same.
func TestFastAgreesWithFullOnValidDocuments(t *testing.T) {
	for _, name := range []string{"bundle-transaction.json", "device.json", "deviceassociation.json", "diagnosticreport.json",
		"observation-bp.json", "observation-ecg.json", "observation-heart-rate.json", "operationoutcome.json", "provenance.json"} {
		data := readValid(t, name)
		validate.ResetShapes()
		require.NoError(t, validate.ValidateFull(data, ""), name)
		require.NoError(t, validate.Resource(data), name)
		require.NoError(t, validate.Resource(data), name)
	}
	escaped := strings.Replace(observation, `"text":"Heart rate"`, `"text":"Heart\u0020rate \u00e9\ud83d\ude00 \"quoted\" \\"`, 1)
	require.NoError(t, validate.ValidateFull([]byte(escaped), ""))
	require.NoError(t, validate.Resource([]byte(escaped)))
	bad := strings.Replace(observation, `"code":"8867-4"`, `"code":"8867\u0020\u00204"`, 1)
	require.Error(t, validate.ValidateFull([]byte(bad), ""))
	require.Error(t, validate.Resource([]byte(bad)))
}

func BenchmarkResourceFastObservation(b *testing.B) {
	data := []byte(observation)
	require.NoError(b, validate.Resource(data))
	b.ReportAllocs()
	for b.Loop() {
		if err := validate.Resource(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResourceFastProfiled is the resource the individual sync path
// validates: a cached shape that claims the vital-signs profiles.
func BenchmarkResourceFastProfiled(b *testing.B) {
	data := []byte(profiled)
	require.NoError(b, validate.Resource(data))
	b.ReportAllocs()
	for b.Loop() {
		if err := validate.Resource(data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFastNeverAdmitsWhatFullRejects is the safety property of the shape
// cache: whatever the full schema rejects, the fast path rejects, with the
// cache cold and with the shapes of the valid seeds in it, as R5 and as R4.
// (The fast path may reject more: repeated members, invalid UTF-8, number
// literals.)
func FuzzFastNeverAdmitsWhatFullRejects(f *testing.F) {
	seeds := map[ohx.FHIRVersion][][]byte{ohx.R5: {[]byte(observation)}, ohx.R4: {[]byte(observation)}}
	for v, names := range map[ohx.FHIRVersion][]string{
		ohx.R5: {"observation-heart-rate.json", "observation-bp.json", "observation-ecg.json", "device.json",
			"deviceassociation.json", "provenance.json", "bundle-transaction.json"},
		ohx.R4: {"observation-bp.json", "observation-ecg.json", "device.json", "provenance.json", "bundle-transaction.json"},
	} {
		dir := map[ohx.FHIRVersion]string{ohx.R5: "valid", ohx.R4: "valid-r4"}[v]
		for _, name := range names {
			data, err := os.ReadFile(filepath.Join("testdata", dir, name))
			require.NoError(f, err)
			seeds[v] = append(seeds[v], data)
		}
	}
	for v, ss := range seeds {
		for _, s := range ss {
			f.Add(s, v == ohx.R4)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, r4 bool) {
		v := ohx.R5
		if r4 {
			v = ohx.R4
		}
		full := validate.ValidateFullVersion(v, data, "")
		validate.ResetShapes()
		cold := validate.ResourceVersion(v, data)
		for _, s := range seeds[v] {
			_ = validate.ResourceVersion(v, s)
		}
		warm := validate.ResourceVersion(v, data)
		if full != nil && (cold == nil || warm == nil) {
			t.Fatalf("full rejects (%v) but fast admits (cold %v, warm %v)", full, cold, warm)
		}
		if (cold == nil) != (warm == nil) {
			t.Fatalf("cold %v, warm %v", cold, warm)
		}
	})
}

// TestMain compiles the schema before any test or fuzz input runs: a fuzz
// worker that spends its first input compiling is taken for hung.
func TestMain(m *testing.M) {
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		if err := validate.ReadyVersion(v); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

// TestFastNeverAdmitsWhatFullRejects checks the fuzz target's property on
// every one-byte mutation of a fhirmap-shaped Observation, as R5 and as R4:
// each byte deleted, or replaced by a character that changes a value ('9',
// ' ', 'x') or the structure ('"', '{').
func TestFastNeverAdmitsWhatFullRejects(t *testing.T) {
	seed := []byte(observation)
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(string(v), func(t *testing.T) {
			validate.ResetShapes()
			require.NoError(t, validate.ResourceVersion(v, seed))
			checked, rejected := 0, 0
			for i := range seed {
				for _, c := range []byte{0, '9', ' ', 'x', '"', '{'} {
					var data []byte
					if c == 0 {
						data = append(append([]byte{}, seed[:i]...), seed[i+1:]...)
					} else {
						data = append([]byte{}, seed...)
						data[i] = c
					}
					full := validate.ValidateFullVersion(v, data, "")
					warm := validate.ResourceVersion(v, data) // the seed's shape is cached
					checked++
					if full != nil {
						rejected++
						require.Error(t, warm, "byte %d → %q: the full schema rejects, the fast path must too", i, c)
					}
				}
			}
			require.Greater(t, rejected, checked/2)
		})
	}
}

// TestFastPathConcurrent: goroutines that fill and read the shape cache at
// once keep their verdicts (run with -race).
func TestFastPathConcurrent(t *testing.T) {
	validate.ResetShapes()
	good := []byte(observation)
	bad := []byte(strings.Replace(observation, `2026-11-19T00:05:00Z`, `2026-11-19T24:05:00Z`, 1))
	other := []byte(strings.Replace(observation, `,"device":{"reference":"Device/3f1c"}`, ``, 1))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range 8 {
		wg.Go(func() {
			for range 50 {
				if err := validate.Resource(good); err != nil {
					errs[g] = err
					return
				}
				if err := validate.Resource(other); err != nil {
					errs[g] = err
					return
				}
				if validate.Resource(bad) == nil {
					errs[g] = errors.New("an invalid instant was admitted")
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}
