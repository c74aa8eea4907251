package fhirmap_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// observationsOf maps every conformance case and returns its Observations by
// data type (the first of each type) and all of them.
func observationsOf(t *testing.T, tr *fhirmap.Transformer) (map[ohx.DataType]map[string]any, []map[string]any) {
	t.Helper()
	first := map[ohx.DataType]map[string]any{}
	var all []map[string]any
	for _, tc := range conformanceCases() {
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		for _, r := range rs {
			if r.Type != "Observation" {
				continue
			}
			require.NoError(t, validate.Resource(r.JSON), "every claimed profile is met: %s", r.Key())
			var m map[string]any
			require.NoError(t, json.Unmarshal(r.JSON, &m))
			all = append(all, m)
			if _, ok := first[r.DataType]; !ok && m["derivedFrom"] == nil {
				first[r.DataType] = m
			}
		}
	}
	return first, all
}

func profilesOf(m map[string]any) []string {
	meta, _ := m["meta"].(map[string]any)
	var out []string
	for _, p := range meta["profile"].([]any) {
		out = append(out, p.(string))
	}
	return out
}

func categoryOf(m map[string]any) string {
	return m["category"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
}

func firstCoding(cc any) map[string]any {
	return cc.(map[string]any)["coding"].([]any)[0].(map[string]any)
}

// TestClaimedProfiles: the vital signs claim the R5 profiles they meet (each
// claim is checked by validate.Resource in observationsOf); nothing else
// claims one.
func TestClaimedProfiles(t *testing.T) {
	first, all := observationsOf(t, newTransformer(t, fhirmap.Config{}))
	base := fhirmap.ProfileR5VitalSigns
	want := map[ohx.DataType][]string{
		ohx.HeartRate:             {base, fhirmap.ProfileR5HeartRate},
		ohx.BloodPressure:         {base, fhirmap.ProfileR5BP},
		ohx.BodyWeight:            {base, fhirmap.ProfileR5BodyWeight},
		ohx.BodyTemperature:       {base, fhirmap.ProfileR5BodyTemp},
		ohx.SpO2:                  {base, fhirmap.ProfileR5OxygenSat},
		ohx.RespiratoryRate:       {base, fhirmap.ProfileR5RespRate},
		ohx.DailySpO2:             {base, fhirmap.ProfileR5OxygenSat},
		ohx.DailyRespiratoryRate:  {base, fhirmap.ProfileR5RespRate},
		ohx.RestingHeartRate:      {base},
		ohx.DailyRestingHeartRate: {base},
		ohx.SkinTemperature:       {base},
	}
	for dt, m := range first {
		meta := m["meta"].(map[string]any)
		if w, ok := want[dt]; ok {
			assert.Equal(t, w, profilesOf(m), "%s", dt)
			assert.Equal(t, "vital-signs", categoryOf(m), "%s", dt)
			continue
		}
		assert.NotContains(t, meta, "profile", "%s claims no vital-signs profile", dt)
		assert.NotEqual(t, "vital-signs", categoryOf(m), "%s: the vital-signs category is only for LOINC-coded vital signs", dt)
	}
	// Hourly aggregates claim what they meet too, and their tag tells them apart.
	var aggregates int
	for _, m := range all {
		meta := m["meta"].(map[string]any)
		if meta["tag"] == nil {
			continue
		}
		aggregates++
		assert.Equal(t, []any{map[string]any{"system": "urn:ohx:tag", "code": "aggregate", "display": "Computed by ohx from several measurements"}}, meta["tag"])
		if firstCoding(m["code"])["code"] == "8867-4" {
			assert.Equal(t, []string{base, fhirmap.ProfileR5HeartRate}, profilesOf(m))
		}
	}
	assert.Equal(t, len(hourlySamples()), aggregates, "every aggregate, and only aggregates, is tagged")
}

// TestClaimOnlyWhatIsMet: a heart rate in another unit does not claim the
// heart-rate profile (whose unit is fixed to /min).
func TestClaimOnlyWhatIsMet(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	s := withingsSamples()[17]
	require.Equal(t, ohx.HeartRate, s.Type)
	s.Unit, s.Value = "/s", 71.0/60
	r, err := tr.Sample(&link, &s)
	require.NoError(t, err)
	require.NoError(t, validate.Resource(r.JSON))
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.JSON, &m))
	assert.Equal(t, []string{fhirmap.ProfileR5VitalSigns}, profilesOf(m))
}

