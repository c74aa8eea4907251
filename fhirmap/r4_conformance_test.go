package fhirmap_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/r4"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

func TestR4SchemaReady(t *testing.T) {
	require.NoError(t, validate.ReadyVersion(ohx.R4))
}

// TestR4Conformance maps the inputs of TestConformance (every data type of
// the catalog, both providers, a custom provider and hourly aggregates) to
// FHIR R4 and validates every resource and every transaction bundle against
// the R4 schema plus the R4 Go checks of fhirmap/validate.
func TestR4Conformance(t *testing.T) {
	for _, c := range conformanceConfigs[ohx.R4] {
		t.Run(c.name, func(t *testing.T) { conformance(t, c.cfg) })
	}
}

// TestR4FastPathEqualsGeneric: the R4 fast path writes exactly the bytes of
// ObservationR4 marshalled by r4.Marshal, US Core claim included.
func TestR4FastPathEqualsGeneric(t *testing.T) {
	for _, logical := range []bool{false, true} {
		tr := newTransformer(t, fhirmap.Config{Version: ohx.R4, LogicalReferences: logical})
		n, claimed := 0, 0
		for _, c := range []struct {
			link ohx.Link
			ss   []ohx.Sample
		}{{withingsLink(), withingsSamples()}, {googleLink(), googleSamples()}} {
			for _, s := range c.ss {
				info, _ := s.Type.Info()
				if info.Shape != ohx.ShapeQuantity || s.Aggregate != nil || len(s.Components) > 0 || s.CompanionOf != "" {
					continue
				}
				fast, err := tr.Sample(&c.link, &s)
				require.NoError(t, err)
				o, err := tr.ObservationR4(&c.link, &s)
				require.NoError(t, err)
				generic, err := r4.Marshal(o)
				require.NoError(t, err)
				assert.Equal(t, string(generic), string(fast.JSON), "%s", s.Type)
				assert.Equal(t, ohx.R4, fast.FHIRVersion)
				n++
				if o.Meta != nil && len(o.Meta.Profile) > 0 {
					claimed++
				}
			}
		}
		assert.Greater(t, n, 10)
		assert.Greater(t, claimed, 3, "the fast path claims US Core profiles too")
	}
}

func TestReadmeMappingTableR4(t *testing.T) {
	const start, end = "<!-- mapping-table-r4:start -->", "<!-- mapping-table-r4:end -->"
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(data)
	want := "\n" + fhirmap.MappingTableR4()
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if *update {
		if i < 0 || j < i {
			const after = "<!-- mapping-table:end -->\n"
			k := strings.Index(readme, after)
			require.GreaterOrEqual(t, k, 0, "README.md lacks the R5 mapping table")
			section := "\n### FHIR R4 output: what differs\n\nWith `OHX_FHIR_VERSION=R4` (`fhirmap.Config.Version`) ohx writes FHIR R4 (4.0.1): the same mapping, " +
				"converted element by element. Generated from `fhirmap.MappingTableR4` " +
				"(regenerate with `go test ./fhirmap -run TestReadmeMappingTableR4 -update`).\n\n" + start + end + "\n"
			readme = readme[:k+len(after)] + section + readme[k+len(after):]
			i, j = strings.Index(readme, start), strings.Index(readme, end)
		}
		readme = readme[:i+len(start)] + want + readme[j:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	require.True(t, i >= 0 && j > i, "README.md lacks the markers %s … %s; regenerate with: go test ./fhirmap -run TestReadmeMappingTableR4 -update", start, end)
	assert.Equal(t, want, readme[i+len(start):j], "README R4 table is stale; regenerate with: go test ./fhirmap -run TestReadmeMappingTableR4 -update")
}

func TestMappingTableR4(t *testing.T) {
	md := fhirmap.MappingTableR4()
	for _, want := range []string{
		"| `heart-rate` | no profile | US Core `us-core-heart-rate` (unit `/min`) |",
		"| `blood-pressure` | no profile | US Core `us-core-blood-pressure` (unit `mm[Hg]`) |",
		"`Device.patient`",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "| `steps` |", "steps is the same in both versions")
}

// TestR4MappingDetails checks the meaning of what differs in R4: the device
// carries its patient, the ECG keeps its sampling period and MDC code, the
// report links the waveform and its heart rate, Provenance has no patient.
func TestR4MappingDetails(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{Version: ohx.R4})
	b := goldenBatch()
	rs, err := tr.Transform(t.Context(), b)
	require.NoError(t, err)
	byType := map[string][]map[string]any{}
	for _, r := range rs {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.JSON, &m))
		byType[r.Type] = append(byType[r.Type], m)
	}
	require.Len(t, byType["Device"], 2, "the provider device and the ohx software")
	dev := byType["Device"][0]
	assert.Equal(t, map[string]any{"reference": b.Link.Patient}, dev["patient"])
	assert.Equal(t, []any{map[string]any{"name": "ScanWatch", "type": "model-name"}}, dev["deviceName"])
	assert.Nil(t, byType["Device"][1]["patient"], "the software belongs to no patient")

	var ecg map[string]any
	for _, o := range byType["Observation"] {
		if _, ok := o["valueSampledData"]; ok && strings.HasPrefix(o["code"].(map[string]any)["text"].(string), "ECG") {
			ecg = o
		}
	}
	require.NotNil(t, ecg)
	sd := ecg["valueSampledData"].(map[string]any)
	assert.Equal(t, 1000/300.0, sd["period"], "period = 1000 / sampling frequency, in ms")
	assert.Equal(t, 0.001, sd["factor"])
	coding := ecg["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	assert.Equal(t, "urn:iso:std:iso:11073:10101", coding["system"])
	assert.Equal(t, "131329", coding["code"])

	require.Len(t, byType["DiagnosticReport"], 1)
	assert.Len(t, byType["DiagnosticReport"][0]["result"], 2, "the waveform and its heart rate")
	for _, p := range byType["Provenance"] {
		assert.NotContains(t, p, "patient")
		assert.NotEmpty(t, p["recorded"])
	}
}

