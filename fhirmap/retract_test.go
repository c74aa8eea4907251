package fhirmap_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

func TestRetractionQueries(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{BaseURI: "https://ohx.example"})
	link := ohx.Link{ID: "l1", Provider: "google", ExternalUserID: "u1", Patient: "Patient/p1"}
	w := ohx.Window{Start: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 18, 6, 30, 0, 0, time.UTC)}
	dates := []string{"ge2026-11-18T00:00:00Z", "lt2026-11-18T06:30:00Z"}
	tests := []struct {
		name string
		link ohx.Link
		typ  ohx.DataType
		want []ohx.RetractionQuery
	}{
		{"heart rate", link, ohx.HeartRate, []ohx.RetractionQuery{{ResourceType: "Observation", Params: url.Values{
			"subject": {"Patient/p1"}, "code": {"http://loinc.org|8867-4,https://ohx.example:code|heart-rate"},
			"identifier": {"https://ohx.example:google:observation|"}, "date": dates,
		}}}},
		{"ecg: any lead, and the report", link, ohx.ECG, []ohx.RetractionQuery{
			{ResourceType: "Observation", Params: url.Values{
				"subject": {"Patient/p1"}, "code": {"urn:iso:std:iso:11073:10101|131329,urn:iso:std:iso:11073:10101|131328,urn:oid:2.16.840.1.113883.6.24|131329,urn:oid:2.16.840.1.113883.6.24|131328"},
				"identifier": {"https://ohx.example:google:observation|"}, "date": dates,
			}},
			{ResourceType: "DiagnosticReport", Params: url.Values{
				"subject": {"Patient/p1"}, "code": {"http://loinc.org|11524-6"},
				"identifier": {"https://ohx.example:google:diagnostic-report|"}, "date": dates,
			}},
		}},
		{"steps: counts and day totals", link, ohx.Steps, []ohx.RetractionQuery{
			{ResourceType: "Observation", Params: url.Values{
				"subject": {"Patient/p1"}, "code": {"http://loinc.org|55423-8,https://ohx.example:code|steps"},
				"identifier": {"https://ohx.example:google:observation|"}, "date": dates,
			}},
			{ResourceType: "Observation", Params: url.Values{
				"subject": {"Patient/p1"}, "code": {"http://loinc.org|41950-7"},
				"identifier": {"https://ohx.example:google:observation|"}, "date": dates,
			}},
		}},
		{"unknown type", link, ohx.DataType("no-such-type"), nil},
		{"link without patient", ohx.Link{ID: "l1", Provider: "google"}, ohx.HeartRate, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tr.RetractionQueries(tc.link, tc.typ, w)
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRetract(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	all := ohx.Window{Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	n := 0
	for _, tc := range conformanceCases() {
		if len(tc.batch.Samples) == 0 {
			continue
		}
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		companions := map[string]bool{}
		for _, s := range tc.batch.Samples {
			if s.CompanionOf != "" {
				companions[fhirmap.SampleID(&tc.batch.Link, &s)] = true
			}
		}
		for _, r := range rs {
			if r.DataType == "" {
				continue // devices and provenance
			}
			found := ohx.Resource{Type: r.Type, ID: r.ID, JSON: r.JSON} // as a search returns it
			out, ok, err := tr.Retract(tc.batch.Link, r.DataType, all, found)
			require.NoError(t, err)
			if companions[r.ID] {
				assert.False(t, ok, "%s: the heart rate of an ECG is not retracted on its own", tc.name)
				continue
			}
			require.True(t, ok, "%s: %s of %s", tc.name, r.Key(), r.DataType)
			n++
			assert.Equal(t, r.Key(), out.Key())
			assert.Equal(t, r.Identifier, out.Identifier)
			assert.Equal(t, r.DataType, out.DataType)
			require.NoError(t, validate.Resource(out.JSON), r.Key())
			var m map[string]any
			require.NoError(t, json.Unmarshal(out.JSON, &m))
			assert.Equal(t, "entered-in-error", m["status"])

			// Only a deletion of its own type retracts it, even where two
			// types share a code.
			for _, info := range ohx.DataTypes() {
				if info.Type == r.DataType {
					continue
				}
				_, other, err := tr.Retract(tc.batch.Link, info.Type, all, found)
				require.NoError(t, err)
				assert.False(t, other, "%s of %s retracted by a deletion of %s", r.Key(), r.DataType, info.Type)
			}

			// Retracting again is a no-op.
			_, again, err := tr.Retract(tc.batch.Link, r.DataType, all, out)
			require.NoError(t, err)
			assert.False(t, again, "already entered-in-error")
		}
	}
	assert.Greater(t, n, 20)
}

func TestRetractLeavesOthersAlone(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	samples := withingsSamples()
	i := slices.IndexFunc(samples, func(s ohx.Sample) bool { return s.Type == ohx.BodyWeight })
	require.GreaterOrEqual(t, i, 0)
	s := samples[i]
	r, err := tr.Sample(&link, &s)
	require.NoError(t, err)
	around := ohx.Window{Start: s.Start, End: s.Start.Add(time.Second)}
	otherPatient := link
	otherPatient.Patient = "Patient/someone-else"
	otherProvider := link
	otherProvider.Provider = "google"
	tests := []struct {
		name string
		link ohx.Link
		typ  ohx.DataType
		w    ohx.Window
		r    ohx.Resource
	}{
		{"starts before the window", link, ohx.BodyWeight, ohx.Window{Start: s.Start.Add(time.Nanosecond), End: s.Start.Add(time.Hour)}, r},
		{"starts at the window's end", link, ohx.BodyWeight, ohx.Window{Start: s.Start.Add(-time.Hour), End: s.Start}, r},
		{"another patient", otherPatient, ohx.BodyWeight, around, r},
		{"another provider", otherProvider, ohx.BodyWeight, around, r},
		{"another data type", link, ohx.HeartRate, around, r},
		{"a resource type the data type is not published as", link, ohx.BodyWeight, around, ohx.Resource{Type: "Device", ID: r.ID, JSON: r.JSON}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := tr.Retract(tc.link, tc.typ, tc.w, tc.r)
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
	_, ok, err := tr.Retract(link, ohx.BodyWeight, around, r)
	require.NoError(t, err)
	assert.True(t, ok, "the control case is retracted")

	_, _, err = tr.Retract(link, ohx.BodyWeight, around, ohx.Resource{Type: "Observation", ID: "x", JSON: json.RawMessage(`[1]`)})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "1")
}

// TestRetractFindsFormerMDCSystem: an ECG written before issue 16, with the
// OID form of the MDC system, is still retracted by a backfill.
func TestRetractFindsFormerMDCSystem(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	ecg := withingsSamples()[20]
	require.Equal(t, ohx.ECG, ecg.Type)
	r, err := tr.Sample(&link, &ecg)
	require.NoError(t, err)
	old := strings.ReplaceAll(string(r.JSON), fhirmap.SystemMDC, "urn:oid:2.16.840.1.113883.6.24")
	require.NotEqual(t, string(r.JSON), old)
	all := ohx.Window{Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	out, ok, err := tr.Retract(link, ohx.ECG, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: []byte(old)})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Contains(t, string(out.JSON), `"status":"entered-in-error"`)
}
