package fhirmap_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

// usCoreSpec is what each US Core 6.1.0 vital-signs profile requires beyond
// the US Core Vital Signs profile it derives from, written from the profile
// pages (hl7.org/fhir/us/core/STU6.1/StructureDefinition-us-core-*.html):
// the LOINC codes Observation.code must carry and the UCUM codes its
// valueQuantity may have; blood pressure has no value but the systolic and
// diastolic components in mm[Hg].
var usCoreSpec = map[string]struct {
	codes      []string
	units      []string
	components []string
}{
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-heart-rate":       {codes: []string{"8867-4"}, units: []string{"/min"}},
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-respiratory-rate": {codes: []string{"9279-1"}, units: []string{"/min"}},
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-temperature": {codes: []string{"8310-5"}, units: []string{"Cel", "[degF]"}},
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-weight":      {codes: []string{"29463-7"}, units: []string{"kg", "g", "[lb_av]"}},
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-pulse-oximetry":   {codes: []string{"59408-5", "2708-6"}, units: []string{"%"}},
	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure":   {codes: []string{"85354-9"}, components: []string{"8480-6", "8462-4"}},
}

type obsJSON struct {
	Meta *struct {
		Profile []string `json:"profile"`
	} `json:"meta"`
	Status            string                      `json:"status"`
	Category          []ccJSON                    `json:"category"`
	Code              ccJSON                      `json:"code"`
	Subject           *struct{ Reference string } `json:"subject"`
	EffectiveDateTime string                      `json:"effectiveDateTime"`
	EffectivePeriod   *struct {
		Start string `json:"start"`
	} `json:"effectivePeriod"`
	ValueQuantity    *qtyJSON        `json:"valueQuantity"`
	DataAbsentReason *ccJSON         `json:"dataAbsentReason"`
	Method           *ccJSON         `json:"method"`
	Component        []componentJSON `json:"component"`
	Raw              map[string]json.RawMessage
}

type ccJSON struct {
	Coding []struct {
		System, Code string
	} `json:"coding"`
}

func (c ccJSON) has(system, code string) bool {
	return slices.ContainsFunc(c.Coding, func(x struct{ System, Code string }) bool { return x.System == system && x.Code == code })
}

type qtyJSON struct {
	Value  *json.Number `json:"value"`
	Unit   string       `json:"unit"`
	System string       `json:"system"`
	Code   string       `json:"code"`
}

type componentJSON struct {
	Code             ccJSON   `json:"code"`
	ValueQuantity    *qtyJSON `json:"valueQuantity"`
	DataAbsentReason *ccJSON  `json:"dataAbsentReason"`
}

// checkUCUM is US Core's valueQuantity: value, unit, system UCUM and a code
// from the profile's units.
func checkUCUM(t *testing.T, where string, q *qtyJSON, units []string) {
	t.Helper()
	require.NotNil(t, q, "%s: valueQuantity", where)
	assert.NotNil(t, q.Value, "%s: value", where)
	assert.NotEmpty(t, q.Unit, "%s: unit", where)
	assert.Equal(t, "http://unitsofmeasure.org", q.System, "%s: UCUM", where)
	assert.Contains(t, units, q.Code, "%s: unit code", where)
}