// TestR4RetractionAndCorrection: a provider deletion retracts the R4
// resources as it does R5 ones (entered-in-error, still valid R4), and a
// modified record is published as amended.
func TestR4RetractionAndCorrection(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{Version: ohx.R4})
	all := ohx.Window{Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	n := 0
	for _, tc := range conformanceCases() {
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		for _, r := range rs {
			if r.DataType == "" {
				if r.Type == "Device" {
					out, err := fhirmap.EnteredInError(r)
					require.NoError(t, err)
					assert.NoError(t, validate.ResourceVersion(ohx.R4, out.JSON))
					assert.Contains(t, string(out.JSON), `"status":"entered-in-error"`)
				}
				continue
			}
			out, ok, err := tr.Retract(tc.batch.Link, r.DataType, all, ohx.Resource{Type: r.Type, ID: r.ID, JSON: r.JSON})
			require.NoError(t, err)
			if !ok {
				continue // an ECG's heart rate is not retracted on its own
			}
			n++
			assert.Equal(t, r.Identifier, out.Identifier)
			require.NoError(t, validate.ResourceVersion(ohx.R4, out.JSON), r.Key())
			assert.Contains(t, string(out.JSON), `"status":"entered-in-error"`)
		}
	}
	assert.Greater(t, n, 20)

	link := withingsLink()
	s := withingsSamples()[0]
	s.Created = s.Start
	s.Modified = s.Start.Add(time.Hour)
	r, err := tr.Sample(&link, &s)
	require.NoError(t, err)
	assert.Contains(t, string(r.JSON), `"status":"final"`, "a correction is an update of the same id, never amended (issue 16)")
	assert.NoError(t, validate.ResourceVersion(ohx.R4, r.JSON))
}

// TestR4RoundTripsThroughSamply decodes every R4 resource into samply's R4
// model and encodes it again: the same JSON comes back, so ohx writes
// nothing the R4 models (generated from the R4 StructureDefinitions) lack.
func TestR4RoundTripsThroughSamply(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{Version: ohx.R4})
	n := 0
	for _, tc := range conformanceCases() {
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		for _, r := range rs {
			var v any
			switch r.Type {
			case "Observation":
				v = &r4.Observation{}
			case "DiagnosticReport":
				v = &r4.DiagnosticReport{}
			case "Device":
				v = &r4.Device{}
			case "Provenance":
				v = &r4.Provenance{}
			default:
				t.Fatalf("unexpected R4 resource type %s", r.Type)
			}
			require.NoError(t, json.Unmarshal(r.JSON, v), r.Key())
			again, err := r4.Marshal(v)
			require.NoError(t, err)
			assert.JSONEq(t, string(r.JSON), string(again), r.Key())
			n++
		}
	}
	assert.Greater(t, n, 50)
}