// TestDefectsOfIssue16 pins each corrected code and unit.
func TestDefectsOfIssue16(t *testing.T) {
	first, _ := observationsOf(t, newTransformer(t, fhirmap.Config{}))
	code := func(dt ohx.DataType) string { return firstCoding(first[dt]["code"])["code"].(string) }

	// 4: no vital-signs category without LOINC.
	for _, dt := range []ohx.DataType{ohx.HRVRMSSD, ohx.DailyHRV, ohx.RRIntervals, ohx.SkinTemperatureDeviation, ohx.PulseWaveVelocity} {
		assert.NotEqual(t, "vital-signs", categoryOf(first[dt]), "%s", dt)
	}
	// 5: pulse wave velocity.
	assert.Equal(t, "77196-4", code(ohx.PulseWaveVelocity))
	assert.Equal(t, "exam", categoryOf(first[ohx.PulseWaveVelocity]))
	// 6: a skin-temperature deviation is a difference in K; its baseline is a temperature in Cel.
	dev := first[ohx.SkinTemperatureDeviation]
	assert.Equal(t, "K", dev["valueQuantity"].(map[string]any)["code"])
	assert.Equal(t, "Cel", dev["component"].([]any)[0].(map[string]any)["valueQuantity"].(map[string]any)["code"])
	// 7: codes.
	assert.Equal(t, "91557-9", code(ohx.FatFreeMass))
	assert.Equal(t, "101685-6", code(ohx.BoneMass))
	ecg := firstCoding(first[ohx.ECG]["code"])
	assert.Equal(t, "urn:iso:std:iso:11073:10101", ecg["system"])
	var inBed map[string]any
	for _, c := range first[ohx.SleepSession]["component"].([]any) {
		if cd := firstCoding(c.(map[string]any)["code"]); cd["code"] == "103213-5" {
			inBed = cd
		}
	}
	assert.Equal(t, map[string]any{"system": "http://loinc.org", "code": "103213-5", "display": "Duration in bed"}, inBed)

	// 9: a daily summary is dated by its day and names its statistic.
	for _, dt := range []ohx.DataType{ohx.DailyRestingHeartRate, ohx.DailyHRV, ohx.DailySpO2, ohx.DailyRespiratoryRate, ohx.SkinTemperatureDeviation} {
		m := first[dt]
		assert.Equal(t, "2026-11-20", m["effectiveDateTime"], "%s", dt)
		assert.NotContains(t, m, "effectivePeriod", "%s", dt)
		method := m["method"].(map[string]any)
		assert.NotEmpty(t, method["text"], "%s names its statistic", dt)
	}
	assert.Equal(t, "average", firstCoding(first[ohx.DailySpO2]["method"])["code"])
	// Steps stay a period.
	assert.Contains(t, first[ohx.Steps], "effectivePeriod")

	// 12: a record modified after creation is not amended on delivery.
	for _, m := range first {
		assert.Equal(t, "final", m["status"])
	}
}

func TestECGSaysWhatTheDeviceSaid(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	ss := withingsSamples()
	ecg, hr := ss[20], ss[21]
	ecg.Waveform.Classification = ohx.ECGNoAtrialFibrillation
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: []ohx.Sample{ecg, hr}})
	require.NoError(t, err)
	i := slices.IndexFunc(rs, func(r ohx.Resource) bool { return r.Type == "DiagnosticReport" })
	require.GreaterOrEqual(t, i, 0)
	require.NoError(t, validate.Resource(rs[i].JSON))
	var rep map[string]any
	require.NoError(t, json.Unmarshal(rs[i].JSON, &rep))
	cc := firstCoding(rep["conclusionCode"].([]any)[0])
	assert.Equal(t, "ecg-no-afib-detected", cc["code"])
	assert.NotContains(t, rep["conclusion"], "inus", "no atrial fibrillation is not a sinus rhythm")
	assert.Contains(t, rep["conclusion"], "No atrial fibrillation detected")
	cat := firstCoding(rep["category"].([]any)[0])
	assert.Equal(t, "Electrocardiac (e.g., EKG,  EEC, Holter)", cat["display"], "THO's display, byte for byte")
}

func TestDeviceKinds(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Devices: withingsDevices()})
	require.NoError(t, err)
	var types, statuses []string
	for _, r := range rs {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.JSON, &m))
		switch r.Type {
		case "Device":
			if m["type"] != nil {
				types = append(types, firstCoding(m["type"].([]any)[0])["code"].(string))
			}
		case "DeviceAssociation":
			st := m["status"].(map[string]any)
			cd := firstCoding(st)
			assert.NotEmpty(t, cd["display"])
			statuses = append(statuses, cd["code"].(string))
		}
	}
	// Scale, blood-pressure monitor, watch.
	assert.Equal(t, []string{"19892000", "258057004", "49062001"}, types[:3])
	assert.Equal(t, []string{"unknown", "unknown", "attached"}, statuses, "only what is worn is attached")
}