// TestUSCoreProfiles checks every R4 Observation that claims a US Core
// profile against the elements that profile requires, and that the vital
// signs with a US Core profile do claim it.
func TestUSCoreProfiles(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{Version: ohx.R4})
	claimedTypes := map[ohx.DataType]string{}
	for _, tc := range conformanceCases() {
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		for _, r := range rs {
			if r.Type != "Observation" {
				continue
			}
			var o obsJSON
			require.NoError(t, json.Unmarshal(r.JSON, &o))
			if o.Meta == nil || len(o.Meta.Profile) == 0 {
				continue
			}
			require.Len(t, o.Meta.Profile, 1, "%s claims one profile", r.Key())
			p := o.Meta.Profile[0]
			spec, ok := usCoreSpec[p]
			require.True(t, ok, "%s claims %s, not a US Core vital-signs profile", r.Key(), p)
			claimedTypes[r.DataType] = p
			where := string(r.DataType) + " " + r.Key()

			// US Core Vital Signs: status, category vital-signs, code, subject Patient, effective[x].
			assert.Contains(t, []string{"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}, o.Status, where)
			assert.True(t, slices.ContainsFunc(o.Category, func(c ccJSON) bool {
				return c.has("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")
			}), "%s: category vital-signs", where)
			require.NotNil(t, o.Subject, where)
			assert.True(t, strings.HasPrefix(o.Subject.Reference, "Patient/"), "%s: subject is a Patient", where)
			assert.True(t, o.EffectiveDateTime != "" || (o.EffectivePeriod != nil && o.EffectivePeriod.Start != ""), "%s: effective[x]", where)
			for _, c := range spec.codes {
				assert.True(t, o.Code.has("http://loinc.org", c), "%s: code LOINC %s", where, c)
			}
			assert.NotContains(t, string(r.JSON), `"code":"aggregate"`, "%s: an aggregate claims no US Core profile", where)
			if len(spec.components) == 0 {
				if o.DataAbsentReason == nil {
					checkUCUM(t, where, o.ValueQuantity, spec.units)
				}
				continue
			}
			assert.Nil(t, o.ValueQuantity, where)
			for _, want := range spec.components {
				i := slices.IndexFunc(o.Component, func(c componentJSON) bool { return c.Code.has("http://loinc.org", want) })
				require.GreaterOrEqual(t, i, 0, "%s: component %s", where, want)
				if o.Component[i].DataAbsentReason == nil {
					checkUCUM(t, where+" component "+want, o.Component[i].ValueQuantity, []string{"mm[Hg]"})
				}
			}
		}
	}
	for dt, p := range map[ohx.DataType]string{
		ohx.HeartRate:            "us-core-heart-rate",
		ohx.RespiratoryRate:      "us-core-respiratory-rate",
		ohx.DailyRespiratoryRate: "us-core-respiratory-rate",
		ohx.BodyTemperature:      "us-core-body-temperature",
		ohx.BodyWeight:           "us-core-body-weight",
		ohx.SpO2:                 "us-core-pulse-oximetry",
		ohx.DailySpO2:            "us-core-pulse-oximetry",
		ohx.BloodPressure:        "us-core-blood-pressure",
	} {
		assert.True(t, strings.HasSuffix(claimedTypes[dt], "/"+p), "%s claims %s", dt, p)
	}
	for _, dt := range []ohx.DataType{ohx.Steps, ohx.RestingHeartRate, ohx.SkinTemperature, ohx.HRVRMSSD, ohx.SleepSession, ohx.ECG} {
		assert.Empty(t, claimedTypes[dt], "%s has no US Core vital-signs profile", dt)
	}
}

// TestUSCoreNotClaimedOutsideTheProfile: a unit the profile does not allow,
// or an hourly aggregate, claims nothing; R5 output never claims US Core.
func TestUSCoreNotClaimedOutsideTheProfile(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{Version: ohx.R4})
	link := withingsLink()
	var temp ohx.Sample
	for _, s := range withingsSamples() {
		if s.Type == ohx.BodyTemperature {
			temp = s
		}
	}
	require.Equal(t, ohx.BodyTemperature, temp.Type)
	r, err := tr.Sample(&link, &temp)
	require.NoError(t, err)
	assert.Contains(t, string(r.JSON), `"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-temperature"]`)
	temp.Unit, temp.Value = "K", 310.15
	r, err = tr.Sample(&link, &temp)
	require.NoError(t, err)
	assert.NotContains(t, string(r.JSON), `"profile"`, "kelvin is not a unit of us-core-body-temperature")

	for _, s := range hourlySamples() {
		r, err := tr.Sample(&link, &s)
		require.NoError(t, err)
		assert.NotContains(t, string(r.JSON), `"profile"`, "hourly %s", s.Type)
	}

	r5tr := newTransformer(t, fhirmap.Config{})
	for _, tc := range conformanceCases() {
		rs, err := r5tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		for _, r := range rs {
			assert.NotContains(t, string(r.JSON), "us/core", "%s: R5 claims no US Core profile", r.Key())
		}
	}
}
