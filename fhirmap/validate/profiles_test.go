package validate_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// sdElement is the part of an ElementDefinition the checks are written from.
type sdElement struct {
	ID        string `json:"id"`
	Min       *int   `json:"min"`
	Max       string `json:"max"`
	FixedCode string `json:"fixedCode"`
	FixedURI  string `json:"fixedUri"`
	Type      []struct {
		Code          string   `json:"code"`
		TargetProfile []string `json:"targetProfile"`
	} `json:"type"`
	Binding *struct {
		Strength    string `json:"strength"`
		Description string `json:"description"`
		ValueSet    string `json:"valueSet"`
	} `json:"binding"`
}

func readSD(t *testing.T, name string) (url string, diff map[string]sdElement) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "profiles-r5", "StructureDefinition-"+name+".json"))
	require.NoError(t, err)
	var sd struct {
		URL          string `json:"url"`
		Version      string `json:"version"`
		Differential struct {
			Element []sdElement `json:"element"`
		} `json:"differential"`
	}
	require.NoError(t, json.Unmarshal(data, &sd))
	require.Equal(t, "5.0.0", sd.Version)
	diff = map[string]sdElement{}
	for _, e := range sd.Differential.Element {
		diff[e.ID] = e
	}
	return sd.URL, diff
}

// fixedCodeOf returns the fixedCode of the one element whose id starts with
// prefix and ends with suffix (a slice's code).
func fixedCodeOf(t *testing.T, diff map[string]sdElement, prefix, suffix string) string {
	t.Helper()
	var out []string
	for id, e := range diff {
		if strings.HasPrefix(id, prefix) && strings.HasSuffix(id, suffix) && e.FixedCode != "" {
			out = append(out, e.FixedCode)
		}
	}
	require.Len(t, out, 1, "%s…%s", prefix, suffix)
	return out[0]
}

// TestProfileFactsMatchStructureDefinitions: the codes, units and value sets
// the profile checks enforce are the ones the R5 StructureDefinitions state.
func TestProfileFactsMatchStructureDefinitions(t *testing.T) {
	url, base := readSD(t, "vitalsigns")
	assert.Equal(t, validate.ProfileVitalSigns, url)
	assert.Equal(t, "http://terminology.hl7.org/CodeSystem/observation-category", base["Observation.category:VSCat.coding.system"].FixedURI)
	assert.Equal(t, "vital-signs", base["Observation.category:VSCat.coding.code"].FixedCode)
	assert.Equal(t, 1, *base["Observation.subject"].Min)
	assert.Equal(t, []string{"http://hl7.org/fhir/StructureDefinition/Patient"}, base["Observation.subject"].Type[0].TargetProfile)
	assert.Equal(t, 1, *base["Observation.effective[x]"].Min)
	var effTypes []string
	for _, ty := range base["Observation.effective[x]"].Type {
		effTypes = append(effTypes, ty.Code)
	}
	assert.Equal(t, []string{"dateTime", "Period"}, effTypes)
	comp := base["Observation.component.valueQuantity"].Binding
	require.NotNil(t, comp)
	assert.Equal(t, "required", comp.Strength)
	assert.Equal(t, "http://hl7.org/fhir/ValueSet/ucum-vitals-common", comp.ValueSet)

	for _, tc := range []struct {
		name, url, code string
		units           []string
	}{
		{"heartrate", validate.ProfileHeartRate, "8867-4", []string{"/min"}},
		{"resprate", validate.ProfileRespRate, "9279-1", []string{"/min"}},
		{"oxygensat", validate.ProfileOxygenSat, "2708-6", []string{"%"}},
		{"bodyweight", validate.ProfileBodyWeight, "29463-7", []string{"g", "kg", "[lb_av]"}},
		{"bodytemp", validate.ProfileBodyTemp, "8310-5", []string{"Cel", "[degF]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, diff := readSD(t, tc.name)
			assert.Equal(t, tc.url, url)
			assert.Equal(t, tc.code, fixedCodeOf(t, diff, "Observation.code.coding:", ".code"))
			for _, f := range []string{"value", "unit", "system", "code"} {
				e := diff["Observation.valueQuantity."+f]
				require.NotNil(t, e.Min, f)
				assert.Equal(t, 1, *e.Min, "valueQuantity.%s is required", f)
			}
			assert.Equal(t, "http://unitsofmeasure.org", diff["Observation.valueQuantity.system"].FixedURI)
			q := diff["Observation.valueQuantity.code"]
			var units []string
			if q.FixedCode != "" {
				units = []string{q.FixedCode}
			} else {
				require.NotNil(t, q.Binding)
				assert.Equal(t, "required", q.Binding.Strength)
				for u := range strings.SplitSeq(q.Binding.Description, "|") {
					units = append(units, strings.TrimSpace(u))
				}
			}
			assert.Equal(t, tc.units, units)
		})
	}

	url, bp := readSD(t, "bp")
	assert.Equal(t, validate.ProfileBP, url)
	assert.Equal(t, "85354-9", fixedCodeOf(t, bp, "Observation.code.coding:", ".code"))
	assert.Equal(t, "0", bp["Observation.valueQuantity"].Max)
	assert.Equal(t, 2, *bp["Observation.component"].Min)
	assert.Equal(t, "8480-6", fixedCodeOf(t, bp, "Observation.component:SystolicBP.code.coding:", ".code"))
	assert.Equal(t, "8462-4", fixedCodeOf(t, bp, "Observation.component:DiastolicBP.code.coding:", ".code"))
	assert.Equal(t, "mm[Hg]", bp["Observation.component:SystolicBP.valueQuantity.code"].FixedCode)
	assert.Equal(t, "mm[Hg]", bp["Observation.component:DiastolicBP.valueQuantity.code"].FixedCode)
}

