package fhirmap_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
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

var update = flag.Bool("update", false, "rewrite golden files and the README mapping table")

// TestSchemaReady fails (never skips) when the embedded R5 schema cannot be
// compiled. The schema is not loaded in TestMain so that benchmarks run
// alone (-run '^$') measure the mapping without the validator's heap.
func TestSchemaReady(t *testing.T) {
	require.NoError(t, validate.Ready())
}

func newTransformer(t testing.TB, cfg fhirmap.Config) *fhirmap.Transformer {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	if cfg.SoftwareVersion == "" {
		cfg.SoftwareVersion = "0.1.0"
	}
	tr, err := fhirmap.New(cfg)
	require.NoError(t, err)
	return tr
}

type conformanceCase struct {
	name  string
	batch ohx.Batch
}

func conformanceCases() []conformanceCase {
	win := ohx.Window{Start: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	return []conformanceCase{
		{name: "withings samples", batch: ohx.Batch{Link: withingsLink(), Samples: withingsSamples(), Window: win, Trigger: ohx.TriggerInitial}},
		{name: "withings devices", batch: ohx.Batch{Link: withingsLink(), Devices: withingsDevices(), Trigger: ohx.TriggerDeviceSync}},
		{name: "google health samples", batch: ohx.Batch{Link: googleLink(), Samples: googleSamples(), Window: win, Trigger: ohx.TriggerPush}},
		{name: "google health devices", batch: ohx.Batch{Link: googleLink(), Devices: googleDevices(), Trigger: ohx.TriggerDeviceSync}},
		{name: "custom provider rr intervals", batch: ohx.Batch{Link: customLink(), Samples: customSamples(), Window: win, Trigger: ohx.TriggerBackfill}},
		{name: "hourly aggregates", batch: ohx.Batch{Link: withingsLink(), Samples: hourlySamples(), Window: win, Trigger: ohx.TriggerIncremental}},
	}
}

// conformanceConfigs are the configurations the conformance suite maps the
// conformance cases with, by FHIR version.
var conformanceConfigs = map[ohx.FHIRVersion][]struct {
	name string
	cfg  fhirmap.Config
}{
	ohx.R5: {
		{"literal references", fhirmap.Config{}},
		{"logical references", fhirmap.Config{LogicalReferences: true}},
	},
	ohx.R4: {
		{"literal references", fhirmap.Config{Version: ohx.R4}},
		{"logical references", fhirmap.Config{Version: ohx.R4, LogicalReferences: true}},
		{"organization agent", fhirmap.Config{Version: ohx.R4, Organization: "Organization/acme"}},
	},
}

// TestConformance maps realistic inputs for every data type of the catalog
// (both providers' shapes, a custom provider and hourly aggregates) and
// validates every resource and every transaction bundle against the official
// R5 schema plus the Go checks of fhirmap/validate.
func TestConformance(t *testing.T) {
	for _, c := range conformanceConfigs[ohx.R5] {
		t.Run(c.name, func(t *testing.T) { conformance(t, c.cfg) })
	}
}

// conformance runs the conformance cases through a Transformer with cfg and
// checks every resource and bundle in the FHIR version cfg names.
func conformance(t *testing.T, cfg fhirmap.Config) {
	v := cfg.Version
	tr := newTransformer(t, cfg)
	typesSeen := map[ohx.DataType]bool{}
	resourceTypes := map[string]bool{}
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.batch.Samples {
				require.NoError(t, s.Validate(), "fixture sample %s must be valid", s.Type)
			}
			rs, err := tr.Transform(t.Context(), tc.batch)
			require.NoError(t, err)
			require.NotEmpty(t, rs)
			ids := map[string]bool{}
			for _, r := range rs {
				assert.Equal(t, v.String(), r.FHIRVersion.String(), "%s", r.Key())
				assert.NoError(t, validate.ResourceVersion(v, r.JSON), "%s", r.Key())
				assert.False(t, ids[r.Key()], "duplicate resource %s", r.Key())
				ids[r.Key()] = true
				resourceTypes[r.Type] = true
				if r.DataType != "" {
					typesSeen[r.DataType] = true
				}
				if cfg.LogicalReferences {
					for _, lit := range []string{`"reference":"Device/`, `"reference":"Observation/`, `"reference":"DiagnosticReport/`} {
						assert.NotContains(t, string(r.JSON), lit, "%s: only logical references between our resources", r.Key())
					}
				}
				var m map[string]any
				require.NoError(t, json.Unmarshal(r.JSON, &m))
				assert.Equal(t, r.Type, m["resourceType"])
				assert.Equal(t, r.ID, m["id"])
				assert.True(t, strings.HasPrefix(string(r.JSON), `{"resourceType":"`+r.Type+`"`), "resourceType first")
				if r.Type != "Provenance" {
					sys, val, ok := strings.Cut(r.Identifier, "|")
					assert.True(t, ok && sys != "" && val != "", "%s needs a business identifier", r.Key())
					assert.True(t, strings.HasPrefix(sys, "urn:ohx:"), "%s identifier system %s is not ours", r.Key(), sys)
				}
			}
			for _, conditional := range []bool{false, true} {
				data, err := transaction(t, rs, conditional).MarshalJSON()
				require.NoError(t, err)
				assert.NoError(t, validate.BundleVersion(v, data))
			}
		})
	}
	for _, info := range ohx.DataTypes() {
		assert.True(t, typesSeen[info.Type], "data type %s is not covered by the conformance suite", info.Type)
	}
	emitted := []string{"Observation", "DiagnosticReport", "Device", "Provenance"}
	if v == ohx.R4 {
		assert.False(t, resourceTypes["DeviceAssociation"], "R4 has no DeviceAssociation")
	} else {
		emitted = append(emitted, "DeviceAssociation")
	}
	for _, rt := range emitted {
		assert.True(t, resourceTypes[rt], "resource type %s not emitted", rt)
	}
}