// TestProviderCodingBesideStandard: the provider's own name of the
// measurement follows the standard coding, in both the fast and the generic
// path, and does not change the resource id.
func TestProviderCodingBesideStandard(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	for _, s := range []ohx.Sample{withingsSamples()[0], withingsSamples()[17]} { // TestFastPathEqualsGeneric covers the generic path
		plain, err := tr.Sample(&link, &s)
		require.NoError(t, err)
		s.ProviderType = "1"
		r, err := tr.Sample(&link, &s)
		require.NoError(t, err)
		require.NoError(t, validate.Resource(r.JSON))
		assert.Equal(t, plain.ID, r.ID, "the provider's type is not part of the identity")
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.JSON, &m))
		codings := m["code"].(map[string]any)["coding"].([]any)
		assert.Equal(t, "http://loinc.org", codings[0].(map[string]any)["system"], "the standard code comes first")
		assert.Equal(t, map[string]any{"system": "urn:ohx:withings:type", "code": "1"}, codings[len(codings)-1])
	}
}

// TestNightlySummaryOverTheSleepPeriod: a summary the provider computed over
// a sleep period (Oura's average_hrv, lowest_heart_rate, average_breath) has
// that period as effectivePeriod, names its statistic (the provider's own
// where it says more: Oura's resting heart rate is the night's minimum) and
// carries the provider's coding; a value the provider dates by a day keeps a
// date-only effectiveDateTime. Valid R5 (claimed profiles met) and R4.
func TestNightlySummaryOverTheSleepPeriod(t *testing.T) {
	bed := time.Date(2026, 11, 19, 21, 35, 0, 0, time.UTC)
	wake := time.Date(2026, 11, 20, 5, 10, 0, 0, time.UTC)
	night := func(typ ohx.DataType, v float64, unit, ptype string) ohx.Sample {
		return ohx.Sample{Type: typ, Start: bed, End: wake, StartOffset: time.Hour, EndOffset: time.Hour, Value: v, Unit: unit,
			Provider: "oura", Recording: ohx.RecordedDerived, RecordID: "5fa44387-d414-4960-86e2-2c270631b672", ProviderType: ptype}
	}
	day := time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC) // 2026-11-20 in Berlin
	spo2 := ohx.Sample{Type: ohx.DailySpO2, Start: day, End: day.Add(24 * time.Hour), StartOffset: time.Hour, EndOffset: time.Hour,
		Value: 96.153, Unit: "%", Provider: "oura", Recording: ohx.RecordedDerived, RecordID: "49e7c4b7", ProviderType: "daily_spo2/spo2_percentage.average"}
	samples := []ohx.Sample{
		night(ohx.DailyHRV, 24, "ms", "sleep/average_hrv"),
		night(ohx.DailyRestingHeartRate, 67, "/min", "sleep/lowest_heart_rate"),
		night(ohx.DailyRespiratoryRate, 12.375, "/min", "sleep/average_breath"),
		spo2,
	}
	link := ohx.Link{ID: "l-oura", Provider: "oura", ExternalUserID: "u-1", Patient: "Patient/7", TimeZone: "Europe/Berlin"}
	want := map[ohx.DataType]string{ohx.DailyHRV: "average", ohx.DailyRestingHeartRate: "minimum", ohx.DailyRespiratoryRate: "average", ohx.DailySpO2: "average"}
	for _, version := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		tr := newTransformer(t, fhirmap.Config{Version: version})
		for i := range samples {
			s := &samples[i]
			r, err := tr.Sample(&link, s)
			require.NoError(t, err)
			require.NoError(t, validate.ResourceVersion(version, r.JSON), "%s %s", version, s.Type)
			var m map[string]any
			require.NoError(t, json.Unmarshal(r.JSON, &m))
			if s.Type == ohx.DailySpO2 {
				assert.Equal(t, "2026-11-20", m["effectiveDateTime"], "%s: daily_spo2 gives a day only", version)
				assert.NotContains(t, m, "effectivePeriod")
			} else {
				assert.Equal(t, map[string]any{"start": "2026-11-19T22:35:00+01:00", "end": "2026-11-20T06:10:00+01:00"}, m["effectivePeriod"],
					"%s %s: the sleep period Oura computed it over", version, s.Type)
				assert.NotContains(t, m, "effectiveDateTime")
			}
			method := m["method"].(map[string]any)
			assert.Equal(t, want[s.Type], firstCoding(method)["code"], "%s %s", version, s.Type)
			assert.NotEmpty(t, method["text"])
			codings := m["code"].(map[string]any)["coding"].([]any)
			assert.Equal(t, map[string]any{"system": "urn:ohx:oura:type", "code": s.ProviderType}, codings[len(codings)-1], "%s %s", version, s.Type)
		}
	}
	// Another provider's resting heart rate keeps the type's statistic.
	fitbit := night(ohx.DailyRestingHeartRate, 57, "/min", "sleep/lowest_heart_rate")
	fitbit.Provider = "fitbit"
	r, err := newTransformer(t, fhirmap.Config{}).Sample(&link, &fitbit)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.JSON, &m))
	assert.NotContains(t, m["method"], "coding", "only Oura's lowest_heart_rate is a minimum")
}