func TestClaimedProfilesAreChecked(t *testing.T) {
	withProfile := func(p ...any) mutation {
		return func(m map[string]any) { m["meta"] = map[string]any{"profile": p} }
	}
	ok := []struct {
		name, file string
		mut        mutation
	}{
		{"heart rate", "observation-heart-rate.json", withProfile(validate.ProfileVitalSigns, validate.ProfileHeartRate)},
		{"blood pressure", "observation-bp.json", withProfile(validate.ProfileVitalSigns, validate.ProfileBP)},
		{"unknown profile is not checked", "observation-ecg.json", withProfile("http://example.org/StructureDefinition/x")},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			assert.NoError(t, validate.Resource(mutate(t, ohx.R5, tc.file, tc.mut)))
		})
	}

	bad := []struct {
		name, file string
		mut        mutation
		rule, path string
	}{
		{"heart rate in Hz", "observation-heart-rate.json", func(m map[string]any) {
			obj(m["valueQuantity"])["code"] = "Hz"
		}, "profile", "Observation.valueQuantity"},
		{"heart rate without the LOINC code", "observation-heart-rate.json", func(m map[string]any) {
			obj(arr(obj(m["code"])["coding"])[0])["code"] = "40443-4"
		}, "profile", "Observation.code"},
		{"vital signs without the category", "observation-heart-rate.json", func(m map[string]any) {
			delete(m, "category")
		}, "profile", "Observation.category"},
		{"vital signs without subject", "observation-heart-rate.json", func(m map[string]any) {
			delete(m, "subject")
		}, "profile", "Observation.subject"},
		{"vital signs without effective time", "observation-heart-rate.json", func(m map[string]any) {
			delete(m, "effectiveDateTime")
		}, "profile", "Observation.effective[x]"},
		{"vital signs without value", "observation-heart-rate.json", func(m map[string]any) {
			delete(m, "valueQuantity")
			m["meta"] = map[string]any{"profile": []any{validate.ProfileVitalSigns}}
		}, "vs-2", "Observation"},
		{"vital signs effective to the year", "observation-heart-rate.json", func(m map[string]any) {
			m["effectiveDateTime"] = "1999"
		}, "vs-1", "Observation.effectiveDateTime"},
		{"vital signs component unit", "observation-bp.json", func(m map[string]any) {
			m["meta"] = map[string]any{"profile": []any{validate.ProfileVitalSigns}}
			obj(obj(arr(m["component"])[0])["valueQuantity"])["code"] = "kPa"
		}, "profile", "Observation.component[0].valueQuantity"},
		{"bp without diastolic", "observation-bp.json", func(m map[string]any) {
			m["meta"] = map[string]any{"profile": []any{validate.ProfileBP}}
			m["component"] = arr(m["component"])[:1]
		}, "profile", "Observation.component"},
		{"body weight in stones", "observation-heart-rate.json", func(m map[string]any) {
			m["meta"] = map[string]any{"profile": []any{validate.ProfileBodyWeight}}
			obj(arr(obj(m["code"])["coding"])[0])["code"] = "29463-7"
			m["valueQuantity"] = map[string]any{"value": 11, "unit": "st", "system": "http://unitsofmeasure.org", "code": "[stone_av]"}
		}, "profile", "Observation.valueQuantity"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := validate.Resource(mutate(t, ohx.R5, tc.file, tc.mut))
			var ve *validate.Error
			require.True(t, errors.As(err, &ve), "want a violation, got %v", err)
			assert.True(t, ve.Has(tc.rule, tc.path), "want %s at %s, got %v", tc.rule, tc.path, ve.Violations)
			assert.True(t, slices.ContainsFunc(ve.Violations, func(v validate.Violation) bool { return v.Rule == tc.rule }))
		})
	}
}
