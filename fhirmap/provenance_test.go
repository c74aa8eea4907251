package fhirmap_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

type provenanceJSON struct {
	ID     string `json:"id"`
	Target []struct {
		Reference string `json:"reference"`
	} `json:"target"`
	Agent []struct {
		Type struct {
			Coding []struct {
				System, Code, Display string
			} `json:"coding"`
		} `json:"type"`
		Who struct {
			Reference  string `json:"reference"`
			Type       string `json:"type"`
			Identifier struct {
				System, Value string
			} `json:"identifier"`
			Display string `json:"display"`
		} `json:"who"`
	} `json:"agent"`
	Entity []struct {
		Role string `json:"role"`
		What struct {
			Identifier struct {
				System, Value string
			} `json:"identifier"`
		} `json:"what"`
	} `json:"entity"`
}

func provenances(t *testing.T, rs []ohx.Resource) map[string]provenanceJSON {
	t.Helper()
	out := map[string]provenanceJSON{}
	for _, r := range rs {
		if r.Type != "Provenance" {
			continue
		}
		require.NoError(t, validate.Resource(r.JSON))
		var p provenanceJSON
		require.NoError(t, json.Unmarshal(r.JSON, &p))
		out[r.ID] = p
	}
	return out
}

// TestProvenanceIDFollowsContent: the id of a batch's Provenance follows from
// its targets and their content only, not from the fetch window, the trigger
// or the clock, so a re-sync of unchanged data adds no Provenance; changed
// data gets one of its own.
func TestProvenanceIDFollowsContent(t *testing.T) {
	link := withingsLink()
	batch := ohx.Batch{Link: link, Samples: withingsSamples()[:6], Devices: withingsDevices(),
		Window: ohx.Window{Start: fixedNow.Add(-24 * time.Hour), End: fixedNow}, Trigger: ohx.TriggerInitial}
	first, err := newTransformer(t, fhirmap.Config{}).Transform(t.Context(), batch)
	require.NoError(t, err)
	want := provenances(t, first)
	require.NotEmpty(t, want)

	again := batch
	again.Window = ohx.Window{Start: fixedNow.Add(-2 * time.Hour), End: fixedNow.Add(time.Hour)}
	again.Trigger = ohx.TriggerPush
	later := newTransformer(t, fhirmap.Config{Now: func() time.Time { return fixedNow.Add(72 * time.Hour) }})
	second, err := later.Transform(t.Context(), again)
	require.NoError(t, err)
	assert.Equal(t, keysOf(want), keysOf(provenances(t, second)), "another window, trigger and clock: the same Provenance ids")

	changed := batch
	changed.Samples = append([]ohx.Sample(nil), batch.Samples...)
	changed.Samples[0].Value++
	third, err := newTransformer(t, fhirmap.Config{}).Transform(t.Context(), changed)
	require.NoError(t, err)
	got := provenances(t, third)
	assert.Len(t, got, len(want))
	assert.NotEqual(t, keysOf(want), keysOf(got), "a changed value changes its Provenance's id")

	// The exported ProvenanceID computes the same id from the targets.
	for _, kind := range []string{"device", string(batch.Samples[0].Type)} {
		var targets []ohx.Resource
		for _, r := range first {
			switch {
			case kind == "device" && (r.Type == "DeviceAssociation" || r.Type == "Device" && r.ID != newTransformer(t, fhirmap.Config{}).SoftwareDeviceID()):
				targets = append(targets, r)
			case r.DataType == ohx.DataType(kind):
				targets = append(targets, r)
			}
		}
		id := fhirmap.ProvenanceID(fhirmap.LinkKey(&link), kind, targets)
		assert.Contains(t, want, id, "ProvenanceID of the %s targets", kind)
	}
}

func keysOf(m map[string]provenanceJSON) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestProvenanceAgentsAndEntities: ohx is the assembler, the measuring
// devices the authors and the provider the custodian; the entities are the
// provider's records, never a digest of ohx's own output.
func TestProvenanceAgentsAndEntities(t *testing.T) {
	link := withingsLink()
	var withDevice ohx.Sample
	for _, s := range withingsSamples() {
		if s.DeviceID != "" && s.RecordID != "" {
			withDevice = s
			break
		}
	}
	require.NotEmpty(t, withDevice.DeviceID, "fixture: a Withings sample that names its device")
	tr := newTransformer(t, fhirmap.Config{})
	rs, err := tr.Transform(t.Context(), ohx.Batch{Link: link, Samples: []ohx.Sample{withDevice}})
	require.NoError(t, err)
	ps := provenances(t, rs)
	require.Len(t, ps, 1)
	for _, p := range ps {
		codes := map[string]int{}
		for _, a := range p.Agent {
			require.Len(t, a.Type.Coding, 1)
			c := a.Type.Coding[0]
			assert.Equal(t, "http://terminology.hl7.org/CodeSystem/provenance-participant-type", c.System)
			codes[c.Code]++
			switch c.Code {
			case "assembler":
				assert.Equal(t, "Device/"+tr.SoftwareDeviceID(), a.Who.Reference)
			case "author":
				assert.Equal(t, "Device/"+fhirmap.DeviceID("withings", withDevice.DeviceID), a.Who.Reference)
			case "custodian":
				assert.Equal(t, "Organization", a.Who.Type)
				assert.Equal(t, "urn:ohx:provider", a.Who.Identifier.System)
				assert.Equal(t, "withings", a.Who.Identifier.Value)
				assert.Equal(t, "Withings", a.Who.Display)
			default:
				t.Errorf("unexpected agent type %s", c.Code)
			}
		}
		assert.Equal(t, map[string]int{"assembler": 1, "author": 1, "custodian": 1}, codes)
		require.Len(t, p.Entity, 1)
		assert.Equal(t, "source", p.Entity[0].Role)
		assert.Equal(t, "urn:ohx:withings:record", p.Entity[0].What.Identifier.System)
		assert.Equal(t, withDevice.RecordID, p.Entity[0].What.Identifier.Value)
	}
	for _, r := range rs {
		assert.NotContains(t, string(r.JSON), "sha256", r.Key())
	}
}