// TestDeterministic: the same batch gives the same resources, byte for byte,
// and a later run (other clock) keeps every id.
func TestDeterministic(t *testing.T) {
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, err := newTransformer(t, fhirmap.Config{}).Transform(t.Context(), tc.batch)
			require.NoError(t, err)
			b, err := newTransformer(t, fhirmap.Config{}).Transform(t.Context(), tc.batch)
			require.NoError(t, err)
			require.Equal(t, len(a), len(b))
			for i := range a {
				assert.Equal(t, a[i].Key(), b[i].Key())
				assert.JSONEq(t, string(a[i].JSON), string(b[i].JSON))
			}
			later := newTransformer(t, fhirmap.Config{Now: func() time.Time { return fixedNow.Add(48 * time.Hour) }})
			c, err := later.Transform(t.Context(), tc.batch)
			require.NoError(t, err)
			for i := range a {
				assert.Equal(t, a[i].Key(), c[i].Key())
				if a[i].Type != "Provenance" {
					assert.JSONEq(t, string(a[i].JSON), string(c[i].JSON), "only Provenance.recorded may follow the clock")
				}
			}
		})
	}
}

func TestProvidersNeverCollide(t *testing.T) {
	s := ohx.Sample{Type: ohx.HeartRate, Start: fixedNow, End: fixedNow, Value: 60, Unit: "/min", RecordID: "42"}
	w, g := withingsLink(), googleLink()
	g.ExternalUserID = w.ExternalUserID
	sw, sg := s, s
	sw.Provider, sg.Provider = "withings", "fitbit"
	assert.NotEqual(t, fhirmap.SampleID(&w, &sw), fhirmap.SampleID(&g, &sg))
	tr := newTransformer(t, fhirmap.Config{})
	rw, err := tr.Sample(&w, &sw)
	require.NoError(t, err)
	rg, err := tr.Sample(&g, &sg)
	require.NoError(t, err)
	assert.NotEqual(t, rw.Identifier, rg.Identifier)
	assert.True(t, strings.HasPrefix(rw.Identifier, "urn:ohx:withings:observation|"))
	assert.True(t, strings.HasPrefix(rg.Identifier, "urn:ohx:fitbit:observation|"))
}

func TestConfig(t *testing.T) {
	for _, base := range []string{"urn:ohx:", "ohx", "urn:o hx", "https://ehr.example/fhir/", "urn:ohx?x"} {
		_, err := fhirmap.New(fhirmap.Config{BaseURI: base})
		assert.Error(t, err, base)
	}
	_, err := fhirmap.New(fhirmap.Config{Organization: "Patient/1"})
	assert.Error(t, err)

	tr := newTransformer(t, fhirmap.Config{BaseURI: "https://ehr.example/ns/ohx", Organization: "Organization/acme"})
	link := withingsLink()
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: withingsSamples()[:1]})
	require.NoError(t, err)
	require.Len(t, rs, 2, "observation and provenance; no software Device when an Organization is the agent")
	assert.True(t, strings.HasPrefix(rs[0].Identifier, "https://ehr.example/ns/ohx:withings:observation|"))
	assert.Contains(t, string(rs[0].JSON), `"source":"https://ehr.example/ns/ohx:withings"`)
	assert.Contains(t, string(rs[1].JSON), `"who":{"reference":"Organization/acme"}`)
	for _, r := range rs {
		assert.NoError(t, validate.Resource(r.JSON))
	}

	link.Patient = ""
	_, err = tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: withingsSamples()[:1]})
	assert.ErrorIs(t, err, fhirmap.ErrNoPatient)
}

