package fhirmap_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, cfg := range []struct {
		name string
		cfg  fhirmap.Config
	}{
		{"literal references", fhirmap.Config{Version: ohx.R4}},
		{"logical references", fhirmap.Config{Version: ohx.R4, LogicalReferences: true}},
		{"organization agent", fhirmap.Config{Version: ohx.R4, Organization: "Organization/acme"}},
	} {
		t.Run(cfg.name, func(t *testing.T) { conformanceR4(t, cfg.cfg) })
	}
}

func conformanceR4(t *testing.T, cfg fhirmap.Config) {
	tr := newTransformer(t, cfg)
	typesSeen := map[ohx.DataType]bool{}
	resourceTypes := map[string]bool{}
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := tr.Transform(t.Context(), tc.batch)
			require.NoError(t, err)
			require.NotEmpty(t, rs)
			for _, r := range rs {
				assert.Equal(t, ohx.R4, r.FHIRVersion, "%s", r.Key())
				assert.NoError(t, validate.ResourceVersion(ohx.R4, r.JSON), "%s", r.Key())
				resourceTypes[r.Type] = true
				if r.DataType != "" {
					typesSeen[r.DataType] = true
				}
				var m map[string]any
				require.NoError(t, json.Unmarshal(r.JSON, &m))
				assert.Equal(t, r.Type, m["resourceType"])
				assert.Equal(t, r.ID, m["id"])
				assert.True(t, strings.HasPrefix(string(r.JSON), `{"resourceType":"`+r.Type+`"`), "resourceType first")
			}
			for _, conditional := range []bool{false, true} {
				data, err := transaction(t, rs, conditional).MarshalJSON()
				require.NoError(t, err)
				assert.NoError(t, validate.BundleVersion(ohx.R4, data))
			}
		})
	}
	for _, info := range ohx.DataTypes() {
		assert.True(t, typesSeen[info.Type], "data type %s is not covered", info.Type)
	}
	for _, rt := range []string{"Observation", "DiagnosticReport", "Device", "Provenance"} {
		assert.True(t, resourceTypes[rt], "resource type %s not emitted", rt)
	}
	assert.False(t, resourceTypes["DeviceAssociation"], "R4 has no DeviceAssociation")
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
		"MDC 131329 in `urn:iso:std:iso:11073:10101`",
		"`Device.patient`",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "| `steps` |", "steps is the same in both versions")
}