func TestCancelledContext(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := tr.Transform(ctx, ohx.Batch{Link: withingsLink(), Samples: withingsSamples()})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEnteredInError(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	var all []ohx.Resource
	for _, tc := range conformanceCases() {
		rs, err := tr.Transform(t.Context(), tc.batch)
		require.NoError(t, err)
		all = append(all, rs...)
	}
	done := map[string]bool{}
	for _, r := range all {
		if done[r.Type] {
			continue
		}
		out, err := fhirmap.EnteredInError(r)
		if r.Type == "Provenance" {
			assert.Error(t, err)
			continue
		}
		require.NoError(t, err, r.Type)
		done[r.Type] = true
		assert.Equal(t, r.Key(), out.Key())
		assert.NoError(t, validate.Resource(out.JSON))
		assert.Contains(t, string(out.JSON), "entered-in-error")
		assert.NotContains(t, string(out.JSON), `"status":"final"`)
	}
	assert.Len(t, done, 4)
}

// TestMappingDetails checks the meaning of the mapping, not only its validity.
func TestMappingDetails(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: withingsSamples()})
	require.NoError(t, err)
	byID := map[string]map[string]any{}
	for _, r := range rs {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.JSON, &m))
		byID[r.Key()] = m
	}
	samples := withingsSamples()
	obs := func(i int) map[string]any {
		return byID["Observation/"+fhirmap.SampleID(&link, &samples[i])]
	}

	weight := obs(0)
	assert.Equal(t, "final", weight["status"])
	assert.Equal(t, "2026-11-20T07:42:13+01:00", weight["effectiveDateTime"], "local time with the original offset")
	assert.Equal(t, map[string]any{"reference": "Patient/p-1001"}, weight["subject"])
	assert.Equal(t, map[string]any{"reference": "Device/" + fhirmap.DeviceID("withings", withingsScale)}, weight["device"])
	assert.Equal(t, map[string]any{"value": 72.45, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}, weight["valueQuantity"])
	assert.Equal(t, "urn:ohx:withings", weight["meta"].(map[string]any)["source"])
	assert.Equal(t, "final", obs(9)["status"], "a provider's modified time does not make a first delivery amended")
	assert.NotContains(t, obs(10), "performer", "a device that may be shared names no performer")
	assert.Equal(t, []any{map[string]any{"reference": "Patient/p-1001"}}, weight["performer"], "self-measured: the patient")
	assert.Equal(t, []any{map[string]any{"reference": "Patient/p-1001"}}, obs(11)["performer"], "self-entered: the patient")

	spo2 := obs(13)
	codes := spo2["code"].(map[string]any)["coding"].([]any)
	require.Len(t, codes, 2)
	assert.Equal(t, "2708-6", codes[0].(map[string]any)["code"])
	assert.Equal(t, "59408-5", codes[1].(map[string]any)["code"])

	bp := obs(15)
	assert.NotContains(t, bp, "valueQuantity")
	comps := bp["component"].([]any)
	require.Len(t, comps, 2)
	assert.Equal(t, "8480-6", comps[0].(map[string]any)["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
	assert.Equal(t, "mm[Hg]", comps[1].(map[string]any)["valueQuantity"].(map[string]any)["code"])

	steps := obs(18)
	assert.Equal(t, map[string]any{"start": "2026-11-20T11:15:00+01:00", "end": "2026-11-20T11:16:00+01:00"}, steps["effectivePeriod"])

	sleep := obs(19)
	assert.Equal(t, 23820.0, sleep["valueQuantity"].(map[string]any)["value"])
	assert.Len(t, sleep["component"], 5)

	// ECG: full waveform, origin 0 mV, factor to mV, interval 1000/Hz ms.
	ecg := obs(20)
	sd := ecg["valueSampledData"].(map[string]any)
	assert.Equal(t, map[string]any{"value": 0.0, "unit": "mV", "system": "http://unitsofmeasure.org", "code": "mV"}, sd["origin"])
	assert.Equal(t, "ms", sd["intervalUnit"])
	assert.InDelta(t, 1000.0/300, sd["interval"], 1e-12)
	assert.Equal(t, 0.001, sd["factor"])
	assert.Equal(t, 1.0, sd["dimensions"])
	assert.Len(t, strings.Fields(sd["data"].(string)), 9000, "the waveform is never truncated")
	assert.Equal(t, map[string]any{"start": "2026-11-20T19:05:07+01:00", "end": "2026-11-20T19:05:37+01:00"}, ecg["effectivePeriod"])
	hr := obs(21)
	assert.Equal(t, []any{map[string]any{"reference": "Observation/" + fhirmap.SampleID(&link, &samples[20])}}, hr["derivedFrom"])

	for i, want := range []string{"426783006", "164889003", "ecg-inconclusive"} {
		ecgID := fhirmap.SampleID(&link, &samples[20+2*i])
		rep := byID["DiagnosticReport/"+fhirmap.ECGReportID(ecgID)]
		require.NotNil(t, rep, "report %d", i)
		assert.Equal(t, "11524-6", rep["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
		assert.Equal(t, []any{
			map[string]any{"reference": "Observation/" + ecgID},
			map[string]any{"reference": "Observation/" + fhirmap.SampleID(&link, &samples[21+2*i])},
		}, rep["result"])
		cc := rep["conclusionCode"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
		assert.Equal(t, want, cc["code"])
		if want == "ecg-inconclusive" {
			assert.Equal(t, "urn:ohx:code", cc["system"])
			assert.Contains(t, rep["conclusion"], "Inconclusive")
		} else {
			assert.Equal(t, "http://snomed.info/sct", cc["system"])
		}
	}
}

func TestUnknownComponentIsKept(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := customLink()
	at := fixedNow
	s := ohx.Sample{Type: ohx.BloodPressure, Start: at, End: at, Provider: "polar-custom", Components: []ohx.Component{
		{Code: ohx.ComponentSystolic, Value: 120, Unit: "mm[Hg]"}, {Code: "mean-arterial", Value: 93, Unit: "mm[Hg]"}}}
	require.NoError(t, s.Validate())
	r, err := tr.Sample(&link, &s)
	require.NoError(t, err)
	require.NoError(t, validate.Resource(r.JSON))
	assert.Contains(t, string(r.JSON), `"code":"component-mean-arterial"`)
	assert.Contains(t, string(r.JSON), `"value":93`)
}

func TestHourlyAggregate(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	ss := hourlySamples()
	r, err := tr.Sample(&link, &ss[0])
	require.NoError(t, err)
	assert.Equal(t, fhirmap.DeterministicID("hourly", fhirmap.LinkKey(&link), "heart-rate", "2026-11-20T08:00:00Z"), r.ID)
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.JSON, &m))
	assert.Equal(t, map[string]any{"start": "2026-11-20T09:00:00+01:00", "end": "2026-11-20T10:00:00+01:00"}, m["effectivePeriod"])
	assert.Equal(t, 72.4, m["valueQuantity"].(map[string]any)["value"])
	assert.Equal(t, "average", m["method"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
	var stats []string
	for _, c := range m["component"].([]any) {
		cd := c.(map[string]any)["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
		stats = append(stats, cd["code"].(string))
	}
	assert.Equal(t, []string{"minimum", "maximum", "count", "raw-series"}, stats)

	r, err = tr.Sample(&link, &ss[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(r.JSON, &m))
	assert.Equal(t, "sum", m["method"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
	assert.Equal(t, 1843.0, m["valueQuantity"].(map[string]any)["value"])
}

func TestDevices(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	link := withingsLink()
	devs := withingsDevices()
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Devices: devs})
	require.NoError(t, err)
	var types []string
	for _, r := range rs {
		types = append(types, r.Type)
	}
	assert.Equal(t, []string{"Device", "DeviceAssociation", "Device", "DeviceAssociation", "Device", "DeviceAssociation", "Device", "Provenance"}, types)

	var dev, assoc, assoc2 map[string]any
	require.NoError(t, json.Unmarshal(rs[4].JSON, &dev))
	require.NoError(t, json.Unmarshal(rs[5].JSON, &assoc))
	require.NoError(t, json.Unmarshal(rs[3].JSON, &assoc2))
	assert.Equal(t, fhirmap.DeviceID("withings", withingsWatch), dev["id"])
	assert.Equal(t, "ScanWatch", dev["displayName"])
	assert.Equal(t, []any{map[string]any{"value": "ScanWatch", "type": "registered-name", "display": true}}, dev["name"])
	assert.Equal(t, "93", dev["modelNumber"])
	assert.Equal(t, "2.11.4", dev["version"].([]any)[0].(map[string]any)["value"])
	assert.Equal(t, "%", dev["property"].([]any)[0].(map[string]any)["valueQuantity"].(map[string]any)["code"])
	assert.NotContains(t, dev, "patient")
	assert.Equal(t, map[string]any{"start": "2025-01-14T19:03:00Z"}, assoc["period"], "first use of the device")
	assert.NotContains(t, assoc2, "period", "no first-use time: no period, never the sync time")
	assert.Equal(t, "attached", assoc["status"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
	assert.Equal(t, map[string]any{"reference": "Device/" + dev["id"].(string)}, assoc["device"])
}

func TestFastPathEqualsGeneric(t *testing.T) {
	for _, logical := range []bool{false, true} {
		fastPathEqualsGeneric(t, newTransformer(t, fhirmap.Config{LogicalReferences: logical}))
	}
}

func fastPathEqualsGeneric(t *testing.T, tr *fhirmap.Transformer) {
	var cases []struct {
		link ohx.Link
		s    ohx.Sample
	}
	add := func(l ohx.Link, ss []ohx.Sample) {
		for _, s := range ss {
			cases = append(cases, struct {
				link ohx.Link
				s    ohx.Sample
			}{l, s})
		}
	}
	add(withingsLink(), withingsSamples())
	add(googleLink(), googleSamples())
	odd := withingsLink()
	odd.Patient = "Patient/<&>\"é"
	oddS := withingsSamples()[14]
	oddS.DeviceID, oddS.DeviceName, oddS.RecordID = "", "Ärzte <Uhr> & \"co\"", "rec\u2028x"
	oddS.Start = oddS.Start.Add(123456789 * time.Nanosecond)
	oddS.End = oddS.Start
	oddS.Value = 1e21
	oddS.ProviderType = "type <&> \"é\""
	typed := withingsSamples()[17]
	typed.ProviderType = "11"
	add(odd, []ohx.Sample{oddS, typed})
	n := 0
	for _, c := range cases {
		info, _ := c.s.Type.Info()
		if info.Shape != ohx.ShapeQuantity {
			continue
		}
		fast, err := tr.Sample(&c.link, &c.s)
		require.NoError(t, err)
		o, err := tr.Observation(&c.link, &c.s)
		require.NoError(t, err)
		generic, err := o.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(generic), string(fast.JSON), "%s", c.s.Type)
		assert.Equal(t, o.ID, fast.ID)
		n++
	}
	assert.GreaterOrEqual(t, n, 25)
}

func TestReadmeMappingTable(t *testing.T) {
	const start, end = "<!-- mapping-table:start -->", "<!-- mapping-table:end -->"
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(data)
	want := "\n" + fhirmap.MappingTable()
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if *update {
		if i < 0 || j < i {
			readme = strings.TrimRight(readme, "\n") + "\n\n## FHIR R5 mapping\n\nGenerated from `fhirmap.MappingTable` " +
				"(regenerate with `go test ./fhirmap -run TestReadmeMappingTable -update`).\n\n" + start + end + "\n"
			i, j = strings.Index(readme, start), strings.Index(readme, end)
		}
		readme = readme[:i+len(start)] + want + readme[j:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	require.True(t, i >= 0 && j > i, "README.md lacks the markers %s … %s; regenerate with: go test ./fhirmap -run TestReadmeMappingTable -update", start, end)
	assert.Equal(t, want, readme[i+len(start):j], "README mapping table is stale; regenerate with: go test ./fhirmap -run TestReadmeMappingTable -update")
}

func TestMappingTableCoversCatalog(t *testing.T) {
	md := fhirmap.MappingTable()
	assert.NotContains(t, md, "unmapped")
	for _, info := range ohx.DataTypes() {
		assert.Contains(t, md, "| `"+string(info.Type)+"` |")
	}
	lines := strings.Split(strings.TrimSpace(md), "\n")
	assert.True(t, slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "LOINC 8867-4 Heart rate") }))
}

// TestConcurrentUse runs one Transformer from several goroutines (run with
// -race): the caches of the hot path are shared.
func TestConcurrentUse(t *testing.T) {
	tr := newTransformer(t, fhirmap.Config{})
	want, err := tr.Transform(t.Context(), ohx.Batch{Link: googleLink(), Samples: googleSamples()})
	require.NoError(t, err)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := tr.Transform(t.Context(), ohx.Batch{Link: googleLink(), Samples: googleSamples()})
			if err == nil && len(got) != len(want) {
				err = assert.AnError
			}
			errs <- err
		}()
	}
	for range 8 {
		assert.NoError(t, <-errs)
	}
}
